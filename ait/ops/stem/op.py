"""StemConvPool: the ResNet stem as one op, space_to_depth(pad 3, 16 channels) -> 4x4/1 conv
to 64 channels with bias + ReLU -> 3x3/2 pad-1 max pool, on the raw NHWC image.

Inputs: x [N, H, W, C] (C <= 4), w the space-to-depth conv weight [64, 4, 4, 16]
(``space_to_depth.op.s2d_conv_weight`` of the 7x7 weight), bias [64]. Output
[N, Po, Qo, 64]: P = (H + 7) // 2 - 3 (the conv's rows), Po = (P - 1) // 2 + 1 (the pool's).
Made by the ``fuse_stem`` pass from that pattern; its reference composes the three ops'
references, so the fused graph means exactly what the unfused one did.
"""
from __future__ import annotations

import numpy as np

from ait.ir import IntImm, Op, Tensor
from ait.ir.epilogue import BIAS_RELU
from ait.ir.shape import Dim, same_dim
from ait.ops.conv2d.op import Conv2d, conv_out_size
from ait.ops.pool.op import Pool2d, PoolKind
from ait.ops.space_to_depth.op import SpaceToDepth, s2d_size

PAD = 3                   # the 7x7/2 conv's padding, applied by space-to-depth
S2D_CHANNELS = 16         # the s2d tensor's (and the weight's) channels
FILTER = 4                # the 4x4/1 conv over the s2d tensor
OUT_CHANNELS = 64         # what the kernel computes (every ResNet's stem)
MAX_IN_CHANNELS = S2D_CHANNELS // 4
POOL = (3, 2, 1)          # max pool kernel, stride, pad


class StemConvPool(Op):
    kind = "stem_conv_pool"

    def describe(self) -> str:
        return (f"space_to_depth pad={PAD} -> conv {FILTER}x{FILTER}/1 bias_relu "
                f"{OUT_CHANNELS} ch -> max_pool {POOL[0]}/{POOL[1]} pad={POOL[2]}")

    def flops(self, shape_of) -> int:  # the real 7x7xC conv, not the kernel's zero taps
        n, _, _, c = shape_of(self.inputs[0])
        p, q = self.conv_size(*shape_of(self.inputs[0])[1:3])
        return 2 * n * p * q * OUT_CHANNELS * 7 * 7 * c

    @staticmethod
    def conv_size(h: int, w: int) -> tuple[int, int]:
        return s2d_size(h, PAD) - FILTER + 1, s2d_size(w, PAD) - FILTER + 1

    def infer_shapes(self) -> list[list[Dim]]:
        if len(self.inputs) != 3:
            raise ValueError(f"{self.kind}: takes x, w and bias, got {len(self.inputs)} inputs")
        x, w, b = self.inputs
        if x.rank != 4 or not all(isinstance(d, IntImm) for d in x.shape()[1:]):
            raise self.shape_error(x, "NHWC with static H, W, C (only the batch may be dynamic)")
        n, h, wd, c = x.shape()
        if not 1 <= c.value <= MAX_IN_CHANNELS:
            raise self.shape_error(x, f"1..{MAX_IN_CHANNELS} channels (4C must fit the "
                                      f"{S2D_CHANNELS} space-to-depth channels)")
        want_w = [OUT_CHANNELS, FILTER, FILTER, S2D_CHANNELS]
        if w.rank != 4 or [d.value if isinstance(d, IntImm) else None
                           for d in w.shape()] != want_w:
            raise self.shape_error(w, f"{want_w} (the stem kernel computes {OUT_CHANNELS} "
                                      f"output channels from a {FILTER}x{FILTER} s2d filter)")
        if b.rank != 1 or not same_dim(b.shape()[0], IntImm(OUT_CHANNELS)):
            raise self.shape_error(b, f"[{OUT_CHANNELS}] (bias)")
        p, q = self.conv_size(h.value, wd.value)
        k, s, pad = POOL
        return [[n, IntImm(conv_out_size(p, k, pad, s, 1)), IntImm(conv_out_size(q, k, pad, s, 1)),
                 IntImm(OUT_CHANNELS)]]

    def reference(self, x, w, bias):
        y = SpaceToDepth(PAD, S2D_CHANNELS).reference(x)[0]
        y = Conv2d(epilogue=BIAS_RELU).reference(y, w, bias)[0]
        return Pool2d(PoolKind.MAX, POOL[0], POOL[1], POOL[2]).reference(y)


def stem_conv_pool(x: Tensor, w: Tensor, bias: Tensor) -> Tensor:
    return StemConvPool()._connect([x, w, bias])[0]
