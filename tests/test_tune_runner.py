"""The profiler runner against a fake profiler: crashes, hangs, wrong results, GPU spread."""
from __future__ import annotations

import logging
import stat
import sys
import textwrap
from types import SimpleNamespace

import pytest

from ait.ir.epilogue import BIAS_RELU
from ait.ops.conv2d import ConvRequest
from ait.tune.runner import Job, Result, process_summary, run_job, run_jobs, visible_gpus
from ait.tune.select import ProfileError, _best

NAMES = ("k_fast", "k_crash", "k_hang", "k_wrong", "k_slow", "k_unsupported")

# Behaves like a generated profiler: JSON lines, --n lists batches, --cand selects candidates.
# k_crash crashes at every batch but 4; k_hang hangs at batch 1 or when no batch is given.
FAKE = textwrap.dedent("""\
    import json, os, sys, time
    names = {names!r}
    argv = sys.argv[1:]
    if "--fail-setup" in argv:
        print("cudaMalloc: out of memory", file=sys.stderr)
        sys.exit(4)
    def values(flag):
        if flag not in argv:
            return None
        out = []
        for a in argv[argv.index(flag) + 1:]:
            if a.startswith("--"):
                break
            out.append(int(a))
        return out
    sel = values("--cand") or range(len(names))
    def emit(d):
        print(json.dumps(d), flush=True)
    emit({{"setup_s": 0.25}})
    for batch in values("--n") or [None]:
        for i in sel:
            name = names[i]
            where = {{"index": i}} if batch is None else {{"index": i, "batch": batch}}
            emit({{"start": name, **where}})
            if name == "k_crash" and batch != 4:
                os._exit(139)
            if name == "k_hang" and batch in (None, 1):
                time.sleep(60)
            if name == "k_wrong":
                emit({{"name": name, **where, "status": "wrong", "max_rel_err": 0.7}})
            elif name == "k_unsupported":
                emit({{"name": name, **where, "status": "cannot_implement"}})
            else:
                ms = 0.01 if name == "k_fast" else 0.05
                emit({{"name": name, **where, "status": "ok", "ms": ms * (batch or 1),
                      "max_rel_err": 1e-4, "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
                      "argv": argv}})
    emit({{"done_s": 0.5}})
""")


@pytest.fixture
def fake_profiler(tmp_path):
    path = tmp_path / "fake_profiler"
    path.write_text(f"#!{sys.executable}\n" + FAKE.format(names=NAMES))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _job(profiler, argv=(), batches=()):
    return Job(profiler, tuple(argv), NAMES, "conv2d bias_relu [test]", batches)


def test_crash_and_hang_are_skipped(fake_profiler, caplog):
    with caplog.at_level(logging.WARNING):
        (res,) = run_job(_job(fake_profiler), "0", timeout_s=3)
    assert [r.name for r in res] == list(NAMES)
    assert [r.status for r in res] == ["ok", "crashed", "timeout", "wrong", "ok",
                                       "cannot_implement"]
    assert res[0].ms == 0.01 and res[0].raw["gpu"] == "0"
    assert "k_crash crashed" in caplog.text and "k_hang timeout" in caplog.text


def test_batches_share_a_process_and_a_crash_resumes_after_it(fake_profiler, caplog):
    """Batches 1, 2, 4 in one process: the hang at batch 1 and the crashes at 1 and 2 each
    restart the profiler with what is left (that batch's later candidates, then the later
    batches), so every (batch, candidate) pair is reported once, in order."""
    with caplog.at_level(logging.WARNING):
        res = run_job(_job(fake_profiler, batches=(1, 2, 4)), "0", timeout_s=3)
    assert [[r.name for r in per] for per in res] == [list(NAMES)] * 3
    status = [[r.status for r in per] for per in res]
    assert status[0] == ["ok", "crashed", "timeout", "wrong", "ok", "cannot_implement"]
    assert status[1] == ["ok", "crashed", "ok", "wrong", "ok", "cannot_implement"]
    assert status[2] == ["ok", "ok", "ok", "wrong", "ok", "cannot_implement"]
    assert [per[0].ms for per in res] == [0.01, 0.02, 0.04]  # each batch's own timing
    # the process after the crash at batch 2 ran batch 2 from k_hang on, then batch 4
    assert res[1][2].raw["argv"] == ["--n", "2", "--cand", "2", "3", "4", "5"]
    assert res[2][0].raw["argv"] == ["--n", "4"]
    assert "at n=2" in caplog.text and "k_crash crashed" in caplog.text


def test_setup_failure_marks_every_candidate(fake_profiler, caplog):
    with caplog.at_level(logging.WARNING):
        (res,) = run_job(_job(fake_profiler, ["--fail-setup"]), "0", timeout_s=5)
    assert {r.status for r in res} == {"profiler_error"}
    assert "out of memory" in caplog.text
    request = ConvRequest.of(BIAS_RELU, 1, 8, 8, 64, 64, 3, 3, (1, 1))
    with pytest.raises(ProfileError, match=r"no kernel candidate works for conv2d bias_relu"):
        _best(request, [SimpleNamespace(name=n) for n in NAMES], res)


def test_best_rejects_wrong_and_takes_fastest():
    res = [Result("a", "wrong", 0.001), Result("b", "ok", 0.02), Result("c", "ok", 0.01),
           Result("d", "cannot_implement")]
    cands = [SimpleNamespace(name=n) for n in "abcd"]
    request = ConvRequest.of(BIAS_RELU, 1, 8, 8, 64, 64, 3, 3, (1, 1))
    assert _best(request, cands, res) == (cands[2], 0.01, res)


def test_jobs_spread_over_gpus(tmp_path):
    names = ("k0",)
    path = tmp_path / "slow_profiler"
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent("""\
        import json, os, time
        print(json.dumps({"start": "k0", "index": 0}), flush=True)
        time.sleep(0.3)
        print(json.dumps({"name": "k0", "index": 0, "status": "ok", "ms": 1.0,
                          "gpu": os.environ["CUDA_VISIBLE_DEVICES"]}), flush=True)
    """))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    jobs = [Job(path, (), names, f"job {i}") for i in range(6)]
    results = run_jobs(jobs, gpus=["3", "5"])
    assert [len(r) for r in results] == [1] * 6 and [len(r[0]) for r in results] == [1] * 6
    assert {r[0][0].raw["gpu"] for r in results} == {"3", "5"}


def test_visible_gpus(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0, 2,GPU-abc")
    assert visible_gpus() == ["0", "2", "GPU-abc"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(Exception, match="AIT_FIXED_KERNEL=first"):
        visible_gpus()



def test_each_process_reports_where_its_time_went(fake_profiler):
    """setup_s / done_s from the profiler, the wall time from the runner; a process that
    crashed or was killed reported no end. The summary splits the time three ways."""
    processes = []
    run_job(_job(fake_profiler, batches=(4,)), "0", timeout_s=3, processes=processes)
    (p,) = processes  # no crash at batch 4 (k_hang only hangs at batch 1): one process
    assert (p.setup, p.done, p.timings) == (0.25, 0.5, len(NAMES)) and p.wall > 0
    crashed = []
    run_job(_job(fake_profiler, batches=(2,)), "0", timeout_s=3, processes=crashed)
    assert len(crashed) == 2 and crashed[0].setup == 0.25 and crashed[0].done is None
    line = process_summary(processes + crashed)
    assert line.startswith("3 processes") and "setup 0.8 s" not in line
    assert "setup 0.5 s (0.25 s each" in line and "(1 of them reported no end)" in line
    assert process_summary([]) == "no profiler processes"


def test_profile_samples_reach_the_profiler_and_bad_values_are_named(fake_profiler, monkeypatch):
    from ait.ir.errors import AitError

    monkeypatch.delenv("AIT_PROFILE_SAMPLES", raising=False)
    (res,) = run_job(_job(fake_profiler, batches=(4,)), "0", timeout_s=3)
    assert "--samples" not in res[0].raw["argv"]
    monkeypatch.setenv("AIT_PROFILE_SAMPLES", "3")
    (res,) = run_job(_job(fake_profiler, batches=(4,)), "0", timeout_s=3)
    argv = res[0].raw["argv"]
    assert argv[argv.index("--samples"):argv.index("--samples") + 4] == [
        "--samples", "3", "--quick", "3"]
    monkeypatch.setenv("AIT_PROFILE_SAMPLES", "many")
    with pytest.raises(AitError, match="AIT_PROFILE_SAMPLES='many': expected a positive"):
        run_job(_job(fake_profiler, batches=(4,)), "0", timeout_s=3)
