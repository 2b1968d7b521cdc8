"""The op-family registry: one `OpFamily` per folder of ait/ops, registered from that folder.

    ait/ops/<family>/family.py:  FAMILY = register(OpFamily(...))
    ait/ops/__init__.py:         imports every family folder, so loading any op registers all

`backend.codegen`, `tune` and `compiler` loop over `families()` (or look one up by op class or
kernel family) and import no family by name. An `OpFamily` holds what codegen needs (the op
classes, the emitter, the family's own .cu files and their C prototypes for model.cu); a
CUTLASS-backed family adds a `Tuning`: how its ops become kernel requests (its batch-free
problem, ait.backend.problem, at each batch bucket), the candidate list of a request, the
profiler template and the family's prune rules.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ait.backend.emit import EmitContext, OpCode
from ait.backend.kernel import Family, KernelCandidate
from ait.backend.problem import KernelRequest, Problem  # noqa: F401 (re-exported)
from ait.backend.target import Target
from ait.ir import AitError, Op


# (request, candidate, the request's whole list) -> True: leave the candidate out
DropFn = Callable[[KernelRequest, KernelCandidate, Sequence[KernelCandidate]], bool]


@dataclass(frozen=True)
class PruneRule:
    """A candidate that cannot win, by the evidence named (tune.prune applies the rules)."""

    name: str
    arch: int
    drops: DropFn
    evidence: str


@dataclass(frozen=True)
class Tuning:
    """What a CUTLASS-backed family gives the tuner."""

    kernel_family: Family
    request_type: type[KernelRequest]
    args_struct: str         # the C struct its kernels take (include/ait_abi.h), for model.cu
    profiler_template: str   # template name (relative to ait/) of the profiler main
    # bump when tiles, templates or filters change what a name means (profile-cache key)
    set_version: int
    # op -> [(bucket upper bound, request)] in increasing bucket order
    requests: Callable[[Op], list[tuple[int, KernelRequest]]]
    # every candidate able to run the request (before pruning); the first is the fixed choice
    candidates: Callable[[Target, KernelRequest], list[KernelCandidate]]
    prune_rules: tuple[PruneRule, ...] = ()

    def kernel_prototype(self, name: str) -> str:
        """The C declarations of kernel `name` (include/ait_abi.h's kernel ABI)."""
        return (f"int {name}(const {self.args_struct}*, void*, size_t, cudaStream_t);\n"
                f"size_t {name}_workspace_bytes(const {self.args_struct}*);")


@dataclass(frozen=True)
class OpFamily:
    name: str                                  # the folder's name under ait/ops
    ops: tuple[type[Op], ...]                  # the op classes it emits
    emit: Callable[[Op, EmitContext], OpCode]  # emit(op, ctx) -> OpCode
    sources: tuple[Path, ...] = ()             # its own .cu files, linked into every model
    prototypes: tuple[str, ...] = ()           # C declarations of those kernels, for model.cu
    tuning: Tuning | None = None


_FAMILIES: dict[str, OpFamily] = {}


def register(family: OpFamily) -> OpFamily:
    """Add `family` (or replace the one of its name, for a reloaded module); an op class
    may belong to one family only."""
    for other in _FAMILIES.values():
        shared = set(other.ops) & set(family.ops)
        if other.name != family.name and shared:
            raise AitError(f"op family {family.name}: {sorted(c.__name__ for c in shared)} "
                           f"already belong to {other.name}")
    _FAMILIES[family.name] = family
    return family


def families() -> tuple[OpFamily, ...]:
    """Every registered family, in registration order (ait/ops/__init__.py's)."""
    return tuple(_FAMILIES.values())


def family_of(op: Op) -> OpFamily:
    for fam in _FAMILIES.values():
        if type(op) in fam.ops:
            return fam
    raise AitError(f"the CUDA backend has no kernel for op {op.kind} ({op.name})")


def tuning(kernel_family: Family) -> Tuning:
    for fam in _FAMILIES.values():
        if fam.tuning is not None and fam.tuning.kernel_family is kernel_family:
            return fam.tuning
    raise KeyError(f"no registered op family tunes {kernel_family.value} kernels")


def tuned_families() -> tuple[OpFamily, ...]:
    return tuple(f for f in _FAMILIES.values() if f.tuning is not None)
