"""Graph + chosen kernels -> the model's C++ source (model.cu) and its metadata.

Each op family's emitter (ait/ops/<family>/cuda.py, found through the registry of
ait.backend.family) writes the C++ for one op; this module lays out constants, dims and the
workspace, and renders backend/templates/model.cu.j2 with the runtime (ait/runtime/csrc/model_runtime.h) inlined, so the object cache's content hash
covers everything the model's object depends on."""
from __future__ import annotations

import json
from pathlib import Path

from ait.backend.emit import EmitContext, KernelBuckets, OpCode, batch_buckets
from ait.backend.family import families, family_of
from ait.backend.templates import render
from ait.ir import DTYPE_BYTES, Graph, IntImm, Op, Tensor

RUNTIME_HEADER = Path(__file__).resolve().parent.parent / "runtime" / "csrc" / "model_runtime.h"


def own_sources() -> list[Path]:
    """Our own small kernels (every registered family's SOURCES), linked into every model (a
    few KB; unused ones cost nothing at run)."""
    return [p for fam in families() for p in fam.sources]


def _dim_json(d) -> int | dict:
    return d.value if isinstance(d, IntImm) else {"dim": d.name, "lower": d.lower_bound,
                                                   "upper": d.upper_bound}


def _tensor_json(t: Tensor) -> dict:
    return {"name": t.name, "shape": [_dim_json(d) for d in t.shape()], "dtype": t.dtype}


def op_cost(op: Op, dims: list) -> dict | None:
    """The op's arithmetic and least traffic as ``fixed + per_item * n`` over the one dynamic
    dim (``[fixed, per_item]`` each), for the roofline of benchmark_ait.py --profile-ops; None
    when the graph has several dynamic dims."""
    if len(dims) > 1:
        return None
    at = [(lambda t, n=n: t.concrete_shape({d: n for d in dims})) for n in (1, 2)]
    out = {}
    for key, fn in (("flops", op.flops), ("bytes", op.bytes_moved)):
        one, two = fn(at[0]), fn(at[1])
        out[key] = [one - (two - one), two - one] if dims else [one, 0]
    return out


def metadata(graph: Graph, name: str, kernels: dict[int, KernelBuckets], extra: dict) -> dict:
    return {
        "name": name,
        "inputs": [_tensor_json(t) for t in graph.inputs],
        "outputs": [_tensor_json(t) for t in graph.outputs],
        "dims": [{"name": d.name, "lower": d.lower_bound, "upper": d.upper_bound}
                 for d in graph.dynamic_dims()],
        "constants": [_tensor_json(t) for t in graph.constants()],
        "ops": [{"name": op.name, "kind": op.kind, "attrs": op.describe(),
                 "kernels": ({"upper": kernels[op._uid].upper, "names": kernels[op._uid].names}
                             if op._uid in kernels else None),
                 "cost": op_cost(op, graph.dynamic_dims())} for op in graph.ops],
        "workspace_bytes": graph.workspace_bytes,
        **extra,
    }


def probe_dims(graph: Graph) -> list[list[int]]:
    """Dim vectors at which every kernel's workspace need is asked (each bucket's top)."""
    dims = graph.dynamic_dims()
    if not dims:
        return [[]]
    values = sorted({b for d in dims for b in batch_buckets(d)})
    return [[min(max(v, d.lower_bound), d.upper_bound) for d in dims] for v in values]


def generate_model_source(graph: Graph, name: str, kernels: dict[int, KernelBuckets],
                          meta_extra: dict | None = None) -> tuple[str, dict]:
    ctx = EmitContext(graph, kernels)
    ops = []
    for i, op in enumerate(graph.ops):
        ctx.begin_op()
        code: OpCode = family_of(op).emit(op, ctx)
        ops.append({"index": i, "name": op.name, "kind": op.kind, "describe": op.describe(),
                    "setup": code.setup, "run": code.run, "workspace": code.workspace,
                    "waits": code.waits, "touches_io": ctx.touches_io})
    # the C declarations of every kernel the model calls: each tuned family's chosen kernels
    # (sorted by name), then every family's own kernels, in registration order
    prototypes = [fam.tuning.kernel_prototype(n) for fam in families() if fam.tuning
                  for n in sorted({n for op in graph.ops if type(op) in fam.ops
                                   for n in kernels[op._uid].names})]
    prototypes += [p for fam in families() for p in fam.prototypes]
    meta = metadata(graph, name, kernels, meta_extra or {})
    max_channels = max([t.shape()[-1].value for t in graph.tensors()
                        if t.rank and isinstance(t.shape()[-1], IntImm)] + [8])
    source = render(
        "backend/templates/model.cu.j2",
        name=name, num_ops=len(ops), ops=ops, prototypes=prototypes,
        metadata_json=json.dumps(meta, separators=(",", ":")),
        num_inputs=len(graph.inputs), num_outputs=len(graph.outputs),
        num_dims=len(ctx.dims),
        constants=[{"name": t.name, "bytes": t.max_bytes()} for t in ctx.constants],
        workspace_bytes=graph.workspace_bytes,
        zero_bytes=max_channels * DTYPE_BYTES["float32"],
        dims=[{"lower": d.lower_bound, "upper": d.upper_bound} for d in ctx.dims],
        probes=probe_dims(graph),
        runtime_source=RUNTIME_HEADER.read_text(),
    )
    return source, meta
