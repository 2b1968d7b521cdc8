"""Target detection and nvcc discovery, with the GPU and the toolkit simulated."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from ait.backend import target as target_mod
from ait.backend.target import (
    NoGpuError,
    NvccNotFoundError,
    Target,
    UnsupportedGpuError,
    detect_target,
)


@pytest.fixture
def no_nvcc(monkeypatch):
    monkeypatch.setattr(target_mod, "_nvcc_candidates", lambda: [
        ("$CUDA_HOME/bin/nvcc", None), ("PATH", None),
        ("the cuda-toolkit wheel (site-packages/nvidia/cu13/bin/nvcc)", None)])


def _fake_gpus(monkeypatch, caps):
    monkeypatch.setattr(target_mod, "_cc_from_driver", lambda: (caps, "" if caps else "no driver"))
    monkeypatch.setattr(target_mod, "_cc_from_nvidia_smi", lambda: ([], "not on PATH"))


def test_for_arch_without_nvcc_renders_but_cannot_compile(no_nvcc):
    t = Target.for_arch(90)
    assert t.nvcc is None and t.arch == 90 and t.acc == "f32"
    assert t.cutlass_version.startswith("4.2")
    assert any(d.endswith("include") for d in t.include_dirs)
    with pytest.raises(NvccNotFoundError) as e:
        t.require_nvcc()
    msg = str(e.value)
    assert "CUDA_HOME" in msg and "PATH" in msg
    assert 'pip install "cuda-toolkit[nvcc,cccl]==13.0.3"' in msg


def test_for_arch_rejects_unknown_arch():
    with pytest.raises(UnsupportedGpuError):
        Target.for_arch(75)


def test_nvcc_from_cuda_home(tmp_path, monkeypatch):
    bin_dir = tmp_path / "cuda" / "bin"
    bin_dir.mkdir(parents=True)
    nvcc = bin_dir / "nvcc"
    nvcc.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 13.0, V13.0.88'\n")
    nvcc.chmod(nvcc.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "cuda"))
    assert Target.for_arch(80).nvcc == str(nvcc.resolve())


def test_detect_without_gpu(monkeypatch):
    _fake_gpus(monkeypatch, [])
    with pytest.raises(NoGpuError) as e:
        detect_target()
    assert "CUDA_VISIBLE_DEVICES" in str(e.value) and "Target.for_arch(90)" in str(e.value)


def test_detect_old_gpu(monkeypatch):
    _fake_gpus(monkeypatch, [(7, 5)])
    with pytest.raises(UnsupportedGpuError, match="7.5"):
        detect_target(nvcc="/bin/true")


@pytest.mark.parametrize("cc,arch", [((9, 0), 90), ((8, 0), 80), ((8, 6), 80), ((8, 9), 80)])
def test_detect_by_compute_capability(monkeypatch, cc, arch):
    _fake_gpus(monkeypatch, [cc])
    t = detect_target(use_fp16_acc=True, nvcc="/bin/true")
    assert t.arch == arch and t.use_fp16_acc and t.acc == "f16"


def test_detect_without_nvcc(monkeypatch, no_nvcc):
    _fake_gpus(monkeypatch, [(9, 0)])
    with pytest.raises(NvccNotFoundError, match="cuda-toolkit"):
        detect_target()


def test_cutlass_import_ignores_program_argv():
    # cutlass_library parses sys.argv on import: a program's --help must not reach it.
    code = ("import sys; sys.argv = ['prog', '--help', '--bogus']\n"
            "from ait.backend import cutlass_lib\n"
            "print(len(cutlass_lib.sm90_conv_fprop_tiles()), sys.argv[1])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)), timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    count, arg = out.stdout.split()
    assert int(count) > 0 and arg == "--help"
