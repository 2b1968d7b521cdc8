"""Build kernel objects and profiler executables from the same cached objects.

A profiler is linked from exactly the objects `kernel_objects` gives the model builder: what
is timed is what ships, and a model built after profiling compiles no kernel again.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

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


def build_profilers(target: Target, specs: Sequence[ProfilerSpec]) -> dict[ProfilerSpec, Profiler]:
    """Compile every kernel and profiler main in one parallel batch, then link (cached).

    A kernel that fails to compile is left out of its profilers with a warning (its error is
    kept in `Profiler.failed`), so one broken template does not stop the others."""
    specs = list(dict.fromkeys(specs))
    kernels = kernel_sources([c for s in specs for c in s.candidates])
    built = nvcc.compile_objects(target, kernels, desc="kernels", keep_going=True)
    objects = {k.name: o for k, o in zip(kernels, built) if not isinstance(o, Exception)}
    errors = {k.name: str(o) for k, o in zip(kernels, built) if isinstance(o, Exception)}
    for name, err in errors.items():
        log.warning("kernel %s does not compile; it is left out of profiling:\n%s", name, err)

    kept = {s: ProfilerSpec(s.family, s.epilogue,
                            tuple(c for c in s.candidates if c.name in objects)) for s in specs}
    mains = {s: kept[s].main_source(target) for s in specs if kept[s].candidates}
    main_objs = dict(zip(mains, nvcc.compile_objects(target, list(mains.values()),
                                                     desc="profilers")))
    root = nvcc.cache_dir() / "profilers"

    def link(spec: ProfilerSpec) -> Profiler:
        k = kept[spec]
        failed = tuple((c.name, errors[c.name]) for c in spec.candidates if c.name in errors)
        if not k.candidates:
            return Profiler(Path(), (), failed)
        objs = [main_objs[spec]] + [objects[n] for n in k.names]
        digest = hashlib.sha256("\n".join(o.name for o in objs).encode()).hexdigest()[:16]
        stem = f"{spec.family.value}_{spec.epilogue.tag}_{target.acc}_sm{target.arch}"
        exe = root / f"{stem}_{digest}"
        if not exe.is_file():
            nvcc.link_executable(target, objs, exe)
        return Profiler(exe, tuple(k.names), failed)

    with ThreadPoolExecutor(nvcc.default_jobs()) as pool:
        return dict(zip(specs, pool.map(link, specs)))
