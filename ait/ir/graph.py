"""A graph: ops in execution order plus its tensors by role. What the passes work out about
it (the memory plan) is theirs: ait.passes.CompiledGraph carries it."""
from __future__ import annotations

from dataclasses import dataclass

from ait.ir.op import Op
from ait.ir.shape import IntVar
from ait.ir.tensor import Tensor, TensorKind


@dataclass
class Graph:
    ops: list[Op]
    inputs: list[Tensor]
    outputs: list[Tensor]

    def tensors(self) -> list[Tensor]:
        seen: dict[int, Tensor] = {}
        for t in self.inputs:
            seen.setdefault(id(t), t)
        for op in self.ops:
            for t in op.inputs + op.outputs:
                seen.setdefault(id(t), t)
        return list(seen.values())

    def constants(self) -> list[Tensor]:
        return [t for t in self.tensors() if t.kind is TensorKind.CONSTANT]

    def intermediates(self) -> list[Tensor]:
        return [t for t in self.tensors() if t.kind is TensorKind.INTERMEDIATE]

    def dynamic_dims(self) -> list[IntVar]:
        dims: dict[int, IntVar] = {}
        for t in self.tensors():
            for d in t.shape():
                if isinstance(d, IntVar):
                    dims.setdefault(id(d), d)
        return list(dims.values())

    def summary(self) -> str:
        lines = [f"graph: {len(self.ops)} ops, inputs {[t.name for t in self.inputs]}, "
                 f"outputs {[t.name for t in self.outputs]}"]
        lines += [f"  {op!r}  {op.describe()}" for op in self.ops]
        return "\n".join(lines)
