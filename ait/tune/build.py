"""Build kernel objects and profiler executables from the same cached objects.

A profiler is linked from exactly the objects `kernel_objects` gives the model builder: what
is timed is what ships, and a model built after profiling compiles no kernel again.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ait.backend import nvcc
from ait.backend.kernel import Family, KernelCandidate
from ait.backend.target import Target
from ait.backend.templates import render
from ait.ops.epilogue import Epilogue

log = logging.getLogger(__name__)

PROFILER_TEMPLATES = {
    Family.CONV2D: "tune/templates/profiler_conv2d.cu.j2",
    Family.GEMM: "tune/templates/profiler_gemm.cu.j2",
}
# Max error relative to the largest output magnitude that still counts as correct.
TOLERANCE = {"f32": 1e-2, "f16": 5e-2}


def kernel_sources(candidates: Sequence[KernelCandidate]) -> list[nvcc.Source]:
    """One translation unit per kernel (unique by name, input order kept)."""
    unique = {c.name: c for c in candidates}
    return [nvcc.Source(name, c.render(), c.compile_cost) for name, c in unique.items()]


def kernel_objects(target: Target, candidates: Sequence[KernelCandidate]) -> list[Path]:
    """Compiled (cached) objects of `candidates`, for the model builder to link."""
    return nvcc.compile_objects(target, kernel_sources(candidates), desc="kernels")


@dataclass(frozen=True)
class ProfilerSpec:
    """One profiler executable: every candidate of one list, for one family and epilogue."""

    family: Family
    epilogue: Epilogue
    candidates: tuple[KernelCandidate, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.candidates]

    def main_source(self, target: Target) -> nvcc.Source:
        text = render(
            PROFILER_TEMPLATES[self.family],
            candidates=self.names,
            relu=self.epilogue.activation.value == "relu",
            residual=self.epilogue.residual,
            epilogue_tag=self.epilogue.tag,
            acc=target.acc,
            tol=TOLERANCE[target.acc],
        )
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        return nvcc.Source(f"profiler_{self.family.value}_{self.epilogue.tag}_{digest}", text)


@dataclass(frozen=True)
class Profiler:
    path: Path
    names: tuple[str, ...]           # the candidates it holds, in its index order
    failed: tuple[tuple[str, str], ...] = ()   # (candidate, nvcc error) left out


def build_profilers(target: Target, specs: Sequence[ProfilerSpec],
                    on_ready: Callable[[ProfilerSpec, Profiler], None] | None = None,
                    jobs: int | None = None) -> dict[ProfilerSpec, Profiler]:
    """Compile every kernel and profiler main and link one profiler per spec (all cached).

    Specs are finished in the order given: their kernels are queued in that order (the
    costliest first within a spec) and `on_ready(spec, profiler)` is called as each profiler
    is linked, so the caller can profile while later specs still compile. A kernel that fails
    to compile is left out of its profilers with a warning (its error is kept in
    `Profiler.failed`), so one broken template does not stop the others."""
    specs = list(dict.fromkeys(specs))
    kernels: dict[str, nvcc.Source] = {}
    for spec in specs:
        for src in sorted(kernel_sources(spec.candidates), key=lambda k: -k.cost):
            kernels.setdefault(src.name, src)
    start = time.perf_counter()
    with (nvcc.cancel_on_interrupt(ThreadPoolExecutor(jobs or nvcc.default_jobs())) as pool,
          nvcc.cancel_on_interrupt(ThreadPoolExecutor(2)) as linker,
          tqdm(desc="kernels", unit="obj", total=0) as bar):
        mains = dict(zip(specs, nvcc.submit_objects(
            pool, target, [s.main_source(target) for s in specs])))
        objects = dict(zip(kernels, nvcc.submit_objects(pool, target, list(kernels.values()))))
        pending = [f for f in {*objects.values(), *mains.values()} if not f.done()]
        bar.total = len(pending)
        bar.refresh()
        for f in pending:
            f.add_done_callback(lambda _: bar.update())
        warned: set[str] = set()
        done: dict[ProfilerSpec, Future] = {}
        for spec in specs:
            names = list(dict.fromkeys(c.name for c in spec.candidates))
            wait([objects[n] for n in names])
            if nvcc.cancelled():  # Ctrl-C: the failures are the cancellation, not the kernels
                raise nvcc.BuildCancelled("building profilers: interrupted; queued compiles "
                                          "cancelled")
            errors = {n: str(objects[n].exception()) for n in names if objects[n].exception()}
            for name in errors.keys() - warned:
                log.warning("kernel %s does not compile; it is left out of profiling:\n%s",
                            name, errors[name])
            warned |= errors.keys()
            kept = ProfilerSpec(spec.family, spec.epilogue,
                                tuple(c for c in spec.candidates if c.name not in errors))
            failed = tuple((c.name, errors[c.name]) for c in spec.candidates
                           if c.name in errors)
            if not kept.candidates:
                done[spec] = Future()
                done[spec].set_result(Profiler(Path(), (), failed))
            else:
                main = (mains[spec] if not errors else  # a main for the kernels left
                        nvcc.submit_objects(pool, target, [kept.main_source(target)])[0])
                done[spec] = linker.submit(_link, target, kept, main,
                                           [objects[n] for n in kept.names], failed)
            if on_ready is not None:
                done[spec].add_done_callback(
                    lambda f, spec=spec: f.exception() is None and on_ready(spec, f.result()))
        out = {spec: f.result() for spec, f in done.items()}
    log.info("profilers: %d built in %.1f s (%d objects compiled)", len(specs),
             time.perf_counter() - start, len(pending))
    return out


def _link(target: Target, spec: ProfilerSpec, main: Future, objects: list[Future],
          failed: tuple[tuple[str, str], ...]) -> Profiler:
    objs = [main.result()] + [f.result() for f in objects]
    digest = hashlib.sha256("\n".join(o.name for o in objs).encode()).hexdigest()[:16]
    stem = f"{spec.family.value}_{spec.epilogue.tag}_{target.acc}_sm{target.arch}"
    exe = nvcc.cache_dir() / "profilers" / f"{stem}_{digest}"
    if not nvcc.cached_object_ok(exe):
        nvcc.link_executable(target, objs, exe)
    return Profiler(exe, tuple(spec.names), failed)
