"""select_kernels: the one entry point the compiler calls to choose a kernel per op.

Flow: candidates per request -> profile cache -> build only the profilers the misses need
(in parallel; each is run over the visible GPUs as soon as it is linked, while the rest
compile) -> fastest correct candidate -> cache.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

from ait.backend import nvcc
from ait.backend.kernel import KernelCandidate
from ait.backend.target import Target
from ait.tune.build import HEAVY_COST, Profiler, ProfilerSpec, build_profilers
from ait.ir.env import env_flag
from ait.tune.cache import ProfileCache, ProfileKey
from ait.tune.candidates import all_candidates_for, candidate_set_id, require_candidates
from ait.tune.requests import Problem, Request
from ait.tune.runner import (Job, ProcessStats, Result, process_summary, run_jobs, timing_argv,
                             visible_gpus)

log = logging.getLogger(__name__)

DTYPES = "float16"  # activations, weights and outputs; accumulation is in the key separately


class ProfileError(RuntimeError):
    """No candidate produced a correct result for an op."""


class ProfileCacheMissError(RuntimeError):
    """AIT_PROFILE_CACHE_ONLY=1 and an op has no cached choice."""


def select_kernels(target: Target, requests: Iterable[Request], *, profile: bool | None = None,
                   cache: ProfileCache | None = None) -> dict[Request, KernelCandidate]:
    """Choose one kernel per request.

    profile=False, or AIT_FIXED_KERNEL=first, takes the first candidate that can implement
    the shape, with no GPU and no cache. Otherwise choices come from the profile cache;
    misses are profiled (AIT_FORCE_PROFILE=1: everything is) unless AIT_PROFILE_CACHE_ONLY=1,
    which makes a miss an error."""
    requests = list(dict.fromkeys(requests))
    cands = {r: require_candidates(target, r) for r in requests}
    fixed = os.environ.get("AIT_FIXED_KERNEL", "").strip()
    if fixed and fixed != "first":
        raise ValueError(f"AIT_FIXED_KERNEL={fixed!r}: the only supported value is 'first'")
    if profile is False or fixed == "first":
        return {r: cands[r][0] for r in requests}

    force, cache_only = env_flag("AIT_FORCE_PROFILE"), env_flag("AIT_PROFILE_CACHE_ONLY")
    if force and cache_only:
        raise ValueError("AIT_FORCE_PROFILE and AIT_PROFILE_CACHE_ONLY exclude each other")
    cache = cache if cache is not None else ProfileCache()  # an empty cache is falsy
    keys = {r: profile_key(target, r, cands[r]) for r in requests}
    chosen: dict[Request, KernelCandidate] = {}
    for r in requests:
        by_name = {c.name: c for c in cands[r]}
        entry = None if force else cache.get(keys[r])
        if entry is None and not force:
            entry = _full_list_entry(target, r, cands[r], cache)
        if entry is not None and entry.kernel in by_name:
            chosen[r] = by_name[entry.kernel]
    misses = [r for r in requests if r not in chosen]
    if misses and cache_only:
        ops = "\n  ".join(r.describe() for r in misses)
        raise ProfileCacheMissError(
            f"AIT_PROFILE_CACHE_ONLY=1 and {len(misses)} op(s) are not in the profile cache "
            f"{cache.path}:\n  {ops}")
    if misses:
        for r, (cand, ms, results) in profile_requests(target, misses, cands).items():
            cache.put(keys[r], cand.name, ms, [res.raw for res in results])
            chosen[r] = cand
    return {r: chosen[r] for r in requests}


def _full_list_entry(target: Target, request: Request, cands: list[KernelCandidate],
                     cache: ProfileCache):
    """The choice cached for the full (AIT_ALL_CANDIDATES=1) list of a pruned request, when
    its winner is in the pruned list: the fastest of a list is the fastest of any part of it
    that holds it. (The other way round never holds: a pruned choice is keyed by its own
    list and never serves the full one.)"""
    full = all_candidates_for(target, request)
    if [c.name for c in full] == [c.name for c in cands]:
        return None
    entry = cache.get(profile_key(target, request, full))
    return entry if entry is not None and entry.kernel in {c.name for c in cands} else None


def profile_key(target: Target, request: Request, cands: list[KernelCandidate]) -> ProfileKey:
    return ProfileKey(
        family=request.family.value,
        epilogue=request.epilogue.tag,
        dims=request.dims(),
        dtypes=DTYPES,
        arch=target.arch,
        cutlass_version=target.cutlass_version,
        acc=target.acc,
        candidate_set=candidate_set_id(request.family, cands),
    )


def shape_jobs(profiler: Profiler, requests: Iterable[Request]) -> list[tuple[Job, list[Request]]]:
    """One job per problem of `requests` (all of one profiler): the requests that differ only
    in batch share a process, which reports them in increasing batch order."""
    by_problem: dict[Problem, list[Request]] = defaultdict(list)
    for r in requests:
        by_problem[r.problem].append(r)
    out = []
    for problem, rs in by_problem.items():
        rs = sorted(rs, key=lambda r: r.batch)
        batches = ", ".join(str(r.batch) for r in rs)
        label = f"{rs[0].describe()} ({problem.batch_flag} = {batches})"
        out.append((Job(profiler.path, tuple(problem.argv()), profiler.names, label,
                        tuple(r.batch for r in rs), problem.batch_flag), rs))
    return out


def profile_requests(target: Target, requests: list[Request],
                     cands: dict[Request, list[KernelCandidate]]
                     ) -> dict[Request, tuple[KernelCandidate, float, list[Result]]]:
    """Build the needed profilers and run them, the GPUs starting on each profiler as soon as
    it is linked while nvcc goes on with the rest (a request's 2.x candidates are timed while
    its Hopper ones still compile: stage_specs); return (fastest correct candidate, ms,
    results) per request."""
    gpus = visible_gpus()  # before any compile: no GPU is an error at once
    timing_argv()  # and so is a bad AIT_PROFILE_SAMPLES
    specs = {r: stage_specs(r, cands[r]) for r in requests}
    by_spec: dict[ProfilerSpec, list[Request]] = defaultdict(list)
    for r in requests:
        for spec in specs[r]:
            by_spec[spec].append(r)
    # the profilers without Hopper kernels first (they link in seconds), most problems first
    order = sorted(by_spec, key=lambda s: (_heavy(s), -len(by_spec[s])))
    n_jobs = len({(s, r.problem) for s, rs in by_spec.items() for r in rs})
    ready: queue.Queue = queue.Queue()
    profilers: dict[ProfilerSpec, Profiler] = {}
    build_error: list[BaseException] = []
    clock: dict[str, float] = {"start": time.perf_counter()}

    def build() -> None:
        try:
            # one core stays free per GPU for the profiler processes
            jobs = nvcc.compile_jobs(reserve=len(gpus))
            profilers.update(build_profilers(target, order, lambda s, p: ready.put((s, p)),
                                             jobs=jobs))
        except BaseException as e:  # noqa: BLE001 -- re-raised after the GPUs stop
            build_error.append(e)
        finally:
            clock["built"] = time.perf_counter()
            ready.put(None)

    queued: list[list[Request]] = []

    def ready_jobs():
        while (item := ready.get()) is not None:
            clock.setdefault("first", time.perf_counter())
            spec, prof = item
            if prof.names:
                for job, rs in shape_jobs(prof, by_spec[spec]):
                    queued.append(rs)
                    yield job

    timeline: list[tuple[str, float, float]] = []
    processes: list[ProcessStats] = []
    builder = threading.Thread(target=build, name="ait-profiler-build", daemon=True)
    builder.start()
    try:
        results = run_jobs(ready_jobs(), gpus, total=n_jobs, timeline=timeline,
                           processes=processes)
    except BaseException:
        nvcc.cancel_builds()  # Ctrl-C or a runner failure: do not wait for the whole build
        raise
    finally:
        builder.join()
    t = {k: v - clock["start"] for k, v in clock.items()}
    log.info("kernel selection: %d problems in %d profiler processes on %d GPU(s); first "
             "profiler ready at %.1f s, all built at %.1f s, profiling done at %.1f s",
             len(requests), len(queued), len(gpus), t.get("first", float("nan")), t["built"],
             time.perf_counter() - clock["start"])
    log.info("profiling: %s", _timeline_summary(timeline, clock, len(gpus)))
    log.info("profiler processes: %s", process_summary(processes))
    # run_jobs keeps the order the jobs were queued in; each job's results are per batch
    ran: dict[Request, list[Result]] = defaultdict(list)
    for rs, per_batch in zip(queued, results):
        for r, res in zip(rs, per_batch):
            ran[r] += res
    if build_error:
        raise build_error[0]
    out = {}
    for r in requests:
        failed = [Result(name, "compile_error", raw={"name": name, "status": "compile_error",
                                                      "error": err[-2000:]})
                  for spec in specs[r] for name, err in profilers[spec].failed]
        out[r] = _best(r, cands[r], ran[r] + failed)
    return out


def _timeline_summary(timeline: list[tuple[str, float, float]], clock: dict[str, float],
                      n_gpus: int) -> str:
    """Where the profiling time went: GPU-process seconds in all and after the build ended
    (the tail a cold compile waits for), and the longest processes of that tail."""
    if not timeline:
        return "no profiler processes ran"
    built = clock["built"]
    busy = sum(end - start for _, start, end in timeline)
    tail = [(label, start, end) for label, start, end in timeline if end > built]
    tail_busy = sum(end - max(start, built) for _, start, end in tail)
    longest = sorted(tail, key=lambda t: t[1] - t[2])[:3]
    return (f"{busy:.1f} s in {len(timeline)} processes on {n_gpus} GPU(s); after the last "
            f"profiler was built: {tail_busy:.1f} s in {len(tail)} processes, the longest "
            + "; ".join(f"{label} {end - start:.1f} s" for label, start, end in longest))


def _heavy(spec: ProfilerSpec) -> bool:
    return any(c.compile_cost >= HEAVY_COST for c in spec.candidates)


def stage_specs(request: Request, cands: list[KernelCandidate]) -> list[ProfilerSpec]:
    """The profilers one request is timed in: its cheap-to-compile candidates (2.x, GEMV) in
    one, its Hopper ones in another, so the GPU times the first while nvcc still builds the
    second (a Hopper translation unit takes ~30 s, a 2.x one ~5 s). The fastest correct
    candidate is chosen over both."""
    light = tuple(c for c in cands if c.compile_cost < HEAVY_COST)
    heavy = tuple(c for c in cands if c.compile_cost >= HEAVY_COST)
    return [ProfilerSpec(request.family, request.epilogue, part)
            for part in (light, heavy) if part]


def _best(request: Request, cands: list[KernelCandidate], results: list[Result]):
    wrong = [res.name for res in results if res.status == "wrong"]
    if wrong:
        log.warning("%s: rejected wrong results from %s", request.describe(), ", ".join(wrong))
    ok = [(res.ms, res.name) for res in results if res.status == "ok" and res.ms is not None]
    if not ok:
        summary = defaultdict(list)
        for res in results:
            summary[res.status].append(res.name)
        detail = "; ".join(f"{status}: {', '.join(names)}" for status, names in summary.items())
        raise ProfileError(f"no kernel candidate works for {request.describe()} ({detail})")
    ms, name = min(ok)
    return next(c for c in cands if c.name == name), ms, results
