"""Reshape: a view (no data movement). Dynamic dims must pass through unchanged; one -1 is
inferred from the static remainder."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ait.ir import IntImm, IntVar, Op, Tensor
from ait.ir.shape import Dim, as_dim, shape_str


class Reshape(Op):
    kind = "reshape"
    is_view = True  # output aliases the input's storage (memory planning relies on it)

    def __init__(self, shape: Sequence[int | Dim], name: str | None = None):
        super().__init__(name)
        self.target = list(shape)

    def describe(self) -> str:
        return f"shape={[str(d) for d in self.target]}"

    def infer_shapes(self) -> list[list[Dim]]:
        x = self.inputs[0]
        src = x.shape()
        src_vars = [d for d in src if isinstance(d, IntVar)]
        dst_vars = [d for d in self.target if isinstance(d, IntVar)]
        if [id(d) for d in src_vars] != [id(d) for d in dst_vars]:
            raise self.shape_error(x, f"the same dynamic dims as the target {self.describe()}")
        src_static = math.prod(d.value for d in src if isinstance(d, IntImm))
        wild = [i for i, d in enumerate(self.target) if isinstance(d, int) and d == -1]
        if len(wild) > 1:
            raise ValueError(f"reshape: at most one -1 in {self.target}")
        known = math.prod(as_dim(d).value for i, d in enumerate(self.target)
                          if not isinstance(d, IntVar) and i not in wild)
        out = [d if isinstance(d, IntVar) else as_dim(d) if i not in wild else None
               for i, d in enumerate(self.target)]
        if wild:
            if known == 0 or src_static % known:
                raise self.shape_error(x, f"a size divisible by {known} for {self.describe()}")
            out[wild[0]] = IntImm(src_static // known)
        elif known != src_static:
            raise self.shape_error(x, f"{known} static elements per dynamic index for "
                                      f"{shape_str(out)}")
        return [out]

    def reference(self, x):
        # Dynamic dims pass through in order: read their run-time sizes off the input.
        sizes = {id(d): x.shape[i] for i, d in enumerate(self.inputs[0].shape())
                 if isinstance(d, IntVar)}
        out = [sizes[id(d)] if isinstance(d, IntVar) else d.value for d in self.outputs[0].shape()]
        return [np.asarray(x, np.float32).reshape(out)]


def reshape(x: Tensor, shape: Sequence[int | Dim]) -> Tensor:
    return Reshape(shape)._connect([x])[0]


def flatten(x: Tensor, start_dim: int = 1, end_dim: int = -1) -> Tensor:
    shape = x.shape()
    n = len(shape)
    s, e = start_dim % n, end_dim % n
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} is after end_dim {end_dim}")
    middle = shape[s:e + 1]
    if any(isinstance(d, IntVar) for d in middle) and len(middle) > 1:
        raise ValueError(f"flatten: cannot merge a dynamic dim in {shape_str(shape)}")
    merged = middle[0] if len(middle) == 1 else IntImm(math.prod(d.value for d in middle))
    return reshape(x, shape[:s] + [merged] + shape[e + 1:])
