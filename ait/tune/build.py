"""Build kernel objects and profiler executables from the same cached objects.

A profiler is linked from exactly the objects `kernel_objects` gives the model builder: what
is timed is what ships, and a model built after profiling compiles no kernel again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ait.backend import nvcc
from ait.backend.family import tuning
from ait.backend.kernel import Family, KernelCandidate
from ait.backend.target import Target
from ait.backend.templates import render
from ait.ir.epilogue import Epilogue
from ait.ir.env import env_count, env_switch

log = logging.getLogger(__name__)

# Max error relative to the largest output magnitude that still counts as correct.
TOLERANCE = {"f32": 1e-2, "f16": 5e-2}


# Kernels per translation unit (AIT_KERNELS_PER_TU overrides; 1: one kernel per object). The
# kernels of one group differ only in their epilogue (or the strided gather): nvcc parses the
# CUTLASS headers and instantiates the shared mainloop once for all of them, so three 3.x
# kernels compile in ~1.35x the time of one and three 2.x kernels in ~1.25x
# (docs/compile_time.md). Larger groups mean fewer, longer compiles: 4 keeps every group of
# ResNet's three epilogues (+ the strided variant) whole while the longest object stays
# within ~1.6x of a single kernel.
KERNELS_PER_TU = 4
_GROUP_COST = 0.2  # each kernel after the first adds this much of one kernel's compile time


def hopper_units(jobs: int) -> int:
    """How many Hopper translation units a build may have before same-class ones merge:
    AIT_HOPPER_UNITS, else one per compile job."""
    return env_count("AIT_HOPPER_UNITS") or jobs


def kernels_per_tu() -> int:
    return env_count("AIT_KERNELS_PER_TU") or KERNELS_PER_TU


def split_hopper() -> bool:
    """Whether the Hopper kernels' units compile as a cubin and a host object at once
    (nvcc.Split; docs/compile_time.md): AIT_SPLIT_HOPPER=0 turns it off (one object per
    unit, the sources and objects of before)."""
    return env_switch("AIT_SPLIT_HOPPER", True)


def single_source(c: KernelCandidate) -> nvcc.Source:
    split = getattr(c, "splittable", False) and split_hopper()
    return nvcc.Source(c.name, c.render(split=True) if split else c.render(), c.compile_cost,
                       host_cold=True, split=split)


def group_key(c: KernelCandidate) -> tuple:
    """Kernels with equal keys share everything but the epilogue, the strided gather and the
    fields their class names in `group_free` (run-time values of one compiled kernel, e.g. a
    split-K count): the same class, tile, schedule, alignment and accumulator, so one TU
    compiles them cheaply."""
    if not dataclasses.is_dataclass(c):
        return ("", c.name)
    free = ("epilogue", "strided", *getattr(type(c), "group_free", ()))
    fields = tuple((f.name, getattr(c, f.name)) for f in dataclasses.fields(c)
                   if f.name not in free)
    return (type(c).__module__, type(c).__qualname__, fields)


@dataclass(frozen=True)
class Unit:
    """One translation unit: the kernels `members` (their own sources `singles`, in order)."""

    source: nvcc.Source
    members: tuple[str, ...]
    singles: tuple[nvcc.Source, ...]


def translation_units(candidates: Sequence[KernelCandidate], per_tu: int | None = None,
                      workers: int | None = None) -> list[Unit]:
    """Group the unique `candidates` into translation units of at most `per_tu` kernels that
    share a group_key, in the order of each unit's first kernel; Hopper units of one kernel
    are then paired within their class (_paired_singles; not with per_tu = 1). With
    `workers` (the compile jobs), while there are more Hopper units than workers the two smallest of one kernel
    class are merged: a further tile costs a TU ~6-10 s against ~26 s alone, so with too few
    cores fewer, longer TUs finish sooner. A unit's source is its members' own sources,
    sorted by name, one after the other (each kernel lives in its own namespace and exports
    its own extern "C" symbols), so its text depends only on the set."""
    per_tu = per_tu or kernels_per_tu()
    unique = {c.name: c for c in candidates}
    first = {name: i for i, name in enumerate(unique)}
    groups: dict[tuple, list[KernelCandidate]] = {}
    for c in unique.values():
        groups.setdefault(group_key(c), []).append(c)
    chunks: list[list[KernelCandidate]] = []
    for members in groups.values():
        n = -(-len(members) // per_tu)  # as few units as the cap allows, balanced in size
        members = sorted(members, key=lambda c: c.name)
        chunks += [members[i * len(members) // n:(i + 1) * len(members) // n] for i in range(n)]
    if per_tu > 1:
        chunks = _paired_singles(chunks)
    if workers:
        chunks = _merged_for(chunks, workers)
    units = [_unit(chunk) for chunk in chunks]
    return sorted(units, key=lambda u: min(first[m] for m in u.members))


HEAVY_COST = 5.0  # a Hopper kernel's compile_cost: a TU of its own costs ~26 s here


def _paired_singles(chunks: list[list[KernelCandidate]]) -> list[list[KernelCandidate]]:
    """Hopper units of a single kernel merged two by two within a kernel class (by name, so
    the pairs depend only on the set): such a unit pays the ~8.5 s header parse and the host
    side for one kernel, so two 3.x conv tiles in one TU cost 35.9 CPU s here against 25.7 +
    ~26 apart (docs/compile_time.md), about the costliest unit of several epilogues (the
    gemm3x 128x256 tu4: 34.3 s). The build is throughput-bound, so ~16 s saved per pair is
    ~16 s of the build's CPU; the longest object grows by ~5% at most."""
    singles: dict[type, list[list[KernelCandidate]]] = {}
    out = []
    for chunk in chunks:
        if len(chunk) == 1 and chunk[0].compile_cost >= HEAVY_COST:
            singles.setdefault(type(chunk[0]), []).append(chunk)
        else:
            out.append(chunk)
    for same in singles.values():
        same = sorted(same, key=lambda ch: ch[0].name)
        out += [sum(same[i:i + 2], []) for i in range(0, len(same), 2)]
    return out


def _merged_for(chunks: list[list[KernelCandidate]], workers: int
                ) -> list[list[KernelCandidate]]:
    chunks = list(chunks)

    def heavy(chunk):
        return max(c.compile_cost for c in chunk) >= HEAVY_COST

    while sum(map(heavy, chunks)) > workers:
        by_class: dict[type, list[int]] = {}
        for i, chunk in enumerate(chunks):
            if heavy(chunk):
                by_class.setdefault(type(chunk[0]), []).append(i)
        pairs = [sorted(idx, key=lambda i: len(chunks[i]))[:2]
                 for idx in by_class.values() if len(idx) > 1]
        if not pairs:
            break
        i, j = sorted(min(pairs, key=lambda p: len(chunks[p[0]]) + len(chunks[p[1]])))
        chunks[i] = chunks[i] + chunks.pop(j)
    return chunks


def _unit(members: Sequence[KernelCandidate]) -> Unit:
    members = sorted(members, key=lambda c: c.name)
    singles = tuple(single_source(c) for c in members)
    if len(singles) == 1:
        return Unit(singles[0], (members[0].name,), singles)
    text = "".join(s.text if s.text.endswith("\n") else s.text + "\n" for s in singles)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    cost = max(s.cost for s in singles) * (1 + _GROUP_COST * (len(singles) - 1))
    name = f"{members[0].name}_tu{len(singles)}_{digest}"
    split = all(s.split for s in singles)
    if split != any(s.split for s in singles):  # one kernel class per unit: never happens
        raise ValueError(f"unit {name}: split and unsplit kernels together")
    return Unit(nvcc.Source(name, text, cost, host_cold=True, split=split),
                tuple(c.name for c in members), singles)


def _index_path(single: nvcc.Source) -> Path:
    return nvcc.cache_dir() / "units" / f"{hashlib.sha256(single.text.encode()).hexdigest()[:24]}"


def record_unit(unit: Unit) -> None:
    """Remember which translation unit each member was compiled in, so the model build links
    the object the profilers were linked from instead of compiling the kernel alone."""
    if len(unit.members) == 1:
        return
    text_path = nvcc.cache_dir() / "units" / f"{unit.source.name}.cu"
    _write_atomic(text_path, unit.source.text)
    for single in unit.singles:
        _write_atomic(_index_path(single), json.dumps(
            {"name": unit.source.name, "text": str(text_path), "members": unit.members}))


def _recorded_unit(single: nvcc.Source) -> tuple[nvcc.Source, set[str]] | None:
    try:
        entry = json.loads(_index_path(single).read_text())
        text = Path(entry["text"]).read_text()
        members = set(entry["members"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if single.text not in text or single.name not in members:
        return None
    return (nvcc.Source(entry["name"], text, single.cost, host_cold=True, split=single.split),
            members)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def kernel_sources(candidates: Sequence[KernelCandidate]) -> list[nvcc.Source]:
    """The translation units that hold `candidates` (unique by name, input order kept): the
    unit a kernel was compiled in for the profilers where one is recorded, else the kernel
    alone. A unit is taken only if none of its kernels is in a unit already taken, so no
    symbol is linked twice."""
    out: dict[str, nvcc.Source] = {}
    covered: set[str] = set()
    for c in {c.name: c for c in candidates}.values():
        if c.name in covered:
            continue
        single = single_source(c)
        unit, members = _recorded_unit(single) or (single, {c.name})
        if members & covered:
            unit, members = single, {c.name}
        out[unit.name] = unit
        covered |= members
    return list(out.values())


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
            tuning(self.family).profiler_template,
            candidates=self.names,
            relu=self.epilogue.activation.value == "relu",
            residual=self.epilogue.residual,
            epilogue_tag=self.epilogue.tag,
            acc=target.acc,
            tol=TOLERANCE[target.acc],
        )
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        return nvcc.Source(f"profiler_{self.family.value}_{self.epilogue.tag}_{digest}", text,
                           host_cold=True)


@dataclass(frozen=True)
class Profiler:
    path: Path
    names: tuple[str, ...]           # the candidates it holds, in its index order
    failed: tuple[tuple[str, str], ...] = ()   # (candidate, nvcc error) left out


def build_profilers(target: Target, specs: Sequence[ProfilerSpec],
                    on_ready: Callable[[ProfilerSpec, Profiler], None] | None = None,
                    jobs: int | None = None) -> dict[ProfilerSpec, Profiler]:
    """Compile every kernel and profiler main and link one profiler per spec (all cached).

    Compiles are queued in the order given: the Hopper translation units first (in spec
    order, the costliest first within a spec), then each spec's other units and its main,
    spec by spec; each spec is linked as soon as its objects are compiled (_as_ready: in
    the order given among those ready together) and `on_ready(spec, profiler)` is called as
    each profiler is linked, so the caller can profile while later specs still compile. A kernel that fails
    to compile is left out of its profilers with a warning (its error is kept in
    `Profiler.failed`), so one broken template does not stop the others."""
    specs = list(dict.fromkeys(specs))
    # the kernels in spec order, the costliest first within a spec; units follow their first
    jobs = jobs or nvcc.compile_jobs()
    units = translation_units([c for spec in specs
                               for c in sorted(spec.candidates, key=lambda c: -c.compile_cost)],
                              workers=hopper_units(jobs))
    # queue: the Hopper units first (spec by spec, costliest first): they bound the build;
    # then, spec by spec, the light units it still needs and its main, so the specs without
    # Hopper kernels link while those compile and no main holds up a long compile
    queue: list[Unit | ProfilerSpec] = []
    for heavy_pass in (True, False):
        for spec in specs:
            names = {c.name for c in spec.candidates}
            queue += sorted((u for u in units if u not in queue and names & set(u.members)
                             and (u.source.cost >= HEAVY_COST) == heavy_pass),
                            key=lambda u: -u.source.cost)
            if not heavy_pass:
                queue.append(spec)
    start = time.perf_counter()
    with (nvcc.cancel_on_interrupt(ThreadPoolExecutor(jobs)) as pool,
          nvcc.cancel_on_interrupt(ThreadPoolExecutor(2)) as linker,
          tqdm(desc="kernels", unit="obj", total=0) as bar):
        futures = dict(zip(queue, nvcc.submit_objects(pool, target, [
            q.main_source(target) if isinstance(q, ProfilerSpec) else q.source for q in queue])))
        mains = {spec: futures[spec] for spec in specs}
        unit_futures = [futures[u] for u in units]
        pending = [f for f in {*futures.values()} if not f.done()]
        objects = _member_objects(pool, target, units, unit_futures)
        bar.total = len(pending)
        bar.refresh()
        for f in pending:
            f.add_done_callback(lambda _: bar.update())
        warned: set[str] = set()
        done: dict[ProfilerSpec, Future] = {}
        for spec in _as_ready(specs, objects, mains):
            names = list(dict.fromkeys(c.name for c in spec.candidates))
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
    end = time.perf_counter()
    log.info("profilers: %d built in %.1f s (%d objects compiled; %s)", len(specs),
             end - start, len(pending), nvcc.compile_summary(start, end))
    return out


def _as_ready(specs: Sequence[ProfilerSpec], objects: dict[str, Future],
              mains: dict[ProfilerSpec, Future]):
    """The specs in the order their objects (kernels and main) finish, the given order among
    those ready together: a spec whose units are done is linked (and profiled) at once, not
    after an earlier spec that waits for a later unit (the 3x3 convs' Hopper stage needs no
    gemm3x unit, the 1x1 convs' none of the few-stage tiles)."""
    left = list(specs)
    needs = {spec: [objects[c.name] for c in spec.candidates] + [mains[spec]] for spec in specs}
    while left:
        ready = [spec for spec in left if all(f.done() for f in needs[spec])]
        if not ready:
            wait({f for spec in left for f in needs[spec] if not f.done()},
                 return_when=FIRST_COMPLETED)
            continue
        for spec in ready:
            left.remove(spec)
            yield spec


def _member_objects(pool: ThreadPoolExecutor, target: Target, units: Sequence[Unit],
                    futures: Sequence[Future]) -> dict[str, Future]:
    """{kernel name: future of the object holding it}. When a unit of several kernels fails
    to compile, its kernels are compiled one by one, so one broken kernel costs only itself."""
    out: dict[str, Future] = {}
    for unit, fut in zip(units, futures):
        if len(unit.members) == 1:
            out[unit.members[0]] = fut
            continue
        mine = {name: Future() for name in unit.members}
        out.update(mine)

        def done(f: Future, unit: Unit = unit, mine: dict[str, Future] = mine) -> None:
            if f.exception() is None:
                record_unit(unit)
                for m in mine.values():
                    m.set_result(f.result())
                return
            log.warning("translation unit %s (%s) does not compile; compiling its kernels "
                        "one by one", unit.source.name, ", ".join(unit.members))
            for m, single in zip(mine.values(),
                                 nvcc.submit_objects(pool, target, list(unit.singles))):
                single.add_done_callback(lambda s, m=m: _settle(m, s))

        fut.add_done_callback(done)
    return out


def _settle(target: Future, source: Future) -> None:
    if source.exception() is None:
        target.set_result(source.result())
    else:
        target.set_exception(source.exception())


def _link(target: Target, spec: ProfilerSpec, main: Future, objects: list[Future],
          failed: tuple[tuple[str, str], ...]) -> Profiler:
    # kernels of one translation unit share its object: link each object once
    objs = list(dict.fromkeys([main.result()] + [f.result() for f in objects]))
    digest = hashlib.sha256("\n".join(o.name for o in objs).encode()).hexdigest()[:16]
    stem = f"{spec.family.value}_{spec.epilogue.tag}_{target.acc}_sm{target.arch}"
    exe = nvcc.cache_dir() / "profilers" / f"{stem}_{digest}"
    if not nvcc.cached_object_ok(exe):
        nvcc.link_executable(target, objs, exe)
    return Profiler(exe, tuple(spec.names), failed)
