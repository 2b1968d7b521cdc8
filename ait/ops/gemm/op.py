"""Gemm (gemm_rcr): y[M, N] = act(x[M, K] @ w[N, K]^T (+ bias[N])). M may be dynamic."""
from __future__ import annotations

import numpy as np

from ait.ir import IntImm, Op, Tensor
from ait.ir.shape import Dim, same_dim
from ait.ir.epilogue import Activation, Epilogue


class Gemm(Op):
    kind = "gemm_rcr"

    def __init__(self, epilogue: Epilogue | None = None, name: str | None = None):
        super().__init__(name)
        if epilogue is not None and epilogue.residual:
            raise ValueError("gemm_rcr: residual epilogues are not supported")
        self.epilogue = epilogue

    def describe(self) -> str:
        return f"epilogue={self.epilogue.tag if self.epilogue else 'none'}"

    def flops(self, shape_of) -> int:
        m, k = shape_of(self.inputs[0])
        return 2 * m * k * shape_of(self.inputs[1])[0]

    def infer_shapes(self) -> list[list[Dim]]:
        x, w = self.inputs[0], self.inputs[1]
        if x.rank != 2:
            raise self.shape_error(x, "rank 2 [M, K]")
        if w.rank != 2:
            raise self.shape_error(w, "rank 2 [N, K]")
        m, k = x.shape()
        n, wk = w.shape()
        if not (isinstance(k, IntImm) and isinstance(n, IntImm)):
            raise self.shape_error(w, "static N and K")
        if not same_dim(k, wk):
            raise self.shape_error(w, f"[N, {k}] (K must match input {x.name!r})")
        if self.epilogue is not None:
            if len(self.inputs) != 3:
                raise ValueError(f"gemm_rcr {self.name}: a bias epilogue takes x, w, bias")
            b = self.inputs[2]
            if b.rank != 1 or not same_dim(b.shape()[0], n):
                raise self.shape_error(b, f"[{n}] (bias)")
        elif len(self.inputs) != 2:
            raise ValueError(f"gemm_rcr {self.name}: without epilogue it takes x and w only")
        return [[m, n]]

    def reference(self, x, w, bias=None):
        y = np.asarray(x, np.float32) @ np.asarray(w, np.float32).T
        if self.epilogue is not None:
            y = y + bias.reshape(1, -1)
            if self.epilogue.activation is Activation.RELU:
                y = np.maximum(y, 0)
        return [y.astype(np.float32)]


def gemm_rcr(x: Tensor, w: Tensor, bias: Tensor | None = None,
             activation: Activation | None = None, name: str | None = None) -> Tensor:
    inputs = [x, w]
    epilogue = None
    if bias is not None:
        epilogue = Epilogue(activation or Activation.IDENTITY)
        inputs.append(bias)
    elif activation not in (None, Activation.IDENTITY):
        raise ValueError("gemm_rcr: an activation is fused only with a bias")
    return Gemm(epilogue, name)._connect(inputs)[0]
