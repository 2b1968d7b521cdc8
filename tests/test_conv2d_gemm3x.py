"""Pointwise convs as Hopper 3.x GEMMs: names, where the candidates are offered, the rendered
source, and one real sm_90a compile (no spills) where nvcc is available."""
from __future__ import annotations

import re
import subprocess

import pytest

from ait.backend import nvcc
from ait.backend.target import Target
from ait.ops.conv2d import cutlass2x as conv2x
from ait.ops.conv2d import cutlass3x as conv3x
from ait.ops.conv2d import gemm3x
from ait.ops.conv2d.candidates import conv2d_candidates
from ait.ops.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU
from ait.tune import ConvRequest, candidates_for
from ait.tune.build import ProfilerSpec

EPILOGUES = (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU)
H100 = Target.for_arch(90)
H100_F16 = Target.for_arch(90, use_fp16_acc=True)
A100 = Target.for_arch(80)
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
POINTWISE = {"r": 1, "s": 1, "stride": (1, 1), "pad": (0, 0), "dilation": (1, 1)}


def _gemm(cands):
    return [c for c in cands if isinstance(c, gemm3x.Conv2dGemm3x)]


def test_names_are_unique_c_identifiers():
    cands = []
    for target in (H100, H100_F16):
        for ep in EPILOGUES:
            cands += conv2d_candidates(target, ep, 64, 256, **POINTWISE)
    gemm = _gemm(cands)
    assert len(gemm) == 2 * len(EPILOGUES) * len(gemm3x.TILES)
    names = [c.name for c in cands]
    assert all(IDENT.match(n) for n in names)
    assert len(set(names)) == len(names)  # 2.x, 3.x conv and GEMM names never collide
    assert all(c.name.startswith("conv2d_gemm3x_") for c in gemm)
    assert len(set(gemm3x.TILES)) == len(gemm3x.TILES)


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
def test_offered_for_pointwise_convs_on_hopper(ep):
    cands = conv2d_candidates(H100, ep, 64, 256, **POINTWISE)
    assert {c.tile for c in _gemm(cands)} == set(gemm3x.TILES)
    assert isinstance(cands[0], conv2x.Conv2dCutlass2x)  # the cheap first choice stays first
    assert any(isinstance(c, conv3x.Conv2dCutlass3x) for c in cands)
    # the tuner's entry point passes the request's geometry through
    req = ConvRequest(ep, 8, 56, 56, 64, 256, 1, 1)
    assert candidates_for(H100, req) == cands
    assert _gemm(candidates_for(H100_F16, req))[0].acc == "f16"


@pytest.mark.parametrize("r,s,stride,pad,dilation", [
    (3, 3, (1, 1), (1, 1), (1, 1)),
    (1, 1, (2, 2), (0, 0), (1, 1)),
    (1, 1, (1, 1), (1, 1), (1, 1)),
    (1, 1, (1, 1), (0, 0), (2, 2)),
    (1, 3, (1, 1), (0, 1), (1, 1)),
    (1, 1, (1, 2), (0, 0), (1, 1)),
    (None, None, (1, 1), (0, 0), (1, 1)),  # geometry unknown
], ids=["3x3", "stride2", "pad1", "dilation2", "1x3", "stride1x2", "unknown"])
def test_not_offered_for_other_geometries(r, s, stride, pad, dilation):
    cands = conv2d_candidates(H100, BIAS_RELU, 64, 256, r=r, s=s, stride=stride, pad=pad,
                              dilation=dilation)
    assert cands and not _gemm(cands)


def test_not_offered_on_arch80_few_channels_or_unaligned():
    assert not _gemm(conv2d_candidates(A100, BIAS_RELU, 64, 256, **POINTWISE))
    assert not _gemm(conv2d_candidates(H100, BIAS_RELU, 8, 64, few_channels=True, **POINTWISE))
    assert _gemm(conv2d_candidates(H100, BIAS_RELU, 8, 64, **POINTWISE))
    for c, k in ((36, 64), (64, 36), (18, 18)):
        assert not _gemm(conv2d_candidates(H100, BIAS_RELU, c, k, **POINTWISE))
    stem = ConvRequest(BIAS_RELU, 2, 224, 224, 4, 64, 7, 7, (3, 3), (2, 2), (1, 1), True)
    shortcut = ConvRequest(BIAS, 8, 56, 56, 256, 512, 1, 1, (0, 0), (2, 2))
    assert not _gemm(candidates_for(H100, stem)) and not _gemm(candidates_for(H100, shortcut))


def test_conv3x_has_a_128x64_tile():
    assert (128, 64, 64) in {t.shape for t in conv3x.TILES}
    assert conv3x.UNLISTED_TILE_SHAPES <= {t.shape for t in conv3x.TILES}
    cands = conv2d_candidates(H100, BIAS_RELU, 256, 64)
    assert any(isinstance(c, conv3x.Conv2dCutlass3x) and c.tile.shape == (128, 64, 64)
               for c in cands)


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
@pytest.mark.parametrize("target", [H100, H100_F16], ids=["f32", "f16"])
def test_render(ep, target):
    for cand in _gemm(conv2d_candidates(target, ep, 64, 256, **POINTWISE)):
        src = cand.render()
        assert f'extern "C" int {cand.name}(const AitConv2dArgs* a, void* workspace,' in src
        assert f'extern "C" size_t {cand.name}_workspace_bytes(const AitConv2dArgs* a)' in src
        sched = cand.tile.schedule
        assert f"cutlass::gemm::{sched.kernel}>::CollectiveOp" in src
        assert f"cutlass::epilogue::{sched.epilogue},\n" in src
        m, n, k = cand.tile.shape
        assert f"cute::Shape<cute::_{m}, cute::_{n}, cute::_{k}>" in src
        assert "LinCombPerColBiasEltAct<" in src
        assert "using LayoutB = cutlass::layout::ColumnMajor;" in src
        acc = "cutlass::half_t" if target.use_fp16_acc else "float"
        assert f"using ElementAcc = {acc};" in src
        assert ("thread::ReLu," if "relu" in ep.tag else "thread::Identity,") in src
        if ep.residual:
            assert "using ElementC = cutlass::half_t;" in src
            assert "thread.beta = ElementCompute(1);" in src
            assert "a.residual != nullptr && aligned(a.residual)" in src
        else:
            assert "using ElementC = void;" in src
            assert "thread.beta = ElementCompute(0);" in src
            assert "a.residual == nullptr" in src
        # refused at run time: anything but a pointwise conv, unaligned channels or pointers
        for check in ("a.r == 1 && a.s == 1", "a.stride_h == 1", "a.pad_h == 0",
                      "a.dilation_h == 1", "a.p == a.h && a.q == a.w_", "a.c % kAlign == 0",
                      "a.bias != nullptr"):
            assert check in src
        # the SM count is cached per device, never read from the device properties per call
        assert "cudaGetDeviceProperties(" not in src
        assert "std::call_once" in src and "cudaDevAttrMultiProcessorCount" in src
        assert src.index("kernel_hardware_info.hpp") < src.index("collective_builder.hpp")


def test_profiler_holds_gemm_candidates():
    cands = conv2d_candidates(H100, BIAS_ADD_RELU, 64, 256, **POINTWISE)
    src = ProfilerSpec(cands[0].family, BIAS_ADD_RELU, tuple(cands)).main_source(H100).text
    for c in _gemm(cands):
        assert f"{c.name}_workspace_bytes" in src


@pytest.mark.nvcc
@pytest.mark.skipif(H100.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH, wheel)")
@pytest.mark.parametrize("cand", [
    gemm3x.Conv2dGemm3x(gemm3x.TILES[0], BIAS_ADD_RELU, "f32"),
    conv3x.Conv2dCutlass3x(conv3x.Tile3x((128, 64, 64)), BIAS_ADD_RELU, "f32"),
], ids=["gemm3x_128x256", "conv3x_128x64"])
def test_compiles_for_sm90a_without_spills(cand, tmp_path):
    """The widest GEMM tile and the conv tile CUTLASS's generator does not list, each with the
    heaviest epilogue: a register spill in a Hopper kernel makes it ~10x slower, so ptxas must
    report none."""
    src = tmp_path / f"{cand.name}.cu"
    src.write_text(cand.render())
    obj = tmp_path / f"{cand.name}.o"
    proc = subprocess.run([H100.nvcc, *nvcc.compile_flags(H100), "-Xptxas", "-v", "-c",
                           str(src), "-o", str(obj)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", proc.stderr)
    assert spills and all(s == ("0", "0") for s in spills), spills
    assert "C7510" not in proc.stderr  # wgmma serialised: -DNDEBUG missing
    syms = subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout
    assert re.search(rf" T {cand.name}$", syms, re.MULTILINE)
    assert re.search(rf" T {cand.name}_workspace_bytes$", syms, re.MULTILINE)
    if isinstance(cand, gemm3x.Conv2dGemm3x):
        _check_runtime_guard(cand, obj, tmp_path)


# Calls a GEMM kernel with args it must refuse before touching the GPU (so this runs with or
# without one): anything but a pointwise conv with aligned channels and pointers.
GUARD_MAIN = r"""
#include <cstdio>
#include "ait_abi.h"
extern "C" int NAME(const AitConv2dArgs*, void*, size_t, cudaStream_t);
extern "C" size_t NAME_workspace_bytes(const AitConv2dArgs*);
alignas(16) static char buf[64];
int bad = 0;
void expect(AitConv2dArgs a, const char* what) {
  int st = NAME(&a, nullptr, 0, nullptr);
  if (st != AIT_ERR_CANNOT_IMPLEMENT) { std::printf("%s: status %d\n", what, st); ++bad; }
  if (NAME_workspace_bytes(&a) != 0) { std::printf("%s: workspace\n", what); ++bad; }
}
int main() {
  AitConv2dArgs b{};
  b.x = b.w = b.bias = b.y = buf;
  b.residual = RESIDUAL ? buf : nullptr;
  b.n = 2; b.h = b.w_ = b.p = b.q = 14; b.c = 64; b.k = 256; b.r = b.s = 1;
  b.stride_h = b.stride_w = b.dilation_h = b.dilation_w = 1;
  AitConv2dArgs a;
  a = b; a.r = a.s = 3; a.pad_h = a.pad_w = 1; expect(a, "3x3");
  a = b; a.stride_h = a.stride_w = 2; a.p = a.q = 7; expect(a, "stride 2");
  a = b; a.pad_h = a.pad_w = 1; a.p = a.q = 16; expect(a, "pad 1");
  a = b; a.dilation_h = 2; expect(a, "dilation 2");
  a = b; a.p = 13; expect(a, "p != h");
  a = b; a.c = 36; expect(a, "c % 8");
  a = b; a.k = 36; expect(a, "k % 8");
  a = b; a.x = buf + 2; expect(a, "unaligned x");
  a = b; a.y = buf + 8; expect(a, "unaligned y");
  a = b; a.bias = nullptr; expect(a, "no bias");
  a = b; a.residual = RESIDUAL ? nullptr : buf; expect(a, "residual mismatch");
  a = b; a.n = 0; expect(a, "n = 0");
  a = b; a.n = 1 << 20; a.h = a.w_ = a.p = a.q = 64; expect(a, "n*h*w overflows int");
  if (NAME(nullptr, nullptr, 0, nullptr) != AIT_ERR_CANNOT_IMPLEMENT) ++bad;
  if (NAME_workspace_bytes(nullptr) != 0) ++bad;
  std::printf(bad ? "FAILED\n" : "ok\n");
  return bad;
}
"""


def _check_runtime_guard(cand, obj, tmp_path):
    main = tmp_path / "guard.cu"
    main.write_text(GUARD_MAIN.replace("NAME", cand.name)
                    .replace("RESIDUAL", "true" if cand.epilogue.residual else "false"))
    exe = tmp_path / "guard"
    subprocess.run([H100.nvcc, *nvcc.compile_flags(H100), str(main), str(obj), "-o", str(exe)],
                   check=True, capture_output=True, timeout=300)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stdout + out.stderr
