"""Tensors: graph edges. Inputs and constants have no producer; intermediates have one."""
from __future__ import annotations

import copy
import enum
import math
from typing import TYPE_CHECKING, Callable, Sequence

from ait.ir.errors import AitError
from ait.ir.shape import Dim, IntImm, IntVar, as_dim, shape_str

if TYPE_CHECKING:
    from ait.ir.op import Op

DTYPE_BYTES = {"float16": 2, "float32": 4}

# Python operators on tensors, by name, filled in by the op family that implements each
# ("add": ait.ops.elementwise), so that ait.ir imports nothing above it.
OPERATORS: dict[str, Callable[..., "Tensor"]] = {}


class TensorKind(enum.Enum):
    INPUT = "input"
    CONSTANT = "constant"  # a parameter: bound by name at run time (set_many_constants)
    INTERMEDIATE = "intermediate"


class Tensor:
    """An NHWC-ordered tensor of the graph (AITemplate's ``Tensor``)."""

    def __init__(
        self,
        shape: Sequence[int | Dim],
        name: str | None = None,
        dtype: str = "float16",
        is_input: bool = False,
        is_output: bool = False,
    ):
        if dtype not in DTYPE_BYTES:
            raise ValueError(f"tensor {name!r}: dtype must be one of {sorted(DTYPE_BYTES)}")
        self._shape: list[Dim] = [as_dim(d) for d in shape]
        self.name = name
        self.dtype = dtype
        self.is_input = is_input
        self.is_output = is_output
        self.src_op: Op | None = None
        self.dst_ops: list[Op] = []

    def detached_copy(self) -> "Tensor":
        """The same tensor (name, shape with the same dim objects, dtype, roles) as a new node,
        produced and read by no op yet (``ait.passes.copy_graph``)."""
        new = copy.copy(self)
        new._shape = list(self._shape)
        new.src_op, new.dst_ops = None, []
        return new

    # -- shape -----------------------------------------------------------------------------
    def shape(self) -> list[Dim]:
        return list(self._shape)

    @property
    def rank(self) -> int:
        return len(self._shape)

    def max_shape(self) -> list[int]:
        return [d.upper_bound for d in self._shape]

    def max_bytes(self) -> int:
        return math.prod(self.max_shape()) * DTYPE_BYTES[self.dtype]

    def is_dynamic(self) -> bool:
        return any(isinstance(d, IntVar) for d in self._shape)

    def concrete_shape(self, dims: dict[IntVar, int]) -> tuple[int, ...]:
        return tuple(d.value if isinstance(d, IntImm) else dims[d] for d in self._shape)

    # -- role ------------------------------------------------------------------------------
    @property
    def kind(self) -> TensorKind:
        if self.is_input:
            return TensorKind.INPUT
        if self.src_op is None:
            return TensorKind.CONSTANT
        return TensorKind.INTERMEDIATE

    def _attrs_str(self) -> str:
        return f"{self.name or '<unnamed>'}: {shape_str(self._shape)} {self.dtype}"

    def __repr__(self) -> str:
        return f"Tensor({self._attrs_str()}, {self.kind.value})"

    # Operators, so graphs read like PyTorch code.
    def __add__(self, other: "Tensor") -> "Tensor":
        add = OPERATORS.get("add")
        if add is None:
            raise AitError("tensor + tensor needs the elementwise ops: import ait (or "
                           "ait.ops.elementwise) first")
        return add(self, other)
