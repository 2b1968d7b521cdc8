"""Tests of the benchmark scripts: CLI behaviour, result files, tables, plots, the data-parallel
driver and BatchNorm folding run on the CPU; the timing paths are marked `gpu`."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import bench_utils as bu  # the repository root is on sys.path (conftest.py)

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DP_SCRIPT = REPO / "benchmark_mi250.sh"


def run_script(args, cwd, env=None, timeout=120):
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, check=False,
    )


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error:" in line]


# ---------------------------------------------------------------------------------------------
# --help and argument errors

@pytest.mark.parametrize(
    "script, options",
    [
        ("benchmark_pt.py", ["--batch-size", "--model", "--variants", "--results-dir",
                             "--compile-mode", "--pretrained", "--runs"]),
        ("benchmark_ait.py", ["--batch-size", "--use-fp16-acc", "--no-graph", "--compile-only",
                              "--workdir", "--results-dir", "--batch-range", "--weights",
                              "--pretrained", "--no-check"]),
        ("plot_results.py", ["--results-dir", "--out", "--latency"]),
    ],
)
def test_help_mentions_key_options(script, options, tmp_path):
    proc = run_script([PYTHON, REPO / script, "--help"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for option in options:
        assert option in proc.stdout, f"{script} --help does not mention {option}"
    assert not list(tmp_path.iterdir()), "--help must not write anything"


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_dp_script_help(flag, tmp_path):
    proc = run_script(["bash", DP_SCRIPT, flag], cwd=tmp_path)
    assert proc.returncode == 0
    assert "BATCH" in proc.stdout and "NDEV" in proc.stdout
    assert "HIP_VISIBLE_DEVICES" in proc.stdout and "CUDA_VISIBLE_DEVICES" in proc.stdout


@pytest.mark.parametrize("script", ["benchmark_pt.py", "benchmark_ait.py"])
@pytest.mark.parametrize("bad", ["abc", "0,4", "-3", "1,,2", "2.5", ""])
def test_bad_batch_size_is_a_clean_cli_error(script, bad, tmp_path):
    proc = run_script([PYTHON, REPO / script, "--batch-size", bad], cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = error_lines(proc.stderr)
    assert len(errors) == 1 and "--batch-size" in errors[0] and "batch size" in errors[0]


def test_unknown_variant_is_a_clean_cli_error(tmp_path):
    proc = run_script([PYTHON, REPO / "benchmark_pt.py", "--variants", "eager,turbo"],
                      cwd=tmp_path)
    assert proc.returncode == 2
    assert "turbo" in error_lines(proc.stderr)[0]


def test_unknown_model_is_a_clean_cli_error_before_the_gpu(tmp_path):
    """ait builds only the ResNets it knows: a wrong name is the first thing said."""
    proc = run_script([PYTHON, REPO / "benchmark_ait.py", "--model", "resnet9"], cwd=tmp_path)
    assert proc.returncode == 2
    errors = error_lines(proc.stderr)
    assert len(errors) == 1 and "resnet9" in errors[0] and "wide_resnet50_2" in errors[0]


def test_benchmark_pt_refuses_a_name_timm_does_not_know(tmp_path):
    """benchmark_pt runs any timm model, and a name timm does not know is one CLI error, before
    the GPU check (on a GPU machine it was a traceback from timm.create_model)."""
    proc = run_script([PYTHON, REPO / "benchmark_pt.py", "--model", "resnet9"], cwd=tmp_path)
    assert proc.returncode == 2
    errors = error_lines(proc.stderr)
    assert len(errors) == 1 and "resnet9" in errors[0] and "not a timm model" in errors[0]


@pytest.mark.skipif(cuda_available(), reason="needs a machine without a CUDA GPU")
@pytest.mark.parametrize("script", ["benchmark_pt.py", "benchmark_ait.py"])
def test_without_gpu_one_line_error(script, tmp_path):
    proc = run_script([PYTHON, REPO / script, "--batch-size", "1"], cwd=tmp_path)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{script}: error:") and "CUDA" in lines[0]
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------------------------------------
# Batch sizes, variants, timing statistics

def test_parse_batch_sizes():
    assert bu.parse_batch_sizes("8") == (8,)
    assert bu.parse_batch_sizes(" 32, 1,8 ,8") == (1, 8, 32)
    assert bu.parse_batch_sizes("0") == bu.DEFAULT_BATCH_SIZES  # upstream: 0 means the sweep
    assert bu.parse_batch_sizes("all") == (1, 2, 4, 8, 16, 32, 64, 128, 256)
    for bad in ("", "x", "0,1", "-1", "1;2", "1e3", "+4"):
        with pytest.raises(ValueError, match="invalid batch size"):
            bu.parse_batch_sizes(bad)


def test_parse_variants_keeps_a_fixed_order():
    import benchmark_pt

    assert benchmark_pt.parse_variants("compile_graph,eager") == ("eager", "compile_graph")
    assert benchmark_pt.parse_variants("all") == benchmark_pt.VARIANTS
    assert benchmark_pt.build_parser().parse_args([]).variants == (
        "eager", "cl_graph", "compile_graph")


def test_summarize_and_auto_iters():
    stats = bu.summarize_ms([3.0, 1.0, 2.0, 10.0], iters_per_run=5)
    assert stats.median_ms == 2.5 and stats.min_ms == 1.0 and stats.max_ms == 10.0
    assert stats.runs == 4 and stats.iters_per_run == 5 and stats.mean_ms == 4.0
    assert bu.auto_iters(0.5) == 40          # ~20 ms per timed run
    assert bu.auto_iters(24.0) == 1          # slow eager batches: one iteration per run
    assert bu.auto_iters(0.001) == 200       # capped
    assert bu.auto_iters(0.0) == 1
    assert bu.qps(256, 8.0) == pytest.approx(32000.0)


def test_barrier_releases_when_all_arrived(tmp_path):
    (tmp_path / "bs4.other").touch()  # the other process
    start = time.monotonic()
    bu.wait_at_barrier(tmp_path, 2, "bs4", timeout_s=5)
    assert time.monotonic() - start < 1
    with pytest.raises(bu.BenchError, match="only 1 of 2"):
        bu.wait_at_barrier(tmp_path / "x", 2, "bs4", timeout_s=0.2)


def test_metadata_has_environment_fields():
    meta = bu.collect_metadata({"compile_s": 1.5})
    for key in ("date", "hostname", "python", "torch", "timm", "ait", "nvidia_smi"):
        assert key in meta
    assert meta["compile_s"] == 1.5
    json.dumps(meta)  # must be serialisable as is


# ---------------------------------------------------------------------------------------------
# Result files and tables

def fake_rows(variant, latencies: dict[int, float]) -> list[dict]:
    return [{"variant": variant, "batch_size": b, "latency_ms": ms, "qps": bu.qps(b, ms),
             "runs": 50, "iters_per_run": 10} for b, ms in latencies.items()]


def write_fake(results_dir, stem, kind, variants: dict[str, dict[int, float]], date=None):
    rows = [row for v, lat in variants.items() for row in fake_rows(v, lat)]
    meta = {"date": date or "2026-01-01T00:00:00+00:00", "gpu": {"name": "NVIDIA H200"}}
    return bu.write_results(results_dir, stem, kind, "resnet50", meta, rows)


def test_results_roundtrip_json_and_csv(tmp_path):
    rows = fake_rows("eager", {1: 7.85, 256: 24.03})
    rows.append({"variant": "cl_graph", "batch_size": 1, "latency_ms": None, "qps": None,
                 "error": "RuntimeError: capture failed"})
    json_path, csv_path = bu.write_results(tmp_path / "r", "pt_resnet50", "pt", "resnet50",
                                           {"gpu": {"name": "H200"}}, rows[:1])
    # Written again after each measurement: the files follow the growing list.
    json_path, csv_path = bu.write_results(tmp_path / "r", "pt_resnet50", "pt", "resnet50",
                                           {"gpu": {"name": "H200"}}, rows)
    doc = bu.read_results(json_path)
    assert doc["schema"] == bu.SCHEMA and doc["kind"] == "pt" and doc["model"] == "resnet50"
    assert doc["rows"] == rows
    table = bu.read_results_csv(csv_path)
    assert [r["variant"] for r in table] == ["eager", "eager", "cl_graph"]
    assert list(table[0]) == list(bu.CSV_FIELDS)
    assert float(table[1]["latency_ms"]) == 24.03
    assert float(table[1]["qps"]) == pytest.approx(256e3 / 24.03)
    assert table[2]["latency_ms"] == "" and table[2]["error"].startswith("RuntimeError")
    assert not list((tmp_path / "r").glob("*.tmp*")), "temporary files left behind"
    assert bu.ok_rows(doc["rows"]) == rows[:2]


def test_read_results_rejects_foreign_files(tmp_path):
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    (tmp_path / "broken.json").write_text("{")
    for name in ("other.json", "broken.json"):
        with pytest.raises(bu.BenchError):
            bu.read_results(tmp_path / name)
    write_fake(tmp_path, "ait_resnet50", "ait", {"ait": {1: 0.5}})
    write_fake(tmp_path / "dp_b8_x2", "dev0", "ait", {"ait": {4: 0.5}})  # subfolder: left out
    assert [p.name for p, _ in bu.load_results_dir(tmp_path)] == ["ait_resnet50.json"]


def test_table_has_upstream_layout():
    table = bu.format_table([
        ("PT", fake_rows("eager", {1: 7.68, 256: 50.93})),
        ("AIT", fake_rows("ait", {1: 0.58, 2: 0.62})),
    ])
    lines = [re.sub(r"\s+", " ", line) for line in table.splitlines()]
    assert lines[0] == ("| Batch size | PT Latency (ms) | PT QPS (im/s) | AIT Latency (ms) "
                        "| AIT QPS (im/s) |")
    assert set(lines[1]) <= {"|", "-"}
    assert lines[2] == "| 1 | 7.680 | 130.21 | 0.580 | 1724.14 |"
    assert lines[3] == "| 2 | | | 0.620 | 3225.81 |"  # missing measurement: blank cells
    assert lines[4] == "| 256 | 50.930 | 5026.51 | | |"
    assert len({len(line) for line in table.splitlines()}) == 1  # columns line up


def test_variant_labels():
    assert bu.variant_label("compile_graph") == "PT compile+graph"
    assert bu.variant_label("ait_fp16acc_nograph") == "AIT fp16acc nograph"
    assert bu.variant_label("custom") == "custom"


# ---------------------------------------------------------------------------------------------
# plot_results.py

def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_plot_from_fake_results(tmp_path):
    pytest.importorskip("matplotlib")
    results = tmp_path / "results"
    write_fake(results, "pt_resnet50", "pt", {
        "eager": {1: 7.85, 8: 6.66, 256: 24.03},
        "cl_graph": {1: 0.92, 8: 1.152, 256: 14.955},
        "compile_graph": {1: 0.438, 8: 0.593, 256: 7.987},
    })
    write_fake(results, "ait_resnet50", "ait", {"ait": {1: 0.529, 8: 0.627, 256: 8.361}})
    (results / "notes.json").write_text("[]")  # unrelated JSON is ignored

    out = tmp_path / "plots" / "qps.png"
    proc = run_script([PYTHON, REPO / "plot_results.py", "--results-dir", results, "--out", out],
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    width_one, _ = png_size(out)
    header = re.sub(r"\s+", " ", proc.stdout.splitlines()[0])
    assert header == (
        "| Batch size | PT eager Latency (ms) | PT eager QPS (im/s) | PT CL+graph Latency (ms) "
        "| PT CL+graph QPS (im/s) | PT compile+graph Latency (ms) "
        "| PT compile+graph QPS (im/s) | AIT Latency (ms) | AIT QPS (im/s) |"
    )
    assert "| 256 " in proc.stdout and "8.361" in proc.stdout

    both = tmp_path / "both.png"
    proc = run_script([PYTHON, REPO / "plot_results.py", "--results-dir", results, "--out", both,
                       "--latency", "--log-y"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    width_two, _ = png_size(both)
    assert width_two == 2 * width_one  # the latency panel sits beside the QPS panel

    proc = run_script([PYTHON, REPO / "plot_results.py", "--results-dir", results], cwd=tmp_path)
    assert proc.returncode == 0 and (results / "resnet50_qps.png").is_file()


def test_plot_prefers_newest_result_and_warns_on_missing_side(tmp_path):
    pytest.importorskip("matplotlib")
    write_fake(tmp_path, "pt_old", "pt", {"eager": {1: 9.0}}, date="2026-01-01T00:00:00+00:00")
    write_fake(tmp_path, "pt_new", "pt", {"eager": {1: 7.0}}, date="2026-02-01T00:00:00+00:00")
    proc = run_script([PYTHON, REPO / "plot_results.py", "--results-dir", tmp_path,
                       "--out", tmp_path / "p.png"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "7.000" in proc.stdout and "9.000" not in proc.stdout
    assert "no ait results" in proc.stdout


def test_plot_without_results_fails_in_one_line(tmp_path):
    proc = run_script([PYTHON, REPO / "plot_results.py", "--results-dir", tmp_path / "none"],
                      cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [(
        f"plot_results.py: error: no benchmark results in {tmp_path / 'none'}: it does not "
        "exist (run benchmark_pt.py and benchmark_ait.py first, or give --results-dir)"
    )]


# ---------------------------------------------------------------------------------------------
# benchmark_mi250.sh

FAKE_AIT = textwrap.dedent("""\
    # Stands in for benchmark_ait.py: logs how it was started, meets the others at the
    # barrier, and writes a result whose latency depends on the device it sees.
    import argparse, json, os, sys
    sys.path.insert(0, {repo!r})
    import bench_utils as bu

    p = argparse.ArgumentParser()
    p.add_argument("--batch-size", type=int)
    p.add_argument("--compile-only", action="store_true")
    p.add_argument("--results-dir")
    p.add_argument("--out-name")
    p.add_argument("--sync-dir")
    p.add_argument("--sync-count", type=int)
    a, extra = p.parse_known_args()
    dev = os.environ.get("CUDA_VISIBLE_DEVICES") or os.environ.get("HIP_VISIBLE_DEVICES")
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(json.dumps({{"cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
                            "hip": os.environ.get("HIP_VISIBLE_DEVICES"),
                            "batch": a.batch_size, "compile_only": a.compile_only,
                            "extra": extra}}) + "\\n")
    if a.compile_only:
        sys.exit(0)
    if dev == os.environ.get("FAKE_FAIL_ON"):
        sys.exit("fake failure on device " + dev)
    from pathlib import Path
    bu.wait_at_barrier(Path(a.sync_dir), a.sync_count, "bs%d" % a.batch_size, timeout_s=60)
    ms = 1.0 + int(dev)
    row = {{"variant": "ait", "batch_size": a.batch_size, "latency_ms": ms,
           "qps": bu.qps(a.batch_size, ms)}}
    bu.write_results(Path(a.results_dir), a.out_name, "ait", "resnet50", {{}}, [row])
""")


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text("#!/bin/sh\n" + script)
    (bin_dir / name).chmod(0o755)


@pytest.fixture
def fake_dp(tmp_path):
    """Environment for benchmark_mi250.sh with a stand-in worker and an nvidia-smi that lists
    two GPUs, whatever the machine has."""
    fake = tmp_path / "fake_ait.py"
    fake.write_text(FAKE_AIT.format(repo=str(REPO)))
    log = tmp_path / "calls.jsonl"
    fake_tool(tmp_path / "bin", "nvidia-smi",
              'printf "GPU 0: H200 (UUID: a)\\nGPU 1: H200 (UUID: b)\\n"\n')
    env = {"PYTHON": PYTHON, "BENCH_AIT": str(fake), "FAKE_LOG": str(log),
           "RESULTS_DIR": str(tmp_path / "results"), "CUDA_VISIBLE_DEVICES": "",
           "HIP_VISIBLE_DEVICES": "", "DP_PLATFORM": "",
           "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}

    def calls():
        return [json.loads(line) for line in log.read_text().splitlines()]

    return env, calls


def test_dp_rejects_non_divisible_batch(tmp_path, fake_dp):
    env, _ = fake_dp
    proc = run_script(["bash", DP_SCRIPT, "6", "4"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    assert proc.stderr.strip() == "benchmark_mi250.sh: error: BATCH 6 is not divisible by NDEV 4"
    assert not (tmp_path / "calls.jsonl").exists(), "nothing may start"


@pytest.mark.parametrize("args", [["0"], ["x"], ["8", "0"], ["8", "2", "extra"]])
def test_dp_rejects_bad_arguments(args, tmp_path, fake_dp):
    env, _ = fake_dp
    proc = run_script(["bash", DP_SCRIPT, *args], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    assert len(error_lines(proc.stderr)) == 1


def test_dp_runs_one_process_per_device(tmp_path, fake_dp):
    env, calls = fake_dp
    proc = run_script(["bash", DP_SCRIPT, "8", "--", "--use-fp16-acc"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = calls()
    assert log[0] == {"cuda": "0", "hip": "", "batch": 4, "compile_only": True,
                      "extra": ["--use-fp16-acc"]}
    workers = sorted(log[1:], key=lambda c: c["cuda"])
    assert [(c["cuda"], c["batch"], c["compile_only"]) for c in workers] == [
        ("0", 4, False), ("1", 4, False)]
    assert all(c["extra"] == ["--use-fp16-acc"] for c in workers)
    # Device 0: 1 ms, device 1: 2 ms for 4 images each -> 8 images per 2 ms.
    summary = json.loads((tmp_path / "results" / "dp_b8_x2" / "summary.json").read_text())
    assert summary["aggregate_qps"] == pytest.approx(4000.0)
    assert summary["sum_device_qps"] == pytest.approx(6000.0)
    assert [d["latency_ms"] for d in summary["per_device"]] == [1.0, 2.0]
    assert "aggregate QPS 4000.00" in proc.stdout


def test_dp_uses_hip_on_rocm_and_given_device_list(tmp_path, fake_dp):
    env, calls = fake_dp
    fake_tool(tmp_path / "rocm_bin", "rocm-smi", "exit 0\n")
    env.update(PATH=f"{tmp_path / 'rocm_bin'}{os.pathsep}{os.environ['PATH']}",
               HIP_VISIBLE_DEVICES="2,3,5")
    if shutil.which("nvidia-smi"):  # a real NVIDIA machine: detection would say cuda
        env["DP_PLATFORM"] = "rocm"
    proc = run_script(["bash", DP_SCRIPT, "12", "3"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    workers = calls()[1:]
    assert sorted(c["hip"] for c in workers) == ["2", "3", "5"]
    assert all(c["batch"] == 4 for c in workers)
    assert all(not c["cuda"] for c in workers)
    assert "aggregate QPS" in proc.stdout


def test_dp_fails_when_one_process_fails(tmp_path, fake_dp):
    env, _ = fake_dp
    env["FAKE_FAIL_ON"] = "1"
    start = time.monotonic()
    proc = run_script(["bash", DP_SCRIPT, "8", "2"], cwd=tmp_path, env=env)
    # Device 0 waits at the barrier for device 1; the driver must stop it, not wait 60 s.
    assert time.monotonic() - start < 30
    assert proc.returncode == 1
    assert "fake failure on device 1" in proc.stderr
    assert error_lines(proc.stderr)[-1].startswith(
        "benchmark_mi250.sh: error: the process on device 1 failed")
    assert not (tmp_path / "results" / "dp_b8_x2" / "summary.json").exists()


def test_dp_needs_enough_gpus(tmp_path, fake_dp):
    env, _ = fake_dp
    proc = run_script(["bash", DP_SCRIPT, "9", "3"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    assert proc.stderr.strip() == (
        "benchmark_mi250.sh: error: NDEV is 3 but nvidia-smi lists 2 GPU(s)")


def test_dp_needs_enough_listed_devices(tmp_path, fake_dp):
    env, _ = fake_dp
    env["CUDA_VISIBLE_DEVICES"] = "0"
    env["DP_PLATFORM"] = "cuda"
    proc = run_script(["bash", DP_SCRIPT, "8", "2"], cwd=tmp_path, env=env)
    assert proc.returncode != 0
    assert "lists 1 device(s), NDEV is 2" in proc.stderr


# ---------------------------------------------------------------------------------------------
# benchmark_ait.py against a stand-in for the compiler API (CPU)

class FakeAitModel:
    def __init__(self):
        self.calls = []

    def get_output_maximum_shape(self, index):
        assert index == 0
        return (256, 1000)

    def benchmark_with_tensors(self, inputs, outputs, count=100, repeat=5, graph_mode=True):
        (x,), (y,) = inputs, outputs
        self.calls.append((tuple(x.shape), str(x.dtype), tuple(y.shape), count, repeat,
                           graph_mode))
        y.zero_()
        return 2.0, 0.25, outputs

    def close(self):
        self.closed = True


def test_ait_compiles_once_with_the_sweep_range(monkeypatch, tmp_path):
    import types

    import benchmark_ait

    seen = {}

    def compile_resnet(**kwargs):
        seen.update(kwargs)
        return FakeAitModel()

    fake = types.ModuleType("modeling.build")
    fake.compile_resnet = compile_resnet
    monkeypatch.setitem(sys.modules, "modeling.build", fake)
    args = benchmark_ait.build_parser().parse_args(
        ["--batch-size", "8", "--use-fp16-acc", "--workdir", str(tmp_path / "w")])
    model, compile_s = benchmark_ait.compile_model(args, (1, 256))
    assert isinstance(model, FakeAitModel) and compile_s >= 0
    assert seen == {"model_name": "resnet50", "batch_sizes": (1, 256),
                    "workdir": str(tmp_path / "w"), "use_fp16_acc": True, "num_classes": 1000,
                    "stem": "space_to_depth"}


def test_ait_measure_uses_the_runtime_benchmark(monkeypatch):
    torch = pytest.importorskip("torch")
    import benchmark_ait

    args = benchmark_ait.build_parser().parse_args(["--no-graph", "--count", "7", "--repeat",
                                                    "3", "--use-fp16-acc", "false"])
    assert benchmark_ait.variant_name(args) == "ait_nograph"
    model = FakeAitModel()
    row = benchmark_ait.measure(torch, model, args, 4, (1000,), "ait_nograph", device="cpu")
    assert model.calls == [
        ((4, 224, 224, 3), "torch.float16", (4, 1000), 7, 1, False),  # warm-up
        ((4, 224, 224, 3), "torch.float16", (4, 1000), 7, 3, False),
    ]
    assert row["latency_ms"] == 2.0 and row["qps"] == pytest.approx(2000.0)
    assert row["std_ms"] == 0.25 and row["runs"] == 3 and row["iters_per_run"] == 7
    assert row["output_finite"] is True


def test_ait_profile_ops_records_the_roofline(capsys):
    torch = pytest.importorskip("torch")
    import bench_utils as bu
    import benchmark_ait

    class Profiled(FakeAitModel):
        meta = {"ops": [
            {"name": "conv_0", "kind": "conv2d", "attrs": "",
             "kernels": {"upper": [8, 256], "names": ["small", "large"]},
             "cost": {"flops": [0, 4_000_000_000], "bytes": [0, 1_000_000]}},
            {"name": "pool_1", "kind": "pool2d", "attrs": "", "kernels": None,
             "cost": {"flops": [0, 0], "bytes": [0, 8_000_000]}}]}

        def profile_ops_with_tensors(self, inputs, outputs, count=20):
            return [("conv_0", 0.5), ("pool_1", 0.1)]

    args = benchmark_ait.build_parser().parse_args(["--profile-ops", "--no-caller-timing"])
    args.peaks = bu.Peaks(800e12, 4e12, "given")
    row = benchmark_ait.measure(torch, Profiled(), args, 16, (1000,), "ait", device="cpu")
    assert row["op_ms"] == {"conv_0": 0.5, "pool_1": 0.1}
    conv, pool = row["roofline"]
    assert conv["kernel"] == "large" and conv["floor_ms"] == pytest.approx(64e9 / 800e12 * 1e3)
    assert pool["floor_ms"] == pytest.approx(128e6 / 4e12 * 1e3)
    assert row["roofline_sums"]["ms"] == pytest.approx(0.6)
    assert "conv_0" in capsys.readouterr().out


def test_ait_binds_timm_weights_and_checks_outputs(capsys):
    torch = pytest.importorskip("torch")
    pytest.importorskip("timm")
    import benchmark_ait
    from modeling.resnet import create_resnet
    from weight_utils import expected_shapes

    class Recorder(FakeAitModel):
        def __init__(self, compute):
            super().__init__()
            self.compute, self.constants, self.folded = compute, None, False

        def set_many_constants(self, params):
            self.constants = params

        def fold_constants(self):
            assert self.constants is not None, "fold before set"
            self.folded = True

        def benchmark_with_tensors(self, inputs, outputs, count=100, repeat=5, graph_mode=True):
            outputs[0].copy_(self.compute(inputs[0]))
            return 2.0, 0.25, outputs

    args = benchmark_ait.build_parser().parse_args(
        ["--model", "resnet18", "--num-classes", "10", "--image-size", "32", "--seed", "3"])
    good = Recorder(None)
    timm_model, source = benchmark_ait.bind_weights(good, args)
    assert good.folded and source == "timm random (seed 3)"
    want = expected_shapes(create_resnet("resnet18", 10))
    assert {k: v.shape for k, v in good.constants.items()} == want
    assert all(v.dtype.name == "float16" for v in good.constants.values())

    ref = timm_model.half()
    good.compute = lambda x: ref(x.permute(0, 3, 1, 2))
    row = benchmark_ait.measure(torch, good, args, 2, (10,), "ait", ref_model=ref, device="cpu")
    assert row["max_rel_err"] < 1e-2
    assert "warning" not in capsys.readouterr().out

    broken = Recorder(lambda x: torch.zeros(x.shape[0], 10, dtype=torch.float16))
    row = benchmark_ait.measure(torch, broken, args, 2, (10,), "ait", ref_model=ref,
                                device="cpu")
    assert row["max_rel_err"] == pytest.approx(1.0)
    assert "differs from timm" in capsys.readouterr().out


def test_ait_upstream_boolean_spellings():
    import benchmark_ait

    parse = benchmark_ait.build_parser().parse_args
    assert parse([]).use_fp16_acc is False and parse([]).use_graph is True
    assert parse(["--use-fp16-acc", "True", "--use-graph", "False"]).use_fp16_acc is True
    assert parse(["--use-graph", "False"]).use_graph is False
    assert benchmark_ait.variant_name(parse(["--use-fp16-acc"])) == "ait_fp16acc"


def test_ait_rejects_batch_outside_range(tmp_path):
    proc = run_script([PYTHON, REPO / "benchmark_ait.py", "--batch-size", "300",
                       "--batch-range", "1,256"], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("benchmark_ait.py: error: batch size(s) [300] outside "
                                   "--batch-range 1,256")


# ---------------------------------------------------------------------------------------------
# BatchNorm folding for the torch.compile variant (CPU)

def _randomized_bn_resnet():
    torch = pytest.importorskip("torch")
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model("resnet18", pretrained=False, num_classes=10).eval()
    for m in model.modules():  # fresh BN layers fold to the identity: make the test bite
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return torch, model


@pytest.mark.parametrize("path", ["fx", "structure"])
def test_fold_batchnorm_preserves_outputs(path):
    import benchmark_pt

    torch, model = _randomized_bn_resnet()
    if path == "fx":
        folded, n = benchmark_pt.fold_batchnorm(model)
        assert n == 20  # resnet18: stem + 2 per basic block x 8 + 3 downsample
    else:
        import copy

        folded = benchmark_pt._fold_by_structure(copy.deepcopy(model))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()), "input modified"
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert bu.max_rel_err(folded(x), model(x)) < 1e-4


# ---------------------------------------------------------------------------------------------
# GPU

@pytest.mark.gpu
def test_time_cuda_measures_gpu_time():
    torch = pytest.importorskip("torch")
    cycles = 2_000_000  # about 1 ms at H200 clocks
    stats = bu.time_cuda(lambda: torch.cuda._sleep(cycles), warmup=2, warmup_s=0.1, runs=5)
    assert 0.05 < stats.median_ms < 20
    assert stats.min_ms <= stats.median_ms <= stats.max_ms
    assert stats.runs == 5 and stats.iters_per_run >= 1


@pytest.mark.gpu
def test_benchmark_pt_all_default_variants_at_batch_1(tmp_path):
    proc = run_script(
        [PYTHON, REPO / "benchmark_pt.py", "--batch-size", "1", "--runs", "5", "--warmup-s",
         "0.2", "--results-dir", tmp_path / "r"],
        cwd=tmp_path, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = bu.read_results(tmp_path / "r" / "pt_resnet50.json")
    assert [r["variant"] for r in doc["rows"]] == ["eager", "cl_graph", "compile_graph"]
    for row in doc["rows"]:
        assert not row.get("error") and row["latency_ms"] > 0
        assert row["max_rel_err"] < 5e-2
    assert doc["metadata"]["folded_batchnorm"] == 53
    assert doc["rows"][2]["compile_s"] > 0
    assert "| Batch size | PT eager Latency (ms)" in proc.stdout


def test_dp_script_is_executable():
    assert os.access(DP_SCRIPT, os.X_OK)  # upstream's usage: ./benchmark_mi250.sh BATCH
