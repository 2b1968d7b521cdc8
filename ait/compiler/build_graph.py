"""Outputs -> Graph: copy the graph the outputs depend on, then on the copy sort (dropping
dead ops), fuse epilogues and the stem, sort again, name, plan memory. The frontend's tensors
and ops are left as they were; ``CompiledGraph.tensor_for`` finds a frontend tensor's copy.

The one path every backend takes, the numpy reference executor included."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ait.ir import AitError, Graph, Tensor, TensorKind
from ait.passes import (CompiledGraph, copy_graph, fuse_epilogues, fuse_stem, name_graph,
                         plan_memory, sort_graph)
from ait.runtime import reference


def build_graph(outputs: Tensor | Sequence[Tensor], fuse: bool = True) -> CompiledGraph:
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if not outputs:
        raise AitError("build_graph: no output tensors given")
    for t in outputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"outputs must be ait Tensors, got {type(t).__name__}")
        if t.src_op is None:
            raise AitError(f"output {t.name!r} is not computed by any op "
                           "(it is an input or a constant)")
    for t in outputs:
        _require_an_input(t)
    copies = copy_graph(outputs)
    outputs = [copies[id(t)][1] for t in outputs]
    for t in outputs:
        t.is_output = True
    ops = sort_graph(outputs)
    if fuse:
        ops = fuse_epilogues(ops)
        ops = fuse_stem(ops)  # after the conv took its bias + ReLU
        ops = sort_graph(outputs)  # residual producers may have to move before their conv
    inputs: list[Tensor] = []
    for op in ops:
        for t in op.inputs:
            if t.kind is TensorKind.INPUT and all(t is not i for i in inputs):
                inputs.append(t)
    name_graph(ops, inputs)
    return CompiledGraph(ops=ops, inputs=inputs, outputs=outputs, plan=plan_memory(ops),
                         copies=copies)


def _require_an_input(output: Tensor) -> None:
    """An output computed from constants alone is a graph mistake (a model would return the
    same value for every input): an error naming it, before anything is built."""
    seen: set[int] = set()
    stack, consts = [output], []
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t.kind is TensorKind.INPUT:
            return
        if t.src_op is None:
            consts.append(t.name or "<unnamed>")
        else:
            stack.extend(t.src_op.inputs)
    names = ", ".join(repr(n) for n in sorted(consts)[:3]) + (", ..." if len(consts) > 3 else "")
    label = repr(output.name) if output.name else "(unnamed)"
    raise AitError(f"output {label} depends on no input (only on constant(s) {names}); "
                   "expected a graph computed from at least one tensor made with is_input=True")


def run_reference(graph_or_outputs: Graph | Tensor | Sequence[Tensor],
                  inputs: Mapping[str, np.ndarray],
                  constants: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run on the CPU with the numpy reference executor (ait.runtime.reference); output
    tensors are built into a graph first. Returns {output name: float32 array}."""
    graph = (graph_or_outputs if isinstance(graph_or_outputs, Graph)
             else build_graph(graph_or_outputs))
    return reference.run_reference(graph, inputs, constants)
