"""Our own kernels take ReLU and max through ait_nan.h (NaN-propagating, as PyTorch and
CUTLASS's ReLu): fmaxf / __hmax would turn a NaN into the other operand, so a non-finite
input would come out as a finite, wrong answer. (GPU: tests/test_gpu_stem.py.)"""
import re
from pathlib import Path

import ait

ROOT = Path(ait.__file__).parent
DROPS_NAN = re.compile(r"\bfmaxf?\s*\(|__hmax2?\s*\(|\bmax\.f32\b")


def _model_kernel_sources():
    # profiler mains hold only the reference kernels that judge candidates on random data
    return [p for p in ROOT.joinpath("ops").rglob("*")
            if p.suffix in (".cu", ".j2", ".cuh", ".h") and not p.name.startswith("profiler_")]


def test_own_kernels_use_the_nan_propagating_max():
    sources = _model_kernel_sources()
    assert len(sources) >= 8  # the scan sees the kernels
    offenders = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
                 for p in sources for i, line in enumerate(p.read_text().splitlines(), 1)
                 if DROPS_NAN.search(line)]
    assert not offenders, "\n".join(offenders)


def test_the_scan_catches_fmaxf():
    assert DROPS_NAN.search("v = fmaxf(v, 0.f);") and DROPS_NAN.search("__hmax2(a, b)")
    assert not DROPS_NAN.search("__hmax2_nan(a, b)") and not DROPS_NAN.search("ait_max(a, b)")


def test_ait_relu_and_max_keep_nan_in_their_definitions():
    text = (ROOT / "backend/include/ait_nan.h").read_text()
    assert "v < 0.f ? 0.f : v" in text  # NaN < 0 is false: NaN stays
    assert "a != a" in text
