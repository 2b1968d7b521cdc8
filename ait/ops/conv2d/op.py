"""Conv2d: shape rule and construction.

One op covers plain conv and every fused variant; ``epilogue`` says what follows the
accumulation (None: nothing, not even a bias). Inputs: x, w[, bias][, residual].
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ait.ir import IntImm, Op, Tensor
from ait.ir.shape import Dim, same_dim, shape_str
from ait.ir.epilogue import Activation, Epilogue

# input channel counts served by CUTLASS FixedChannels kernels: the iterator reads a pixel's
# C channels as one vector (fp16: 4, 8 or 16 bytes), so C is the A alignment (cutlass2x)
FEW_CHANNELS = (2, 4, 8)


def _pair(v: int | Sequence[int], what: str) -> tuple[int, int]:
    if isinstance(v, int):
        v = (v, v)
    try:
        v = tuple(v)
    except TypeError:  # 2.5, None: not iterable
        v = (v,)
    if len(v) != 2 or not all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        raise ValueError(f"conv2d: {what} must be an int or a pair of ints, got {v!r}")
    return v  # type: ignore[return-value]


def conv_out_size(size: int, k: int, pad: int, stride: int, dilation: int) -> int:
    return (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1


class Conv2d(Op):
    kind = "conv2d"

    def __init__(self, stride=1, pad=0, dilation=1, epilogue: Epilogue | None = None,
                 few_channels: bool = False, name: str | None = None):
        super().__init__(name)
        self.stride = _pair(stride, "stride")
        self.pad = _pair(pad, "pad")
        self.dilation = _pair(dilation, "dilation")
        if min(self.stride) < 1 or min(self.dilation) < 1 or min(self.pad) < 0:
            raise ValueError(f"conv2d: bad stride/pad/dilation "
                             f"{self.stride}/{self.pad}/{self.dilation}")
        self.epilogue = epilogue
        self.few_channels = few_channels

    # inputs by role
    @property
    def x(self) -> Tensor:
        return self.inputs[0]

    @property
    def w(self) -> Tensor:
        return self.inputs[1]

    @property
    def bias(self) -> Tensor | None:
        return self.inputs[2] if self.epilogue is not None else None

    @property
    def residual(self) -> Tensor | None:
        return self.inputs[3] if self.epilogue is not None and self.epilogue.residual else None

    def describe(self) -> str:
        ep = self.epilogue.tag if self.epilogue else "none"
        few = ", few_channels" if self.few_channels else ""
        return (f"stride={self.stride}, pad={self.pad}, dilation={self.dilation}, "
                f"epilogue={ep}{few}")

    def flops(self, shape_of) -> int:
        n, p, q, k = shape_of(self.outputs[0])
        _, r, s, c = shape_of(self.w)
        return 2 * n * p * q * k * r * s * c

    def infer_shapes(self) -> list[list[Dim]]:
        x, w = self.x, self.w
        if x.rank != 4:
            raise self.shape_error(x, "rank 4 NHWC [N, H, W, C]")
        if w.rank != 4:
            raise self.shape_error(w, "rank 4 OHWI [K, R, S, C]")
        n, h, wd, c = x.shape()
        k, r, s, wc = w.shape()
        for d, t, what in ((h, x, "H"), (wd, x, "W"), (c, x, "C"), (k, w, "K"), (r, w, "R"),
                           (s, w, "S"), (wc, w, "C")):
            if not isinstance(d, IntImm):
                raise self.shape_error(t, f"a static {what} (only the batch may be dynamic)")
        if wc.value != c.value:
            raise self.shape_error(w, f"[K, R, S, {c.value}] (C must match input {x.name!r})")
        if self.few_channels and c.value not in FEW_CHANNELS:
            raise self.shape_error(x, f"C in {FEW_CHANNELS} for a few-channels conv")
        p = conv_out_size(h.value, r.value, self.pad[0], self.stride[0], self.dilation[0])
        q = conv_out_size(wd.value, s.value, self.pad[1], self.stride[1], self.dilation[1])
        if p < 1 or q < 1:
            raise self.shape_error(x, f"H, W large enough for a {r.value}x{s.value} filter")
        out = [n, IntImm(p), IntImm(q), k]
        if self.epilogue is not None:
            n_expected = 4 if self.epilogue.residual else 3
            if len(self.inputs) != n_expected:
                raise ValueError(f"conv2d {self.name}: epilogue {self.epilogue.tag} takes "
                                 f"{n_expected} inputs, got {len(self.inputs)}")
            b = self.inputs[2]
            if b.rank != 1 or not same_dim(b.shape()[0], k):
                raise self.shape_error(b, f"[{k.value}] (bias)")
            if self.epilogue.residual:
                res = self.inputs[3]
                rs = res.shape()
                if res.rank != 4 or not all(same_dim(a, e) for a, e in zip(rs, out)):
                    raise self.shape_error(res, f"{shape_str(out)} (residual = conv output)")
        elif len(self.inputs) != 2:
            raise ValueError(f"conv2d {self.name}: a conv without epilogue takes x and w only")
        return [out]

    def reference(self, x, w, bias=None, residual=None):
        from ait.ops.conv2d.reference import conv2d_nhwc

        y = conv2d_nhwc(x, w, self.stride, self.pad, self.dilation)
        if self.epilogue is not None:
            y = y + bias.reshape(1, 1, 1, -1)
            if self.epilogue.residual:
                y = y + residual
            if self.epilogue.activation is Activation.RELU:
                y = np.maximum(y, 0)
        return [y.astype(np.float32)]


def conv2d(x: Tensor, w: Tensor, bias: Tensor | None = None, residual: Tensor | None = None,
           stride=1, pad=0, dilation=1, activation: Activation | None = None,
           few_channels: bool = False, name: str | None = None) -> Tensor:
    """Functional conv. With a bias (or residual/activation) it is a fused conv."""
    if bias is None and (residual is not None or activation not in (None, Activation.IDENTITY)):
        raise ValueError("conv2d: residual add and activation are fused only with a bias")
    inputs = [x, w]
    epilogue = None
    if bias is not None:
        epilogue = Epilogue(activation or Activation.IDENTITY, residual is not None)
        inputs.append(bias)
        if residual is not None:
            inputs.append(residual)
    op = Conv2d(stride, pad, dilation, epilogue, few_channels, name)
    return op._connect(inputs)[0]
