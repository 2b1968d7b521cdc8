"""Pointwise convs as Hopper 3.x GEMMs (and strided 1x1 convs as a gather + that GEMM): names,
where the candidates are offered, the rendered source, and real sm_90a compiles (no spills)
where nvcc is available."""
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
from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU
from ait.ops.conv2d import ConvRequest
from ait.tune import candidates_for
from ait.tune.build import ProfilerSpec
from ait.tune.candidates import all_candidates_for
from tests.refusal_guard import check_refusals

EPILOGUES = (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU)
H100 = Target.for_arch(90)
H100_F16 = Target.for_arch(90, use_fp16_acc=True)
A100 = Target.for_arch(80)
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
POINTWISE = {"r": 1, "s": 1, "stride": (1, 1), "pad": (0, 0), "dilation": (1, 1)}
STRIDED = {"r": 1, "s": 1, "stride": (2, 2), "pad": (0, 0), "dilation": (1, 1)}


def _gemm(cands):
    """The plain (stride 1) GEMM candidates."""
    return [c for c in cands if isinstance(c, gemm3x.Conv2dGemm3x) and not c.strided]


def _strided(cands):
    """The gather + GEMM candidates for strided 1x1 convs."""
    return [c for c in cands if isinstance(c, gemm3x.Conv2dGemm3x) and c.strided]


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


def test_strided_names_are_unique_and_distinct():
    cands = []
    for target in (H100, H100_F16):
        for ep in EPILOGUES:
            cands += conv2d_candidates(target, ep, 256, 512, **POINTWISE)
            cands += conv2d_candidates(target, ep, 256, 512, **STRIDED)
    strided = _strided(cands)
    assert len(strided) == 2 * len(EPILOGUES) * len(gemm3x.STRIDED_TILES)
    names = [c.name for c in cands if isinstance(c, gemm3x.Conv2dGemm3x)]
    assert all(IDENT.match(n) for n in names)
    assert len(set(names)) == len(names)  # the strided and plain GEMM names never collide
    assert {c.name for c in strided} == {n for n in names if n.startswith("conv2d_gemm3x_s_")}
    assert len(set(gemm3x.STRIDED_TILES)) == len(gemm3x.STRIDED_TILES)
    # ResNet's downsample convs have N = 512..2048: only the wide cooperative tiles
    assert all(t.schedule is gemm3x.Schedule.COOPERATIVE and max(t.shape[:2]) == 256
               for t in gemm3x.STRIDED_TILES)
    # the plain candidate list (what the existing GPU tests count) is unchanged
    assert [c.tile for c in gemm3x.candidates(BIAS, 64, 64, "f32")] == list(gemm3x.TILES)


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
def test_offered_for_pointwise_convs_on_hopper(ep):
    cands = conv2d_candidates(H100, ep, 64, 256, **POINTWISE)
    assert {c.tile for c in _gemm(cands)} == set(gemm3x.TILES)
    assert isinstance(cands[0], conv2x.Conv2dCutlass2x)  # the cheap first choice stays first
    assert any(isinstance(c, conv3x.Conv2dCutlass3x) for c in cands)
    # the tuner's entry point passes the request's geometry through (before tune.prune)
    req = ConvRequest.of(ep, 8, 56, 56, 64, 256, 1, 1)
    assert all_candidates_for(H100, req) == cands
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
    # of these only the strided 1x1 convs get the gather + GEMM kernels
    strided = (r, s) == (1, 1) and tuple(pad) == (0, 0) and tuple(dilation) == (1, 1) \
        and tuple(stride) != (1, 1)
    assert {c.tile for c in _strided(cands)} == (set(gemm3x.STRIDED_TILES) if strided else set())


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
def test_strided_offered_for_strided_1x1_convs_on_hopper(ep):
    for stride in ((2, 2), (3, 3), (1, 2), (2, 1)):
        cands = conv2d_candidates(H100, ep, 256, 512, **{**STRIDED, "stride": stride})
        assert {c.tile for c in _strided(cands)} == set(gemm3x.STRIDED_TILES), stride
        assert not _gemm(cands)
        assert isinstance(cands[0], conv2x.Conv2dCutlass2x)  # the cheap first choice stays first
        assert any(isinstance(c, conv3x.Conv2dCutlass3x) for c in cands)
    shortcut = ConvRequest.of(ep, 8, 56, 56, 256, 512, 1, 1, (0, 0), (2, 2))
    cands = all_candidates_for(H100, shortcut)
    assert cands == conv2d_candidates(H100, ep, 256, 512, **STRIDED)
    kept = {c.tile.shape for c in _strided(candidates_for(H100, shortcut))}
    assert kept == {(256, 128, 64)}  # 128x256 left out by the trade sm90-gemm3x-128x256
    assert _strided(cands) and all(c.acc == "f32" for c in _strided(cands))
    assert all(c.acc == "f16" for c in _strided(candidates_for(H100_F16, shortcut)))


@pytest.mark.parametrize("r,s,stride,pad,dilation", [
    (1, 1, (1, 1), (0, 0), (1, 1)),   # stride 1: the plain GEMM's job
    (3, 3, (2, 2), (1, 1), (1, 1)),
    (1, 1, (2, 2), (1, 1), (1, 1)),
    (1, 1, (2, 2), (0, 0), (2, 2)),
    (1, 3, (2, 2), (0, 1), (1, 1)),
    (1, 1, (0, 2), (0, 0), (1, 1)),
    (None, None, (2, 2), (0, 0), (1, 1)),
], ids=["stride1", "3x3s2", "pad1", "dilation2", "1x3", "stride0", "unknown"])
def test_strided_not_offered_for_other_geometries(r, s, stride, pad, dilation):
    cands = conv2d_candidates(H100, BIAS, 256, 512, r=r, s=s, stride=stride, pad=pad,
                              dilation=dilation)
    assert cands and not _strided(cands)


def test_strided_not_offered_on_arch80_few_channels_or_unaligned():
    assert not _strided(conv2d_candidates(A100, BIAS, 256, 512, **STRIDED))
    assert not _strided(conv2d_candidates(H100, BIAS, 8, 64, few_channels=True, **STRIDED))
    assert _strided(conv2d_candidates(H100, BIAS, 8, 64, **STRIDED))
    for c, k in ((36, 64), (64, 36), (18, 18)):
        assert not _strided(conv2d_candidates(H100, BIAS, c, k, **STRIDED))


def test_not_offered_on_arch80_few_channels_or_unaligned():
    assert not _gemm(conv2d_candidates(A100, BIAS_RELU, 64, 256, **POINTWISE))
    assert not _gemm(conv2d_candidates(H100, BIAS_RELU, 8, 64, few_channels=True, **POINTWISE))
    assert _gemm(conv2d_candidates(H100, BIAS_RELU, 8, 64, **POINTWISE))
    for c, k in ((36, 64), (64, 36), (18, 18)):
        assert not _gemm(conv2d_candidates(H100, BIAS_RELU, c, k, **POINTWISE))
    stem = ConvRequest.of(BIAS_RELU, 2, 224, 224, 4, 64, 7, 7, (3, 3), (2, 2), (1, 1), True)
    shortcut = ConvRequest.of(BIAS, 8, 56, 56, 256, 512, 1, 1, (0, 0), (2, 2))
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
        # in a static function (inline statics are one process-wide symbol), for this kernel's
        # own entry point, launched so that a launch error reaches the model's message
        assert "static const DeviceInfo* device_info()" in src
        assert "cudaFuncSetAttribute(entry," in src and "device_kernel<Kernel>," not in src
        assert "return cudaLaunchKernelEx(&config, entry, params, pf);" in src
        assert "if (launch(params, ait_prefetch_of(*a), stream) != cudaSuccess) return AIT_ERR_LAUNCH;" in src
        assert src.index("kernel_hardware_info.hpp") < src.index("collective_builder.hpp")


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
@pytest.mark.parametrize("target", [H100, H100_F16], ids=["f32", "f16"])
def test_render_strided(ep, target):
    cands = _strided(conv2d_candidates(target, ep, 256, 512, **STRIDED))
    assert cands
    for cand in cands:
        src = cand.render()
        plain = gemm3x.Conv2dGemm3x(cand.tile, ep, cand.acc).render()
        assert f'extern "C" int {cand.name}(const AitConv2dArgs* a, void* workspace,' in src
        assert f'extern "C" size_t {cand.name}_workspace_bytes(const AitConv2dArgs* a)' in src
        assert f"namespace {cand.name}_impl" in src
        sched = cand.tile.schedule
        assert f"cutlass::gemm::{sched.kernel}>::CollectiveOp" in src
        m, n, k = cand.tile.shape
        assert f"cute::Shape<cute::_{m}, cute::_{n}, cute::_{k}>" in src
        # the same GEMM as the plain kernel: only the gather, the checks and A's pointer differ
        head = src.index("using TileShape")
        assert src[head:src.index("constexpr bool kClusterLaunch")] == \
            plain[plain.index("using TileShape"):plain.index("constexpr bool kClusterLaunch")]
        assert "launch_gather" not in plain and "FastDivmod" not in plain
        # the gather: 16-byte vectors, 32-bit index math where it fits, on the caller's stream
        assert "const uint4* x;" in src and "__ldg(g.x + source_vector<Index>(g, i))" in src
        assert "gather<int><<<" in src and "gather<long long><<<" in src
        assert "0, stream>>>(g);" in src and "cutlass::FastDivmod" in src
        gemm_launch = src.index("if (launch(params, ait_prefetch_of(*a), stream) != cudaSuccess)")
        assert src.index("launch_gather(*a, xs,") < gemm_launch
        assert "make_arguments(*a, xs, dev->hw)" in src
        # workspace: slack to align xs up, xs, then the GEMM's own; too small -> WORKSPACE
        assert "return kWsAlign + round_up(xs_bytes(*a)) +" in src
        assert "a.n) * a.p * a.q * a.c * sizeof(Element)" in src
        assert "if (workspace == nullptr || workspace_bytes < xs_end) return AIT_ERR_WORKSPACE;" \
            in src
        # sized from the shape alone: the model asks with null buffers standing in
        assert "if (a == nullptr || !shape_supported(*a)) return 0;" in src
        # refused at run time: anything but a strided 1x1 / pad 0 / dilation 1 conv
        for check in ("a.r == 1 && a.s == 1", "a.pad_h == 0 && a.pad_w == 0",
                      "a.dilation_h == 1", "(a.stride_h > 1 || a.stride_w > 1)",
                      "a.stride_h >= 1 && a.stride_w >= 1",
                      "a.p == (a.h - 1) / a.stride_h + 1 && a.q == (a.w_ - 1) / a.stride_w + 1",
                      "a.c % kAlign == 0 && a.k % kAlign == 0", "a.bias != nullptr",
                      "aligned(a.x) && aligned(a.w) && aligned(a.y)"):
            assert check in src
        if ep.residual:
            assert "a.residual != nullptr && aligned(a.residual)" in src
            assert "thread.beta = ElementCompute(1);" in src
        else:
            assert "a.residual == nullptr" in src
            assert "thread.beta = ElementCompute(0);" in src
        assert "cudaGetDeviceProperties(" not in src


def test_profiler_holds_gemm_candidates():
    cands = conv2d_candidates(H100, BIAS_ADD_RELU, 64, 256, **POINTWISE)
    src = ProfilerSpec(cands[0].family, BIAS_ADD_RELU, tuple(cands)).main_source(H100).text
    for c in _gemm(cands):
        assert f"{c.name}_workspace_bytes" in src
    cands = conv2d_candidates(H100, BIAS, 256, 512, **STRIDED)
    src = ProfilerSpec(cands[0].family, BIAS, tuple(cands)).main_source(H100).text
    assert _strided(cands)
    for c in _strided(cands):
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
        _check_own_entry(syms)
        _check_runtime_guard(cand, obj, tmp_path)


def _check_own_entry(syms: str) -> None:
    """The GEMM launches its own entry point, never the weak cutlass::device_kernel<Kernel>
    stub that a plain and a strided kernel of one tile and epilogue would share in a model."""
    assert "device_kernel" not in syms
    assert re.search(r"_impl5entry", syms)
    # no per-device state in process-wide (STB_GNU_UNIQUE, nm "u") symbols: each model .so
    # loaded into one process must opt its own kernel in to large shared memory
    unique = [line for line in syms.splitlines() if " u " in line and "_impl" in line]
    assert not unique, unique


# The cases a GEMM kernel must refuse (tests/refusal_guard.py): anything but a pointwise
# conv with aligned channels and pointers.
GUARD_CASES = r"""
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
"""


def _check_runtime_guard(cand, obj, tmp_path):
    check_refusals(H100, cand, obj, tmp_path, GUARD_CASES, refused_need_no_workspace=True)


# Appended to a strided kernel's own source (one translation unit, so the gather's index math
# is reachable), compiled once for sm_90a and run without touching the GPU: the refusals, the
# workspace answers and the gather's source index for every vector of a few shapes, with both
# the 32-bit (FastDivmod) and the 64-bit index types.
STRIDED_GUARD_MAIN = r"""
#include <cstdio>
alignas(256) static char buf[1024];
int bad = 0;
// Shape refusals also get no workspace; pointer refusals may (sizes depend on shapes only).
void expect(AitConv2dArgs a, const char* what, bool shape = true) {
  int st = NAME(&a, nullptr, 0, nullptr);
  if (st != AIT_ERR_CANNOT_IMPLEMENT) { std::printf("%s: status %d\n", what, st); ++bad; }
  if (shape && NAME_workspace_bytes(&a) != 0) { std::printf("%s: workspace\n", what); ++bad; }
}
void expect_ws(AitConv2dArgs a, void* ws, size_t bytes, const char* what) {
  int st = NAME(&a, ws, bytes, nullptr);
  if (st != AIT_ERR_WORKSPACE) { std::printf("%s: status %d\n", what, st); ++bad; }
}
AitConv2dArgs shape(int n, int h, int w, int c, int sh, int sw) {
  AitConv2dArgs a{};
  a.x = a.w = a.bias = a.y = buf;
  a.residual = RESIDUAL ? buf : nullptr;
  a.n = n; a.h = h; a.w_ = w; a.c = c; a.k = 64; a.r = a.s = 1;
  a.stride_h = sh; a.stride_w = sw; a.dilation_h = a.dilation_w = 1;
  a.p = (h - 1) / sh + 1; a.q = (w - 1) / sw + 1;
  return a;
}
void check_gather(int n, int h, int w, int c, int sh, int sw) {
  AitConv2dArgs a = shape(n, h, w, c, sh, sw);
  if (NAME_workspace_bytes(&a) == 0) { std::printf("gather %dx%d: refused\n", h, w); ++bad; }
  NAME_impl::GatherParams g = NAME_impl::make_gather_params(a, nullptr);
  long long i = 0, cv = c / 8;
  for (int in = 0; in < n; ++in)
    for (int ip = 0; ip < a.p; ++ip)
      for (int iq = 0; iq < a.q; ++iq)
        for (int v = 0; v < cv; ++v, ++i) {
          long long want = ((1LL * in * h + ip * sh) * w + iq * sw) * cv + v;
          int s32 = NAME_impl::source_vector<int>(g, int(i));
          long long s64 = NAME_impl::source_vector<long long>(g, i);
          if (s32 != want || s64 != want) {
            if (bad < 20) std::printf("gather n%d %dx%d c%d s%dx%d: i=%lld -> %d / %lld, want %lld\n",
                                      n, h, w, c, sh, sw, i, s32, s64, want);
            ++bad;
          }
        }
  if (i != g.vectors) { std::printf("gather: %lld vectors, want %lld\n", g.vectors, i); ++bad; }
}
int main() {
  AitConv2dArgs b = shape(2, 14, 14, 64, 2, 2);  // p = q = 7
  // workspace: kWsAlign slack + n*p*q*c*2 rounded up to kWsAlign (the GEMM needs none)
  if (NAME_workspace_bytes(&b) != 256 + 2 * 7 * 7 * 64 * 2) { std::printf("ws\n"); ++bad; }
  AitConv2dArgs t = shape(1, 5, 5, 8, 2, 2);  // 3x3x8 halves = 144 bytes -> 256
  if (NAME_workspace_bytes(&t) != 256 + 256) { std::printf("ws rounding\n"); ++bad; }
  // the model sizes workspaces with null buffers (and a null bias) standing in
  AitConv2dArgs null = b;
  null.x = null.w = null.bias = null.residual = null.y = nullptr;
  if (NAME_workspace_bytes(&null) != 256 + 2 * 7 * 7 * 64 * 2) { std::printf("ws null\n"); ++bad; }
  const size_t xs = 2 * 7 * 7 * 64 * 2;
  expect_ws(b, nullptr, 1 << 20, "null workspace");
  expect_ws(b, buf, xs - 1, "workspace too small");
  expect_ws(b, buf + 16, xs + 16, "misaligned workspace without the slack");
  AitConv2dArgs a;
  a = b; a.stride_h = a.stride_w = 1; a.p = a.q = 14; expect(a, "stride 1");
  a = b; a.r = a.s = 3; a.pad_h = a.pad_w = 1; expect(a, "3x3");
  a = b; a.pad_h = a.pad_w = 1; a.p = a.q = 8; expect(a, "pad 1");
  a = b; a.dilation_h = 2; expect(a, "dilation 2");
  a = b; a.stride_h = 0; expect(a, "stride 0");
  a = b; a.stride_w = -2; expect(a, "stride -2");
  a = b; a.p = 6; expect(a, "p != (h - 1) / stride + 1");
  a = b; a.q = 8; expect(a, "q != (w - 1) / stride + 1");
  a = b; a.p = a.q = 14; expect(a, "p, q of stride 1");
  a = b; a.c = 36; expect(a, "c % 8");
  a = b; a.k = 36; expect(a, "k % 8");
  a = b; a.x = buf + 2; expect(a, "unaligned x", false);
  a = b; a.w = buf + 4; expect(a, "unaligned w", false);
  a = b; a.y = buf + 8; expect(a, "unaligned y", false);
  a = b; a.bias = buf + 6; expect(a, "unaligned bias", false);
  a = b; a.bias = nullptr; expect(a, "no bias", false);
  a = b; a.residual = RESIDUAL ? nullptr : buf; expect(a, "residual mismatch", false);
  if (RESIDUAL) { a = b; a.residual = buf + 2; expect(a, "unaligned residual", false); }
  a = b; a.n = 0; expect(a, "n = 0");
  a = b; a.h = 0; expect(a, "h = 0");
  a = shape(1 << 20, 128, 128, 64, 2, 2); expect(a, "n*p*q overflows int");
  if (NAME(nullptr, nullptr, 0, nullptr) != AIT_ERR_CANNOT_IMPLEMENT) ++bad;
  if (NAME_workspace_bytes(nullptr) != 0) ++bad;
  // the gather's index math, partial and odd extents, both stride orders
  check_gather(2, 14, 14, 64, 2, 2);
  check_gather(3, 15, 15, 40, 2, 2);
  check_gather(1, 7, 9, 8, 1, 2);
  check_gather(2, 9, 7, 16, 3, 2);
  check_gather(5, 15, 13, 24, 2, 3);
  check_gather(256, 56, 56, 256, 2, 2);  // ResNet's first downsample at batch 256
  // 32-bit indices only while x and xs vector indices fit in an int
  AitConv2dArgs big = shape(2048, 224, 224, 512, 2, 2);
  if (NAME_impl::use_int32(big, NAME_impl::make_gather_params(big, nullptr), 1056) ||
      !NAME_impl::use_int32(b, NAME_impl::make_gather_params(b, nullptr), 1056)) {
    std::printf("use_int32\n"); ++bad;
  }
  std::printf(bad ? "FAILED\n" : "ok\n");
  return bad;
}
"""


@pytest.mark.nvcc
@pytest.mark.skipif(H100.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH, wheel)")
def test_strided_compiles_for_sm90a_without_spills(tmp_path):
    """A gather + GEMM kernel (the wide tile, the heaviest epilogue) with the host-only guard
    above in the same translation unit: no spills in the GEMM or the gather, both symbols
    exported, and every refusal / workspace / index answer right."""
    cand = gemm3x.Conv2dGemm3x(gemm3x.STRIDED_TILES[0], BIAS_ADD_RELU, "f32", strided=True)
    src = tmp_path / f"{cand.name}.cu"
    src.write_text(cand.render() + STRIDED_GUARD_MAIN.replace("NAME", cand.name)
                   .replace("RESIDUAL", "true" if cand.epilogue.residual else "false"))
    obj = tmp_path / f"{cand.name}.o"
    proc = subprocess.run([H100.nvcc, *nvcc.compile_flags(H100), "-Xptxas", "-v", "-c",
                           str(src), "-o", str(obj)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", proc.stderr)
    # the GEMM kernel and the two gather instantiations (32- and 64-bit indices)
    assert len(spills) >= 3 and all(s == ("0", "0") for s in spills), spills
    assert re.search(r"gatherIiE", proc.stderr) and re.search(r"gatherIxE", proc.stderr)
    assert "C7510" not in proc.stderr  # wgmma serialised: -DNDEBUG missing
    syms = subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout
    assert re.search(rf" T {cand.name}$", syms, re.MULTILINE)
    assert re.search(rf" T {cand.name}_workspace_bytes$", syms, re.MULTILINE)
    _check_own_entry(syms)
    exe = tmp_path / "guard"
    subprocess.run([H100.nvcc, *nvcc.compile_flags(H100), str(obj), "-o", str(exe)],
                   check=True, capture_output=True, timeout=300)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr
