"""Run profiler executables as subprocesses, one worker per visible GPU, and read their JSON.

One process profiles one shape at every batch it is given (`--n 1 2 4 ...`): the CUDA
start-up, the input fill and the fp32 reference are paid once per shape, not per batch.
A candidate that crashes or hangs its process is recorded (status "crashed" / "timeout"), a
warning names it, and the remaining (batch, candidate) pairs run again in a fresh process.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ait.backend.target import NoGpuError, gpu_count
from ait.ir.env import env_count

log = logging.getLogger(__name__)

BASE_TIMEOUT_S = 60.0           # process start, input fill and the fp32 reference
PER_CANDIDATE_TIMEOUT_S = 20.0  # one candidate: first run, check and timing
# AIT_PROFILE_SAMPLES=N: timed samples per candidate and batch (the profiler's default, 25,
# when unset); fewer shortens the profiling, a trade of selection noise for compile time
# that is to be measured, not assumed. The quick screen stays at 5 samples (or N if fewer).
SAMPLES_ENV = "AIT_PROFILE_SAMPLES"


@dataclass(frozen=True)
class Job:
    """Profile one shape: `argv` describes it, `names` are the profiler's candidates. With
    `batches`, the profiler gets `--<batch_flag> b1 b2 ...` and reports each batch apart."""

    profiler: Path
    argv: tuple[str, ...]
    names: tuple[str, ...]
    label: str               # for messages: the op and its shape
    batches: tuple[int, ...] = ()
    batch_flag: str = "n"

    @property
    def problems(self) -> tuple[int | None, ...]:
        return self.batches or (None,)


@dataclass
class Result:
    name: str
    status: str              # ok | cannot_implement | wrong | crashed | timeout | cuda_error | ...
    ms: float | None = None
    max_rel_err: float | None = None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProcessStats:
    """Where one profiler process's time went (seconds): `wall` from start to exit as the tuner
    saw it; `setup` until its first candidate (process start, CUDA context, inputs,
    reference) and `done` until its last ended, as the profiler reports them (None when it
    did not get there: a crash, a kill, a profiler of an older template)."""

    label: str
    wall: float
    setup: float | None
    done: float | None
    timings: int  # candidate results it reported


def visible_gpus() -> list[str]:
    """Device ids to spread profiling over: CUDA_VISIBLE_DEVICES' entries, else every GPU."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        gpus = [g.strip() for g in env.split(",") if g.strip()]
    else:
        gpus = [str(i) for i in range(gpu_count())]
    if not gpus:
        raise NoGpuError(
            "profiling needs a GPU and none is visible (CUDA_VISIBLE_DEVICES="
            f"{env!r}); set AIT_FIXED_KERNEL=first or pass profile=False to pick kernels "
            "without profiling, or fill the profile cache on a GPU machine first")
    return gpus


def run_jobs(jobs: Iterable[Job], gpus: Sequence[str] | None = None,
             timeout_s: float | None = None,
             on_result: Callable[[int, list[list[Result]]], None] | None = None,
             total: int | None = None,
             timeline: list[tuple[str, float, float]] | None = None,
             processes: list[ProcessStats] | None = None
             ) -> list[list[list[Result]]]:
    """Results per job (iteration order), per problem (`Job.problems` order), each list in
    the profiler's candidate order.

    `jobs` may be a generator that blocks until the next job is ready (profilers still being
    built): each GPU's worker takes the next job when it is free. `on_result(job index,
    results)` is called as each job finishes (under a lock); `total` sizes the progress bar
    when `jobs` has no length. `timeline` gets (label, start, end) of each job
    (perf_counter seconds), `processes` the ProcessStats of each profiler process."""
    gpus = list(gpus) if gpus is not None else visible_gpus()
    source = enumerate(jobs)
    take = threading.Lock()
    results: dict[int, list[list[Result]]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    size = total if total is not None else (len(jobs) if hasattr(jobs, "__len__") else None)
    with tqdm(total=size, desc="profiling", unit="shape") as bar:
        def worker(gpu: str) -> None:
            while True:
                try:
                    with take:
                        i, job = next(source)
                except StopIteration:
                    return
                except Exception as e:  # noqa: BLE001 -- the job source failed: stop
                    errors.append(e)
                    return
                try:
                    start = time.perf_counter()
                    res = run_job(job, gpu, timeout_s, processes=processes)
                    with lock:
                        if timeline is not None:
                            timeline.append((job.label, start, time.perf_counter()))
                        results[i] = res
                        if on_result is not None:
                            on_result(i, res)
                except Exception as e:  # noqa: BLE001 -- re-raised once every worker stops
                    errors.append(e)
                bar.update()

        threads = [threading.Thread(target=worker, args=(g,), daemon=True) for g in gpus]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(results))]


def run_job(job: Job, gpu: str, timeout_s: float | None = None,
            processes: list[ProcessStats] | None = None) -> list[list[Result]]:
    """Run every candidate of `job` at each of its batches on `gpu`, restarting after a crash
    or a hang. `timeout_s` bounds one candidate (default PER_CANDIDATE_TIMEOUT_S); each
    process's ProcessStats are appended to `processes` (a list shared by threads: append
    only)."""
    everything = [(b, i) for b in job.problems for i in range(len(job.names))]
    done: dict[tuple[int | None, int], Result] = {}
    remaining = list(everything)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
    while remaining:
        plan = _planned(job, remaining)
        cmd = [str(job.profiler), *job.argv, *_plan_argv(job, plan), *timing_argv()]
        start = time.perf_counter()
        messages, stderr, code, timed_out = _run_watched(
            cmd, env, timeout_s or PER_CANDIDATE_TIMEOUT_S)
        if processes is not None:
            processes.append(_stats(job.label, time.perf_counter() - start, messages))
        started = None
        for msg in messages:
            batch = msg.get("batch") if job.batches else None
            key = (batch, int(msg["index"])) if "index" in msg else None
            if "start" in msg:
                started = key
            elif "status" in msg and key is not None:
                done[key] = Result(msg["name"], msg["status"], msg.get("ms"),
                                   msg.get("max_rel_err"), msg)
                if msg["status"] == "cuda_error":
                    log.warning("%s: candidate %s failed with a CUDA error (%s); continuing "
                                "with the others", _where(job, key[0]), msg["name"],
                                msg.get("error"))
                started = None
        if started is not None and started not in done:
            status = "timeout" if timed_out else "crashed"
            name = job.names[started[1]]
            log.warning("%s: candidate %s %s (exit %s); skipping it: %s",
                        _where(job, started[0]), name, status, code, stderr.strip()[-500:])
            done[started] = Result(name, status, raw={"stderr": stderr[-2000:]})
        progressed = [p for p in plan if p in done]
        remaining = [p for p in remaining if p not in done]
        if remaining and not progressed:
            # The profiler failed before any candidate ran (bad shape, out of memory, ...).
            reason = "timed out" if timed_out else f"exited with {code}"
            log.warning("%s: profiler %s before running a candidate: %s", job.label, reason,
                        stderr.strip()[-1000:])
            for b, i in remaining:
                done[b, i] = Result(job.names[i], "profiler_error",
                                    raw={"stderr": stderr[-2000:]})
            remaining = []
    return [[done[b, i] for i in range(len(job.names))] for b in job.problems]


def _stats(label: str, wall: float, messages: list[dict]) -> ProcessStats:
    def reported(key: str) -> float | None:
        return next((float(m[key]) for m in messages if isinstance(m.get(key), (int, float))),
                    None)

    return ProcessStats(label, wall, reported("setup_s"), reported("done_s"),
                        sum(1 for m in messages if "status" in m))


def process_summary(processes: list[ProcessStats]) -> str:
    """One line: how the profiler processes' wall time splits into setup (to the first
    candidate), candidates and the rest (process start before main, exit), over the
    processes that reported both figures."""
    if not processes:
        return "no profiler processes"
    full = [p for p in processes if p.setup is not None and p.done is not None]
    wall = sum(p.wall for p in processes)
    if not full:
        return f"{len(processes)} processes, {wall:.1f} s; none reported its setup"
    setup = sum(p.setup for p in full)
    work = sum(p.done - p.setup for p in full)
    rest = sum(p.wall - p.done for p in full)
    n = sum(p.timings for p in full)
    return (f"{len(processes)} processes, {wall:.1f} s: setup {setup:.1f} s "
            f"({setup / len(full):.2f} s each: process, CUDA context, inputs, reference), "
            f"{n} candidate runs {work:.1f} s ({1e3 * work / max(n, 1):.1f} ms each), "
            f"start and exit {rest:.1f} s" +
            ("" if len(full) == len(processes) else
             f" ({len(processes) - len(full)} of them reported no end)"))


def _planned(job: Job, remaining: list[tuple[int | None, int]]) -> list[tuple[int | None, int]]:
    """The pairs the next process runs: the batches whose remaining candidates are the same
    as the first remaining batch's (after a crash: that batch's candidates after the crashed
    one, then every later batch in the next process)."""
    by_batch: dict[int | None, list[int]] = {}
    for b, i in remaining:
        by_batch.setdefault(b, []).append(i)
    first = next(iter(by_batch.values()))
    return [(b, i) for b, cands in by_batch.items() if cands == first for i in cands]


def _plan_argv(job: Job, plan: list[tuple[int | None, int]]) -> list[str]:
    batches = list(dict.fromkeys(b for b, _ in plan))
    cands = list(dict.fromkeys(i for _, i in plan))
    argv = [f"--{job.batch_flag}", *map(str, batches)] if job.batches else []
    if len(cands) < len(job.names):
        argv += ["--cand", *map(str, cands)]
    return argv


def timing_argv() -> list[str]:
    """The profiler flags AIT_PROFILE_SAMPLES asks for (none when unset); a bad value is an
    AitError naming it."""
    samples = env_count(SAMPLES_ENV)
    return [] if samples is None else ["--samples", str(samples), "--quick", str(min(5, samples))]


def _where(job: Job, batch: int | None) -> str:
    return job.label if batch is None else f"{job.label} at {job.batch_flag}={batch}"


def _run_watched(cmd: list[str], env: dict, per_candidate_s: float
                 ) -> tuple[list[dict], str, int | None, bool]:
    """Run a profiler, reading its JSON lines as they come; kill it when the setup takes
    longer than BASE_TIMEOUT_S or one candidate longer than `per_candidate_s` (a hang)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    err: list[str] = []

    def pump_stdout():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threads = [threading.Thread(target=pump_stdout, daemon=True),
               threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)]
    for t in threads:
        t.start()
    messages: list[dict] = []
    budget = BASE_TIMEOUT_S + per_candidate_s
    timed_out = False
    while True:
        try:
            line = lines.get(timeout=budget)
        except queue.Empty:
            timed_out = True
            proc.kill()
            break
        if line is None:
            break
        if (msg := _json(line)) is not None:
            messages.append(msg)
            budget = per_candidate_s  # the clock restarts at every line
    code = proc.wait()
    for t in threads:
        t.join(timeout=5)
    return messages, "".join(err), None if timed_out else code, timed_out


def _json(line: str) -> dict | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None  # a line cut by a kill

