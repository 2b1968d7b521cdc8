"""Run profiler executables as subprocesses, one worker per visible GPU, and read their JSON.

A candidate that crashes or hangs its process is recorded (status "crashed" / "timeout"), a
warning names it, and the remaining candidates run again in a fresh process.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ait.backend.target import NoGpuError, gpu_count

log = logging.getLogger(__name__)

BASE_TIMEOUT_S = 60.0           # process start, input fill and the fp32 reference
PER_CANDIDATE_TIMEOUT_S = 20.0  # one candidate: first run, check and timing


@dataclass(frozen=True)
class Job:
    """Profile one problem: `argv` describes the shape, `names` the profiler's candidates."""

    profiler: Path
    argv: tuple[str, ...]
    names: tuple[str, ...]
    label: str               # for messages: the op and its shape


@dataclass
class Result:
    name: str
    status: str              # ok | cannot_implement | wrong | crashed | timeout | cuda_error | ...
    ms: float | None = None
    max_rel_err: float | None = None
    raw: dict = field(default_factory=dict)


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
             on_result: Callable[[int, list[Result]], None] | None = None,
             total: int | None = None) -> list[list[Result]]:
    """Results per job (iteration order), each list in the profiler's candidate order.

    `jobs` may be a generator that blocks until the next job is ready (profilers still being
    built): each GPU's worker takes the next job when it is free. `on_result(job index,
    results)` is called as each job finishes (under a lock); `total` sizes the progress bar
    when `jobs` has no length."""
    gpus = list(gpus) if gpus is not None else visible_gpus()
    source = enumerate(jobs)
    take = threading.Lock()
    results: dict[int, list[Result]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    size = total if total is not None else (len(jobs) if hasattr(jobs, "__len__") else None)
    with tqdm(total=size, desc="profiling", unit="op") as bar:
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
                    res = run_job(job, gpu, timeout_s)
                    with lock:
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


def run_job(job: Job, gpu: str, timeout_s: float | None = None) -> list[Result]:
    """Run every candidate of `job` on `gpu`, restarting after a crash or a hang.
    `timeout_s` bounds one candidate (default PER_CANDIDATE_TIMEOUT_S)."""
    done: dict[int, Result] = {}
    remaining = list(range(len(job.names)))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
    while remaining:
        cmd = [str(job.profiler), *job.argv]
        if len(remaining) < len(job.names):
            cmd += ["--cand", *map(str, remaining)]
        messages, stderr, code, timed_out = _run_watched(
            cmd, env, timeout_s or PER_CANDIDATE_TIMEOUT_S)
        started = None
        for msg in messages:
            if "start" in msg:
                started = int(msg["index"])
            elif "status" in msg and "index" in msg:
                idx = int(msg["index"])
                done[idx] = Result(msg["name"], msg["status"], msg.get("ms"),
                                   msg.get("max_rel_err"), msg)
                if msg["status"] == "cuda_error":
                    log.warning("%s: candidate %s failed with a CUDA error (%s); continuing "
                                "with the others", job.label, msg["name"], msg.get("error"))
                started = None
        if started is not None and started not in done:
            status = "timeout" if timed_out else "crashed"
            log.warning("%s: candidate %s %s (exit %s); skipping it: %s", job.label,
                        job.names[started], status, code, stderr.strip()[-500:])
            done[started] = Result(job.names[started], status, raw={"stderr": stderr[-2000:]})
        progressed = [i for i in remaining if i in done]
        remaining = [i for i in remaining if i not in done]
        if remaining and not progressed:
            # The profiler failed before any candidate ran (bad shape, out of memory, ...).
            reason = "timed out" if timed_out else f"exited with {code}"
            log.warning("%s: profiler %s before running a candidate: %s", job.label, reason,
                        stderr.strip()[-1000:])
            for i in remaining:
                done[i] = Result(job.names[i], "profiler_error", raw={"stderr": stderr[-2000:]})
            remaining = []
    return [done[i] for i in range(len(job.names))]


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

