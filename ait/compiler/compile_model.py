"""compile_model: Graph -> kernels chosen per op and batch bucket -> one .so -> Model.

    frontend outputs -> build_graph (passes) -> tune.select_kernels (profile, cached)
    -> backend.codegen (model.cu) -> backend.nvcc (objects cached by content) -> Model
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Sequence

from ait import fs
from ait.backend import nvcc
from ait.backend.codegen import generate_model_source, own_sources
from ait.backend.emit import KernelBuckets
from ait.backend.family import family_of
from ait.backend.target import Target, gpu_total_memory
from ait.compiler.build_graph import build_graph
from ait.ir import AitError, Graph, Tensor

log = logging.getLogger("ait")


def kernel_requests(graph: Graph) -> dict[int, list[tuple[int, object]]]:
    """For each op of a tuned family (conv, gemm): [(bucket upper bound, request)] in
    increasing bucket order (the family's `Tuning.requests`). An op no family registered
    fails here, before any kernel is chosen."""
    out: dict[int, list[tuple[int, object]]] = {}
    for op in graph.ops:
        tuned = family_of(op).tuning
        if tuned is not None:
            out[op._uid] = tuned.requests(op)
    return out


def _check_dtypes(graph: Graph) -> None:
    for t in graph.tensors():
        if t.dtype != "float16":
            raise AitError(f"tensor {t.name!r} is {t.dtype}: the CUDA backend runs float16 graphs "
                           "(build the model with dtype='float16')")


def compile_model(outputs: Tensor | Sequence[Tensor], target: Target, workdir: str | Path = "./tmp",
                  name: str = "model", *, profile: bool = True, verbose: bool = True,
                  num_runtimes: int = 1):
    """Compile the graph that computes ``outputs`` into ``workdir/name/<name>.so``; returns a
    loaded ``Model`` with ``num_runtimes`` execution contexts (calls that may run at once).
    ``profile=False`` takes the first candidate that fits each op instead of timing them (no
    GPU needed; also ``AIT_FIXED_KERNEL=first``). Loading needs the GPU; ``build_model``
    stops at the .so."""
    from ait.runtime.model import Model

    so = build_model(outputs, target, workdir, name, profile=profile, verbose=verbose)
    return Model(so, num_runtimes=num_runtimes)


def _check_fits_the_gpu(graph: Graph, name: str) -> None:
    """Refuses, before minutes of kernel selection and building, a model whose activations at
    its largest shapes (the memory plan's workspace, one per runtime) cannot fit in the GPU
    this process sees; without a GPU there is nothing to check."""
    total = gpu_total_memory()
    if total is not None and graph.workspace_bytes > total:
        dyn = sorted(f"{d.name} up to {d.upper_bound}" for d in graph.dynamic_dims())
        raise AitError(
            f"{name}: its activations need {graph.workspace_bytes / 2**30:.1f} GiB of device "
            f"memory at the largest shapes ({', '.join(dyn) or 'static shapes'}), more than the "
            f"GPU's {total / 2**30:.1f} GiB; lower the largest batch size")


def build_model(outputs: Tensor | Sequence[Tensor], target: Target, workdir: str | Path = "./tmp",
                name: str = "model", *, profile: bool = True, verbose: bool = True) -> Path:
    """compile_model without the load: builds ``workdir/name/<name>.so`` and returns its path
    (with ``profile=False`` or ``AIT_FIXED_KERNEL=first`` and a target such as
    ``Target.for_arch(90)``, on a machine without a GPU)."""
    from ait.tune import kernel_sources, select_kernels

    t0 = time.perf_counter()
    graph = build_graph(outputs)
    _check_dtypes(graph)
    _check_fits_the_gpu(graph, name)
    # where the .so goes: checked before minutes of building, not at link time
    out_dir = fs.require_writable_dir(Path(workdir) / name, f"work dir {workdir}")
    nvcc.require_cache_dir()
    requests = kernel_requests(graph)
    all_requests = sorted({r for reqs in requests.values() for _, r in reqs}, key=repr)
    t1 = time.perf_counter()
    profile = profile and os.environ.get("AIT_FIXED_KERNEL", "") != "first"
    chosen = select_kernels(target, all_requests, profile=profile)
    t2 = time.perf_counter()
    kernels = {uid: KernelBuckets([b for b, _ in reqs], [chosen[r].name for _, r in reqs],
                                  [chosen[r].waits_for_prior_grids for _, r in reqs])
               for uid, reqs in requests.items()}
    source, meta = generate_model_source(graph, name, kernels, {
        "target": {"arch": target.arch, "use_fp16_acc": target.use_fp16_acc,
                   "cutlass": target.cutlass_version},
    })
    sources = [nvcc.Source(f"{name}_model", source)]
    sources += [nvcc.Source(p.stem, p.read_text()) for p in own_sources()]
    unique = {c.name: c for c in chosen.values()}
    sources += kernel_sources(list(unique.values()))
    objects = nvcc.compile_objects(target, sources, desc=f"building {name}")
    so = nvcc.link_shared(target, objects, out_dir / f"{name}.so")
    fs.write_atomic(out_dir / "model.cu", source)  # for reading, not rebuilding
    fs.write_atomic(out_dir / "metadata.json", json.dumps(meta, indent=1))
    t3 = time.perf_counter()
    summary = (f"compiled {name}: {len(graph.ops)} ops, {len(unique)} distinct kernels, "
               f"workspace {graph.workspace_bytes / 2**20:.1f} MiB; graph {t1 - t0:.1f} s, "
               f"kernel selection {t2 - t1:.1f} s, build {t3 - t2:.1f} s, total {t3 - t0:.1f} s")
    fs.write_atomic(out_dir / "build_summary.txt", summary + "\n")
    if verbose:
        print(summary, flush=True)
    return so
