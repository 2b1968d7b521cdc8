"""Op base class. Each op family subclasses it with typed attributes, a shape rule and a
numpy reference (the executable definition of its semantics)."""
from __future__ import annotations

import copy
import itertools
from typing import ClassVar, Sequence

import numpy as np

from ait.ir.errors import ShapeError
from ait.ir.shape import Dim, shape_str
from ait.ir.tensor import DTYPE_BYTES, Tensor

_ids = itertools.count()


class Op:
    """A node of the graph. Subclasses set ``kind`` and implement ``infer_shapes``/``reference``."""

    kind: ClassVar[str] = "op"

    def __init__(self, name: str | None = None):
        self.name = name
        self.inputs: list[Tensor] = []
        self.outputs: list[Tensor] = []
        self._uid = next(_ids)

    # -- graph building ------------------------------------------------------------------
    def _connect(self, inputs: Sequence[Tensor], out_dtype: str | None = None) -> list[Tensor]:
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"{self.kind}: input {i} must be an ait Tensor, "
                                f"got {type(t).__name__}")
        self.inputs = list(inputs)
        shapes = self.infer_shapes()
        dtype = out_dtype or self.inputs[0].dtype
        self.outputs = [Tensor(s, dtype=dtype) for s in shapes]
        for t in self.inputs:
            t.dst_ops.append(self)
        for t in self.outputs:
            t.src_op = self
        return self.outputs

    def detached_copy(self) -> "Op":
        """The same op (class, name, attributes) as a new node: a fresh uid and no inputs or
        outputs yet. Attribute values are shared, so a pass rebinds them rather than change
        them in place. What ``ait.passes.copy_graph`` builds the compiler's graph from."""
        new = copy.copy(self)
        new._uid = next(_ids)
        new.inputs, new.outputs = [], []
        return new

    def replace_input(self, old: Tensor, new: Tensor) -> None:
        self.inputs = [new if t is old else t for t in self.inputs]
        if self in old.dst_ops:
            old.dst_ops.remove(self)
        if self not in new.dst_ops:
            new.dst_ops.append(self)

    # -- semantics -----------------------------------------------------------------------
    def infer_shapes(self) -> list[list[Dim]]:
        raise NotImplementedError

    def reference(self, *args: np.ndarray) -> list[np.ndarray]:
        """Compute the outputs in float32 numpy from float32 numpy inputs."""
        raise NotImplementedError

    def describe(self) -> str:
        """Attributes for messages and debugging."""
        return ""

    # -- cost (the roofline instrument: floor = max(flops / peak, bytes / bandwidth)) -----
    def flops(self, shape_of) -> int:
        """Arithmetic of one run, with ``shape_of(tensor)`` giving concrete shapes; 0 for
        pure data movement. Multiply-adds count as 2."""
        return 0

    def bytes_moved(self, shape_of) -> int:
        """Each input and output read or written once (the least traffic any kernel needs);
        0 for views (``is_view``: no kernel runs)."""
        if getattr(self, "is_view", False):
            return 0
        seen, total = set(), 0
        for t in self.inputs + self.outputs:
            if id(t) not in seen:
                seen.add(id(t))
                total += int(np.prod(shape_of(t), dtype=np.int64)) * DTYPE_BYTES[t.dtype]
        return total

    # -- errors ----------------------------------------------------------------------------
    def shape_error(self, tensor: Tensor, expected: str) -> ShapeError:
        tname = tensor.name or "<unnamed>"
        attrs = f"({self.describe()})" if self.describe() else ""
        return ShapeError(
            f"{self.kind} op {self.name or ''}{attrs}: "
            f"tensor {tname!r} has shape {shape_str(tensor.shape())}, expected {expected}"
        )

    def __repr__(self) -> str:
        ins = ", ".join(t.name or "?" for t in self.inputs)
        outs = ", ".join(t.name or "?" for t in self.outputs)
        return f"{self.kind}[{self.name}]({ins}) -> {outs}"
