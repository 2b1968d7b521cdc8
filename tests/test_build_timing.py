"""The timing summaries a cold compile logs (nvcc.compile_summary, select._timeline_summary):
issue 11's instrument for where a compile's time goes."""
from ait.backend import nvcc
from ait.tune.select import _timeline_summary


def test_compile_summary_counts_only_its_window(monkeypatch):
    times = [nvcc.CompileTime("a", 100.0, 130.0), nvcc.CompileTime("b", 101.0, 111.0),
             nvcc.CompileTime("old", 50.0, 60.0)]
    monkeypatch.setattr(nvcc, "compile_times", times)
    text = nvcc.compile_summary(100.0, 140.0)
    # 40 s of compiles in a 40 s window: one at a time; the 30 s one is the longest
    assert text.startswith("1.0 compiles at a time")
    assert "longest a 30.0 s (from 0.0 s), b 10.0 s (from 1.0 s)" in text
    assert "old" not in text
    assert nvcc.compile_summary(0.0, 10.0) == "no compiles"


def test_timeline_summary_separates_the_tail():
    clock = {"start": 0.0, "built": 50.0}
    timeline = [("conv early", 10.0, 20.0), ("conv late", 45.0, 60.0), ("fc", 60.0, 62.0)]
    text = _timeline_summary(timeline, clock, 1)
    assert text.startswith("27.0 s in 3 processes on 1 GPU(s)")
    # after the build: 10 s of "conv late" and 2 s of "fc"
    assert "after the last profiler was built: 12.0 s in 2 processes" in text
    assert text.index("conv late 15.0 s") < text.index("fc 2.0 s")
    assert _timeline_summary([], clock, 1) == "no profiler processes ran"
