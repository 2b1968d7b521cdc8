"""Elementwise add (numpy broadcasting of trailing dims) and relu."""
from __future__ import annotations

import numpy as np

from ait.ir import Op, Tensor
from ait.ir.tensor import OPERATORS
from ait.ir.shape import Dim, IntImm, same_dim, shape_str


class Add(Op):
    kind = "add"

    def infer_shapes(self) -> list[list[Dim]]:
        a, b = self.inputs
        sa, sb = a.shape(), b.shape()
        big, small = (sa, sb) if len(sa) >= len(sb) else (sb, sa)
        out = list(big)
        offset = len(big) - len(small)
        for i, d in enumerate(small):
            j = i + offset
            if same_dim(d, big[j]) or d == IntImm(1):
                continue
            if big[j] == IntImm(1):
                out[j] = d
                continue
            raise self.shape_error(b if small is sb else a,
                                   f"a shape broadcastable to {shape_str(big)}")
        return [out]

    def flops(self, shape_of) -> int:
        return int(np.prod(shape_of(self.outputs[0]), dtype=np.int64))

    def reference(self, a, b):
        return [(np.asarray(a, np.float32) + np.asarray(b, np.float32)).astype(np.float32)]


class Relu(Op):
    kind = "relu"

    def infer_shapes(self) -> list[list[Dim]]:
        return [self.inputs[0].shape()]

    def flops(self, shape_of) -> int:
        return int(np.prod(shape_of(self.outputs[0]), dtype=np.int64))

    def reference(self, x):
        return [np.maximum(np.asarray(x, np.float32), 0)]


def add(a: Tensor, b: Tensor) -> Tensor:
    return Add()._connect([a, b])[0]


def relu(x: Tensor) -> Tensor:
    return Relu()._connect([x])[0]


OPERATORS["add"] = add  # Tensor.__add__
