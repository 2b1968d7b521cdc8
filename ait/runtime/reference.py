"""The numpy reference interpreter: runs a Graph op by op in float32 with each op's
``reference``. It is the executable definition of the graph's meaning, what CI tests
without a GPU, and what the CUDA kernels are checked against.

It runs a graph already built (``ait.build_graph``); ``ait.run_reference`` also takes output
tensors and builds the graph first (ait.compiler), so the runtime needs no compiler."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ait.ir import AitError, Graph, IntImm, IntVar, Tensor
from ait.ir.shape import shape_str
from ait.ir.values import checked_array


def bind_dims(tensor: Tensor, value_shape: Sequence[int], dims: dict[IntVar, int]) -> None:
    """Check a concrete shape against a tensor's symbolic shape, binding dynamic dims."""
    sym = tensor.shape()
    if len(value_shape) != len(sym):
        raise AitError(f"{tensor.kind.value} {tensor.name!r}: got rank {len(value_shape)} "
                       f"shape {tuple(value_shape)}, expected {shape_str(sym)}")
    for i, (d, v) in enumerate(zip(sym, value_shape)):
        if isinstance(d, IntImm):
            if d.value != v:
                raise AitError(f"{tensor.kind.value} {tensor.name!r}: dim {i} is {v}, expected "
                               f"{d.value} (shape {tuple(value_shape)} vs {shape_str(sym)})")
        else:
            if not d.lower_bound <= v <= d.upper_bound:
                raise AitError(f"{tensor.kind.value} {tensor.name!r}: dim {i} ({d.name}) is {v}, "
                               f"outside the compiled range {d.lower_bound}..{d.upper_bound}")
            if dims.setdefault(d, v) != v:
                raise AitError(f"{tensor.kind.value} {tensor.name!r}: dim {i} ({d.name}) is {v}, "
                               f"but another input set it to {dims[d]}")


def run_reference(graph: Graph, inputs: Mapping[str, np.ndarray],
                  constants: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run a built graph on the CPU; returns {output name: float32 array}."""
    if not isinstance(graph, Graph):
        raise TypeError(f"ait.runtime.run_reference takes a built Graph, got "
                        f"{type(graph).__name__} (ait.run_reference builds one from outputs)")
    values: dict[int, np.ndarray] = {}
    dims: dict[IntVar, int] = {}
    expected = {t.name for t in graph.inputs}
    unknown = set(inputs) - expected
    if unknown:
        raise AitError(f"unknown input(s) {sorted(unknown)}; "
                       f"the graph's inputs are {sorted(expected)}")
    for t in graph.inputs:
        if t.name not in inputs:
            raise AitError(f"input {t.name!r} {shape_str(t.shape())} was not given")
        arr = checked_array(inputs[t.name], f"input {t.name!r}", "float32", allow_int=True).array
        bind_dims(t, arr.shape, dims)
        values[id(t)] = arr
    for t in graph.constants():
        if t.name not in constants:
            raise AitError(f"constant {t.name!r} {shape_str(t.shape())} was not set")
        arr = checked_array(constants[t.name], f"constant {t.name!r}", "float32",
                            allow_int=True).array
        bind_dims(t, arr.shape, dims)
        values[id(t)] = arr
    for op in graph.ops:
        outs = op.reference(*[values[id(t)] for t in op.inputs])
        for t, v in zip(op.outputs, outs):
            values[id(t)] = v
    return {t.name: values[id(t)] for t in graph.outputs}
