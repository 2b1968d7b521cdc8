"""Pool2d: max or average pooling, NHWC. Average counts padded zeros (PyTorch's default,
count_include_pad=True); ResNet's global pool has no padding, where both agree."""
from __future__ import annotations

import enum

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ait.ir import IntImm, Op, Tensor
from ait.ir.shape import Dim
from ait.ops.conv2d.op import _pair, conv_out_size


class PoolKind(enum.Enum):
    MAX = "max"
    AVG = "avg"


class Pool2d(Op):
    kind = "pool2d"

    def __init__(self, pool: PoolKind, kernel_size, stride, pad=0, name: str | None = None):
        super().__init__(name)
        self.pool = pool
        self.kernel = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride if stride is not None else kernel_size, "stride")
        self.pad = _pair(pad, "pad")
        if min(self.kernel) < 1 or min(self.stride) < 1 or min(self.pad) < 0:
            raise ValueError(f"{pool.value}_pool2d: bad kernel/stride/pad")
        if self.pad[0] * 2 > self.kernel[0] or self.pad[1] * 2 > self.kernel[1]:
            raise ValueError(f"{pool.value}_pool2d: pad must be at most half the kernel size")

    def describe(self) -> str:
        return f"{self.pool.value}, kernel={self.kernel}, stride={self.stride}, pad={self.pad}"

    def flops(self, shape_of) -> int:  # one compare or add per window element
        n, p, q, c = shape_of(self.outputs[0])
        return n * p * q * c * self.kernel[0] * self.kernel[1]

    def infer_shapes(self) -> list[list[Dim]]:
        x = self.inputs[0]
        if x.rank != 4:
            raise self.shape_error(x, "rank 4 NHWC [N, H, W, C]")
        n, h, w, c = x.shape()
        if not (isinstance(h, IntImm) and isinstance(w, IntImm) and isinstance(c, IntImm)):
            raise self.shape_error(x, "static H, W, C (only the batch may be dynamic)")
        p = conv_out_size(h.value, self.kernel[0], self.pad[0], self.stride[0], 1)
        q = conv_out_size(w.value, self.kernel[1], self.pad[1], self.stride[1], 1)
        if p < 1 or q < 1:
            raise self.shape_error(x, f"H, W at least the kernel size {self.kernel}")
        return [[n, IntImm(p), IntImm(q), c]]

    def reference(self, x):
        x = np.asarray(x, dtype=np.float32)
        fill = -np.inf if self.pool is PoolKind.MAX else 0.0
        ph, pw = self.pad
        xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=fill)
        win = sliding_window_view(xp, self.kernel, axis=(1, 2))
        win = win[:, :: self.stride[0], :: self.stride[1]]
        y = win.max(axis=(-2, -1)) if self.pool is PoolKind.MAX else win.mean(axis=(-2, -1))
        return [y.astype(np.float32)]


def max_pool2d(x: Tensor, kernel_size, stride=None, pad=0) -> Tensor:
    return Pool2d(PoolKind.MAX, kernel_size, stride, pad)._connect([x])[0]


def avg_pool2d(x: Tensor, kernel_size, stride=None, pad=0) -> Tensor:
    return Pool2d(PoolKind.AVG, kernel_size, stride, pad)._connect([x])[0]
