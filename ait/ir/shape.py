"""Dimensions: static (IntImm) or dynamic with bounds (IntVar).

A dynamic dim keeps its identity through the graph: every op that passes the batch through
hands on the same IntVar object, so one compiled model serves every value in its range.
"""
from __future__ import annotations

import itertools
from typing import Iterable, Sequence, Union

from ait.ir.errors import DimTypeError, ShapeError

_ids = itertools.count()


class IntImm:
    """A static dimension."""

    def __init__(self, value: int, name: str | None = None):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ShapeError(f"IntImm needs a non-negative int, got {value!r}")
        self.value = value
        self.name = name

    @property
    def lower_bound(self) -> int:
        return self.value

    @property
    def upper_bound(self) -> int:
        return self.value

    def is_static(self) -> bool:
        return True

    def __eq__(self, other) -> bool:
        if isinstance(other, IntImm):
            return self.value == other.value
        if isinstance(other, int) and not isinstance(other, bool):
            return self.value == other
        return False

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"IntImm({self.value})"

    def __str__(self) -> str:
        return str(self.value)


class IntVar:
    """A dynamic dimension taking any integer value in ``values=[lo, hi]`` (inclusive).

    The values must be given in increasing order (``[1, 256]``); more than two, as
    AITemplate allows, are accepted and span first..last. Unlike AITemplate, which sorts them,
    ``IntVar([256, 1])`` is an error: a reversed range is more often a slip than a wish."""

    def __init__(self, values: Sequence[int], name: str | None = None):
        vals = list(values)
        if len(vals) < 1 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                    for v in vals):
            raise ShapeError(f"IntVar {name or ''}: needs positive int bounds [lo, hi], "
                             f"got {values!r}".replace("IntVar :", "IntVar:"))
        if any(a > b for a, b in zip(vals, vals[1:])):
            raise ShapeError(f"IntVar {name or ''}: values {values!r} are not in increasing "
                             f"order; expected [lo, hi], e.g. {sorted(vals)!r}"
                             .replace("IntVar :", "IntVar:"))
        lo, hi = vals[0], vals[-1]
        self.values = [lo, hi]
        self.name = name or f"dim_{next(_ids)}"

    @property
    def lower_bound(self) -> int:
        return self.values[0]

    @property
    def upper_bound(self) -> int:
        return self.values[1]

    def is_static(self) -> bool:
        return False

    # Identity semantics: two IntVars are the same dim only if they are the same object.
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"IntVar({self.values}, name={self.name!r})"

    def __str__(self) -> str:
        return f"{self.name}[{self.values[0]}..{self.values[1]}]"


Dim = Union[IntImm, IntVar]


def as_dim(d: Union[int, IntImm, IntVar]) -> Dim:
    if isinstance(d, (IntImm, IntVar)):
        return d
    if isinstance(d, int) and not isinstance(d, bool):
        return IntImm(d)
    raise DimTypeError(f"a dimension must be int, IntImm or IntVar, got {d!r} "
                       f"({type(d).__name__})")


def shape_str(shape: Iterable[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def same_dim(a: Dim, b: Dim) -> bool:
    if isinstance(a, IntVar) or isinstance(b, IntVar):
        return a is b
    return a.value == b.value


def static_value(d: Dim) -> int | None:
    return d.value if isinstance(d, IntImm) else None
