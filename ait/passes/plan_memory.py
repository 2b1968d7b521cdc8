"""Memory planning: every intermediate tensor gets a byte offset in one shared workspace,
sized for the largest value of every dynamic dim. Tensors whose lifetimes overlap never
overlap in memory; others reuse the same bytes.

Greedy by size (largest first, lowest offset that fits beside every overlapping-lifetime
tensor already placed): near-optimal for chain-like CNN graphs and simple to check.
Views (reshape) share their input's storage and extend its lifetime."""
from __future__ import annotations

from dataclasses import dataclass, field

from ait.ir import AitError, Graph, Op, Tensor, TensorKind

ALIGNMENT = 256  # bytes; TMA and vectorised kernels need at least 16


@dataclass
class MemoryPlan:
    offsets: dict[str, int] = field(default_factory=dict)     # root tensor -> workspace offset
    sizes: dict[str, int] = field(default_factory=dict)       # root tensor -> bytes
    lifetimes: dict[str, tuple[int, int]] = field(default_factory=dict)  # first def, last use
    aliases: dict[str, str] = field(default_factory=dict)     # view tensor -> root tensor
    workspace_bytes: int = 0

    def root(self, name: str) -> str:
        return self.aliases.get(name, name)


@dataclass
class CompiledGraph(Graph):
    """A built graph (compiler.build_graph): sorted, fused and named ops, and where each
    intermediate lives in the workspace."""

    plan: MemoryPlan = field(default_factory=MemoryPlan)
    # id(frontend tensor) -> (frontend tensor, the built graph's copy): see tensor_for
    copies: dict[int, tuple[Tensor, Tensor]] = field(default_factory=dict, repr=False,
                                                     compare=False)

    @property
    def workspace_bytes(self) -> int:
        return self.plan.workspace_bytes

    def tensor_for(self, tensor: Tensor) -> Tensor:
        """The built graph's tensor for a frontend tensor (the one given to build_graph or one
        it depends on; by identity): its name is the one the model's inputs, outputs and
        constants go by, given by name_graph where the frontend left it unnamed."""
        entry = self.copies.get(id(tensor))
        label = repr(tensor.name) if tensor.name else "(unnamed)"
        if entry is None or entry[0] is not tensor:
            raise AitError(f"tensor {label} is not part of the graph this was built from")
        built = entry[1]
        if all(built is not t for t in self.tensors()):
            raise AitError(f"tensor {label} is not in the built graph: a pass fused it away "
                           "(an intermediate of a fused op)")
        return built


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def plan_memory(ops: list[Op]) -> MemoryPlan:
    plan = MemoryPlan()
    root_of: dict[int, Tensor] = {}
    for i, op in enumerate(ops):
        for t in op.inputs:
            r = root_of.get(id(t), t)
            if r.kind is TensorKind.INTERMEDIATE and not r.is_output:
                lo, _ = plan.lifetimes[r.name]
                plan.lifetimes[r.name] = (lo, i)
        for t in op.outputs:
            if getattr(op, "is_view", False):
                r = root_of.get(id(op.inputs[0]), op.inputs[0])
                if t.is_output or r.is_output:
                    raise AitError(f"{op.kind} op {op.name}: a view of or as a graph output "
                                   f"({t.name}) is not supported; compute the output directly")
                root_of[id(t)] = r
                plan.aliases[t.name] = r.name
                if r.name in plan.lifetimes:
                    plan.lifetimes[r.name] = (plan.lifetimes[r.name][0], i)
            elif not t.is_output:
                plan.lifetimes[t.name] = (i, i)
                plan.sizes[t.name] = _align(t.max_bytes())

    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
    for name in sorted(plan.sizes, key=lambda n: (-plan.sizes[n], plan.lifetimes[n])):
        size, (first, last) = plan.sizes[name], plan.lifetimes[name]
        busy = sorted((o, o + s) for o, s, f, end in placed if f <= last and first <= end)
        offset = 0
        for lo, hi in busy:
            if offset + size <= lo:
                break
            offset = max(offset, hi)
        plan.offsets[name] = offset
        placed.append((offset, size, first, last))
        plan.workspace_bytes = max(plan.workspace_bytes, offset + size)
    return plan
