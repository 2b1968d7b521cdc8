"""The GEMV gemm_rcr candidate: listed after CUTLASS's, renders per epilogue, compiles."""
import shutil
import subprocess

import pytest

from ait.backend.target import Target
from ait.backend.templates import ABI_INCLUDE_DIR
from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_RELU
from ait.ops.gemm.gemv import GemmRcrGemv
from ait.ops.gemm import GemmRequest
from ait.tune import candidates_for


def test_listed_after_cutlass_and_filtered():
    t = Target.for_arch(90, nvcc="/nonexistent")
    names = [c.name for c in candidates_for(t, GemmRequest.of(BIAS_RELU, 4, 1000, 2048))]
    assert names[0].startswith("gemm_rcr_2x_")  # profile=False keeps taking CUTLASS
    assert "gemm_rcr_gemv_r8_w4_bias_relu_f32" in names
    gemv = [c for c in candidates_for(t, GemmRequest.of(BIAS, 4, 1000, 2044))
            if isinstance(c, GemmRcrGemv)]
    assert gemv == []  # k must be a multiple of 8 (16-byte loads)
    assert not GemmRcrGemv(8, 4, BIAS_ADD, "f32").supports(1000, 2048)


def test_render_branches():
    relu = GemmRcrGemv(8, 4, BIAS_RELU, "f32").render()
    plain = GemmRcrGemv(2, 8, BIAS, "f16").render()
    assert "ait_relu(v)" in relu and "ait_relu(v)" not in plain
    assert "constexpr int kRows = 8;" in relu and "constexpr int kWarps = 8;" in plain
    assert 'extern "C" int gemm_rcr_gemv_r2_w8_bias_f16(' in plain


@pytest.mark.nvcc
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no nvcc on PATH")
def test_compiles_for_sm90(tmp_path):
    src = tmp_path / "gemv.cu"
    src.write_text(GemmRcrGemv(8, 4, BIAS_RELU, "f32").render())
    subprocess.run(["nvcc", "-std=c++17", "-O3", f"-I{ABI_INCLUDE_DIR}", "-gencode",
                    "arch=compute_90a,code=sm_90a", "-c", str(src), "-o", str(tmp_path / "g.o")],
                   check=True, capture_output=True, timeout=300)
