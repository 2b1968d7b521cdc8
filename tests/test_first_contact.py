"""First contact (issue 12): what a new user runs first says what it compared, setup does not
reinstall what has not changed, the scripts use the venv, builds without a GPU work from the
scripts, and every figure the README cites has a source in the repository. CPU only."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

RNG = np.random.default_rng(112)


def _stub_python(venv: Path, log: Path) -> None:
    """A stand-in venv interpreter that records its calls and installs nothing."""
    (venv / "bin").mkdir(parents=True)
    py = venv / "bin" / "python"
    py.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n'
                  'if [ "$1" = "-VV" ]; then echo "Python 3.11 stub"; fi\nexit 0\n')
    py.chmod(0o755)


def test_setup_skips_pip_when_nothing_changed(tmp_path):
    venv, log = tmp_path / "venv", tmp_path / "calls"
    _stub_python(venv, log)
    env = {**os.environ, "AIT_VENV": str(venv), "CUDA_HOME": "/nonexistent-cuda"}
    first = subprocess.run(["bash", "scripts/setup.sh"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    calls = log.read_text().splitlines()
    assert any("pip install -q -r requirements-ci.txt" in c for c in calls)
    assert (venv / ".ait-setup-stamp").is_file()
    log.write_text("")
    second = subprocess.run(["bash", "scripts/setup.sh"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and "is up to date" in second.stdout
    assert not any("pip" in c for c in log.read_text().splitlines())
    # a changed stamp (as after editing requirements-ci.txt) installs again
    (venv / ".ait-setup-stamp").write_text(RNG.bytes(8).hex())
    third = subprocess.run(["bash", "scripts/setup.sh"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=60)
    assert third.returncode == 0
    assert any("pip install" in c for c in log.read_text().splitlines())


def test_benchmark_mi250_uses_the_venv_python_by_default(tmp_path):
    venv, log = tmp_path / "venv", tmp_path / "calls"
    _stub_python(venv, log)
    bench = tmp_path / "bench.py"
    bench.write_text("raise SystemExit(0)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    env.update(AIT_VENV=str(venv), BENCH_AIT=str(bench), DP_PLATFORM="cuda",
               CUDA_VISIBLE_DEVICES="0,1", RESULTS_DIR=str(tmp_path / "results"))
    proc = subprocess.run(["bash", "benchmark_mi250.sh", "4", "2"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    calls = log.read_text()  # the stub ran the compile, each device's run and the summary
    assert f"{bench} --batch-size 2 --compile-only" in calls, (proc.stdout, proc.stderr)
    assert calls.count(f"{bench} --batch-size 2") == 3


def test_cpu_reference_prints_what_it_compared():
    proc = subprocess.run([sys.executable, "infer_with_torch.py", "--cpu-reference", "--model",
                           "resnet18", "--seed", str(int(RNG.integers(1, 1000)))], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "ait class" in out and "timm class" in out
    rows = [line for line in out.splitlines() if re.match(r"\s+[1-5]\s+\d+\s+[\d.]+\s+\d+", line)]
    assert len(rows) == 5
    m = re.search(r"relative error of the logits \(ait reference fp32 vs timm fp32, batch 1\): "
                  r"([\d.e+-]+)", out)
    assert m and float(m.group(1)) < 1e-4
    script = (ROOT / "scripts" / "setup_and_run.sh").read_text()
    assert 'infer_with_torch.py --cpu-reference "$@"' in script


def test_benchmark_ait_compile_only_without_a_gpu(monkeypatch, tmp_path):
    """AIT_ARCH + AIT_FIXED_KERNEL=first: --compile-only asks for no GPU, builds for the named
    arch and loads nothing (compile_resnet stubbed: a real ResNet build takes minutes)."""
    sys.path.insert(0, str(ROOT))
    import bench_utils
    import benchmark_ait
    import modeling.build

    seen = {}

    def fake_compile(**kwargs):
        from ait import detect_target

        seen["target"] = detect_target(use_fp16_acc=kwargs["use_fp16_acc"])
        seen.update(kwargs)
        return tmp_path / "w" / "model.so"  # load=False: the path, no Model

    def no_gpu():
        raise AssertionError("--compile-only asked for the GPU")
    monkeypatch.setattr(modeling.build, "compile_resnet", fake_compile)
    monkeypatch.setattr(bench_utils, "require_cuda", no_gpu)
    monkeypatch.setenv("AIT_ARCH", "80")
    monkeypatch.setenv("AIT_FIXED_KERNEL", "first")
    monkeypatch.setattr(sys, "argv", ["benchmark_ait.py", "--compile-only", "--batch-size", "3",
                                      "--workdir", str(tmp_path / "w")])
    assert benchmark_ait.main() == 0
    assert seen["target"].arch == 80 and seen["load"] is False
    assert seen["batch_sizes"] == (1, 256)


def test_readme_figures_have_a_source_in_the_repo():
    readme = (ROOT / "README.md").read_text()
    assert "DESIGN.md" not in readme
    assert "docs/REFERENCE_FIGURES.md" in readme
    figures = (ROOT / "docs" / "REFERENCE_FIGURES.md").read_text()
    # the upstream column of the README's main table: each figure is in the figures file
    header = next(line for line in readme.splitlines()
                  if line.startswith("|") and "upstream AIT" in line)
    col = header.split("|").index(next(c for c in header.split("|") if "upstream AIT" in c))
    rows = [line.split("|") for line in readme.splitlines()
            if re.match(r"\| \d+ \|", line) and len(line.split("|")) == len(header.split("|"))]
    upstream = [r[col].strip() for r in rows if r[col].strip()]
    assert upstream == ["0.529", "0.627", "1.352", "4.331", "8.361"]
    for value in upstream:
        assert value in figures
    assert "Source:" in figures
    assert "source .venv/bin/activate" in readme and "AIT_ARCH" in readme
