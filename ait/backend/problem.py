"""The batch-free problem of a tuned family, and the kernel request made of it.

One frozen dataclass per family (ait/ops/<family>/request.py) lists the problem's fields once:

    @dataclass(frozen=True)
    class Conv2dProblem(Problem):
        batch_flag: ClassVar[str] = "n"     # the profiler's batch flag = the ABI's batch member
        derived_abi: ClassVar[...] = ("p", "q")
        epilogue: Epilogue                  # compiled into the profiler, not a flag
        h: int
        pad: tuple[int, int] = dim(abi=("pad_h", "pad_w"), default=(0, 0))
        ...

Each field is, by default, the profiler flag `--<name>` (one value, or one per element of a
tuple) and the member `<name>` of the family's C args struct (include/ait_abi.h); `dim(...)`
says otherwise (`argv=False`: compiled into the profiler or only choosing candidates;
`abi=(...)`: the struct members it fills). The profiler argv is made here from those fields;
tests/test_problem_fields.py checks the profiler main, the struct and the emitter against them.

A request is (problem, batch): `ConvRequest(problem, batch)`, a `KernelRequest`; requests that
differ only in batch share `problem` and so one profiler process.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from ait.backend.kernel import Family
from ait.ir.epilogue import Epilogue

_ARGV = "ait_argv"
_ABI = "ait_abi"


def dim(*, argv: bool = True, abi: tuple[str, ...] | None = None, **field_kw: Any) -> Any:
    """A problem field that is not the default (flag `--<name>`, struct member `<name>`)."""
    return dataclasses.field(metadata={_ARGV: argv, _ABI: abi}, **field_kw)


def _is_argv(f: dataclasses.Field) -> bool:
    return f.metadata.get(_ARGV, True)


class Problem:
    """Base of a family's problem dataclass (frozen): everything but the batch."""

    label: ClassVar[str]                     # for messages: "conv2d", "gemm_rcr"
    batch_flag: ClassVar[str]                # profiler batch flag and ABI batch member
    derived_abi: ClassVar[tuple[str, ...]] = ()  # ABI members computed from the fields
    epilogue: Epilogue

    @classmethod
    def shape_fields(cls) -> tuple[dataclasses.Field, ...]:
        """The fields that make the shape (all but the epilogue), in dims() order."""
        return tuple(f for f in dataclasses.fields(cls) if f.name != "epilogue")

    @classmethod
    def argv_flags(cls) -> tuple[str, ...]:
        """The profiler flags of the problem (without the batch flag)."""
        return tuple(f.name for f in cls.shape_fields() if _is_argv(f))

    @classmethod
    def abi_members(cls) -> dict[str, tuple[str, ...]]:
        """Field name -> the args-struct members it fills (none for argv=False fields unless
        given)."""
        out = {}
        for f in cls.shape_fields():
            abi = f.metadata.get(_ABI)
            out[f.name] = tuple(abi) if abi is not None else ((f.name,) if _is_argv(f) else ())
        return out

    def dims(self) -> tuple[tuple[str, object], ...]:
        return tuple((f.name, getattr(self, f.name)) for f in self.shape_fields())

    def argv(self) -> list[str]:
        """The profiler arguments of the problem: `--<field> v [v ...]`, in field order."""
        out: list[str] = []
        for f in self.shape_fields():
            if _is_argv(f):
                value = getattr(self, f.name)
                out += [f"--{f.name}", *map(str, value if isinstance(value, tuple) else (value,))]
        return out


@dataclass(frozen=True)
class KernelRequest:
    """What the tuner chooses a kernel for: one problem at one batch bucket. Frozen and
    hashable (a selection key; `dims()` is the profile-cache key's). Reads of the problem's
    fields (and of the batch under its flag's name) pass through: `r.k`, `r.n`."""

    family: ClassVar[Family]
    problem_type: ClassVar[type[Problem]]

    problem: Problem
    batch: int

    @classmethod
    def of(cls, epilogue: Epilogue, batch: int | None = None, *shape: Any, **kw: Any):
        """`ConvRequest.of(epilogue, batch, *fields)`: the problem's fields in order, the batch
        second (as in dims()); the batch may be given by its flag's name."""
        flag = cls.problem_type.batch_flag
        if flag in kw:
            if batch is not None:
                raise TypeError(f"batch given twice ({flag}={kw[flag]} and {batch})")
            batch = kw.pop(flag)
        if batch is None:
            raise TypeError(f"{cls.__name__}.of: no batch ({flag})")
        return cls(cls.problem_type(epilogue, *shape, **kw), int(batch))

    def __post_init__(self):
        if not isinstance(self.problem, self.problem_type):
            raise TypeError(f"{type(self).__name__} needs a {self.problem_type.__name__}, "
                            f"not {self.problem!r}")

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("problem", "batch"):
            raise AttributeError(name)
        if name == self.problem_type.batch_flag:
            return self.batch
        return getattr(self.problem, name)

    @property
    def batch_flag(self) -> str:
        return self.problem_type.batch_flag

    @property
    def epilogue(self) -> Epilogue:
        return self.problem.epilogue

    def dims(self) -> tuple[tuple[str, object], ...]:
        """The batch (under its flag's name), then the problem's fields."""
        return ((self.batch_flag, self.batch),) + self.problem.dims()

    def profiler_argv(self) -> list[str]:
        return [f"--{self.batch_flag}", str(self.batch)] + self.problem.argv()

    def shape_argv(self) -> list[str]:
        """The profiler arguments without the batch (`--<batch_flag>` lists every batch of a
        profiler process)."""
        return self.problem.argv()

    def describe(self) -> str:
        d = " ".join(f"{k}={v}" for k, v in self.dims() if not isinstance(v, bool) or v)
        return f"{self.problem.label} {self.epilogue.tag} [{d}]"

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in
                           (("epilogue", self.epilogue),) + self.dims())
        return f"{type(self).__name__}({fields})"
