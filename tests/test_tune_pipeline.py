"""profile_requests overlaps building profilers with running them (no GPU, no nvcc: both are
replaced by fakes that record what happened when)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

import ait.tune.runner as runner_mod
import ait.tune.select as select_mod
from ait.backend.target import Target
from ait.ir.epilogue import BIAS, BIAS_RELU
from ait.tune.build import Profiler
from ait.tune.candidates import candidates_for
from ait.ops.conv2d import ConvRequest
from ait.tune.runner import Result

TARGET = Target.for_arch(90, nvcc="nvcc")
# two specs: three 3x3 bias_relu problems share one, one 1x1 bias problem has the other
FIRST = [ConvRequest.of(BIAS_RELU, n, 14, 14, 64, 64, 3, 3, (1, 1)) for n in (1, 2, 4)]
SECOND = [ConvRequest.of(BIAS, 1, 14, 14, 64, 256, 1, 1)]


class Log(list):
    specs: list = []


@pytest.fixture
def fakes(monkeypatch):
    """build_profilers readies the 3x3 spec, then holds the 1x1 one back until a GPU worker
    has started a job of the first: that only happens if profiling overlaps the build."""
    log = Log()
    first_job_started = threading.Event()

    def fake_build(target, specs, on_ready=None, jobs=None):
        out = {}
        log.specs = [(spec, None) for spec in specs]
        for i, spec in enumerate(specs):
            if i == 1:
                assert first_job_started.wait(10), "no job ran while the build went on"
                log.append("built second")
            prof = Profiler(Path(f"/fake/{spec.epilogue.tag}"), tuple(spec.names))
            out[spec] = prof
            on_ready(spec, prof)
        return out

    def fake_run_job(job, gpu, timeout_s=None, processes=None):
        log.append(f"ran {job.label} on {gpu}")
        first_job_started.set()
        # the first candidate is the fastest for 3x3, the last one for 1x1; ms = batch
        fast = (candidates_for(TARGET, FIRST[0])[0] if "bias_relu" in job.label
                else candidates_for(TARGET, SECOND[0])[-1]).name
        return [[Result(n, "ok", float(b) if n == fast else 9.0) for n in job.names]
                for b in job.batches]

    monkeypatch.setattr(select_mod, "build_profilers", fake_build)
    monkeypatch.setattr(runner_mod, "run_job", fake_run_job)
    monkeypatch.setattr(select_mod, "visible_gpus", lambda: ["0", "1"])
    return log


def test_profiling_starts_before_the_last_profiler_is_built(fakes):
    requests = SECOND + FIRST  # the spec with more problems is built (and run) first
    cands = {r: candidates_for(TARGET, r) for r in requests}
    out = select_mod.profile_requests(TARGET, requests, cands)
    assert set(out) == set(requests)
    built = fakes.index("built second")
    assert any(line.startswith("ran conv2d bias_relu") for line in fakes[:built])
    # one process per shape and stage: the three batches of the 3x3 conv share one; the
    # 2.x candidates of every shape (their own profilers) come before the Hopper ones
    ran = [line.rsplit(" on ", 1)[0] for line in fakes if line.startswith("ran ")]
    assert ran == 2 * [
        "ran conv2d bias_relu [n=1 h=14 w=14 c=64 k=64 r=3 s=3 pad=(1, 1) stride=(1, 1) "
        "dilation=(1, 1)] (n = 1, 2, 4)",
        "ran conv2d bias [n=1 h=14 w=14 c=64 k=256 r=1 s=1 pad=(0, 0) stride=(1, 1) "
        "dilation=(1, 1)] (n = 1)"]
    specs = [s for s, _ in fakes.specs]
    assert [select_mod._heavy(s) for s in specs] == [False, False, True, True]
    for r in requests:  # every candidate of a request is timed, in one stage or the other
        assert sorted(n for s in select_mod.stage_specs(r, cands[r]) for n in s.names) == \
            sorted(c.name for c in cands[r])
    for r in FIRST:  # each request got its own batch's results, not another's
        best, ms, results = out[r]
        assert best.name == cands[r][0].name and ms == r.n and len(results) == len(cands[r])
    best, _, _ = out[SECOND[0]]
    assert best.name == cands[SECOND[0]][-1].name


def test_a_failed_build_is_raised_after_the_gpus_stop(monkeypatch):
    def broken_build(target, specs, on_ready=None, jobs=None):
        raise RuntimeError("nvcc exploded")

    monkeypatch.setattr(select_mod, "build_profilers", broken_build)
    monkeypatch.setattr(select_mod, "visible_gpus", lambda: ["0"])
    cands = {r: candidates_for(TARGET, r) for r in FIRST}
    with pytest.raises(RuntimeError, match="nvcc exploded"):
        select_mod.profile_requests(TARGET, FIRST, cands)


def test_no_gpu_fails_before_compiling(monkeypatch):
    def no_gpu():
        raise runner_mod.NoGpuError("no GPU")

    def must_not_build(*a, **k):
        raise AssertionError("built profilers without a GPU")

    monkeypatch.setattr(select_mod, "visible_gpus", no_gpu)
    monkeypatch.setattr(select_mod, "build_profilers", must_not_build)
    cands = {r: candidates_for(TARGET, r) for r in FIRST}
    with pytest.raises(runner_mod.NoGpuError):
        select_mod.profile_requests(TARGET, FIRST, cands)


def test_a_spec_without_working_kernels_names_the_compile_errors(monkeypatch):
    def failing_build(target, specs, on_ready=None, jobs=None):
        out = {}
        for spec in specs:
            prof = Profiler(Path(), (), tuple((n, "error: boom") for n in spec.names))
            out[spec] = prof
            on_ready(spec, prof)
        return out

    monkeypatch.setattr(select_mod, "build_profilers", failing_build)
    monkeypatch.setattr(select_mod, "visible_gpus", lambda: ["0"])
    cands = {r: candidates_for(TARGET, r) for r in SECOND}
    with pytest.raises(select_mod.ProfileError, match="compile_error"):
        select_mod.profile_requests(TARGET, SECOND, cands)


def test_validate_reports_each_batch_of_a_shared_process(monkeypatch, tmp_path, capsys):
    """`python -m ait.tune.validate` runs one job per shape and prints one line per batch,
    each with its own batch's results."""
    import json
    from types import SimpleNamespace

    from ait.tune import validate
    from ait.tune.build import ProfilerSpec

    reqs = [(f"label {r.n}", r) for r in FIRST]
    specs = {r: ProfilerSpec(r.family, r.epilogue, tuple(candidates_for(TARGET, r)))
             for _, r in reqs}
    prof = Profiler(Path("/fake/p"), tuple(next(iter(specs.values())).names))
    profilers = {s: prof for s in specs.values()}
    jobs_seen = []

    def fake_run_jobs(jobs, on_result=None, **kw):
        jobs = list(jobs)
        jobs_seen.extend(jobs)
        for i, job in enumerate(jobs):
            on_result(i, [[Result(n, "ok", float(b), raw={"name": n, "batch": b})
                           for n in job.names] for b in job.batches])

    monkeypatch.setattr(validate, "run_jobs", fake_run_jobs)
    out = tmp_path / "v.jsonl"
    failures = validate.profile(reqs, specs, profilers, SimpleNamespace(out=str(out)))
    assert failures == 0 and len(jobs_seen) == 1 and jobs_seen[0].batches == (1, 2, 4)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["label"] for line in lines] == ["label 1", "label 2", "label 4"]
    assert [line["results"][0]["batch"] for line in lines] == [1, 2, 4]
    printed = capsys.readouterr().out
    assert "N=4   label 4" in printed and "3 problems (1 shapes)" in printed
