"""The persistent cooperative Hopper conv kernels (conv2d_3xp_*): names, where they are offered,
the rendered source (with the kernel header inlined), the PDL rule of the header, and real
sm_90a compiles (no spills) where nvcc is available. No GPU."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ait.backend import nvcc
from ait.backend.target import Target
from ait.backend.templates import AIT_ROOT
from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU
from ait.ops.conv2d import ConvRequest
from ait.ops.conv2d import cutlass3x as conv3x
from ait.ops.conv2d.candidates import conv2d_candidates
from ait.tune import candidates_for
from ait.tune.build import ProfilerSpec
from tests.refusal_guard import check_refusals

EPILOGUES = (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU)
H100 = Target.for_arch(90)
H100_F16 = Target.for_arch(90, use_fp16_acc=True)
A100 = Target.for_arch(80)
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADER = AIT_ROOT / "ops" / "conv2d" / "include" / "ait_sm90_conv_persistent.hpp"
CONV3X3 = {"r": 3, "s": 3, "stride": (1, 1), "pad": (1, 1), "dilation": (1, 1)}
POINTWISE = {"r": 1, "s": 1, "stride": (1, 1), "pad": (0, 0), "dilation": (1, 1)}


def _persistent(cands):
    return [c for c in cands if isinstance(c, conv3x.Conv2dCutlass3xPersistent)]


def test_names_are_unique_c_identifiers_built_from_the_data():
    cands = []
    for target in (H100, H100_F16):
        for ep in EPILOGUES:
            cands += conv2d_candidates(target, ep, 64, 64, **CONV3X3)
    pers = _persistent(cands)
    assert len(pers) == 2 * len(EPILOGUES) * len(conv3x.PERSISTENT_TILES)
    names = [c.name for c in cands]
    assert all(IDENT.match(n) for n in names)
    assert len(set(names)) == len(names)  # never collides with the other conv kernels
    assert {c.name for c in pers} == {n for n in names if n.startswith("conv2d_3xp_")}
    c = conv3x.Conv2dCutlass3xPersistent(conv3x.Tile3x((128, 64, 64)), BIAS_ADD_RELU, "f32")
    assert c.name == "conv2d_3xp_128x64x64_c1x1_coop_bias_add_relu_f32"
    staged = conv3x.Conv2dCutlass3xPersistent(conv3x.Tile3x((128, 64, 64), stages=5), BIAS, "f16")
    assert staged.name == "conv2d_3xp_128x64x64_5s_c1x1_coop_bias_f16"
    assert len(set(conv3x.PERSISTENT_TILES)) == len(conv3x.PERSISTENT_TILES)
    # cooperative: two math warpgroups of 64 rows each
    assert all(t.shape[0] >= 128 for t in conv3x.PERSISTENT_TILES)
    assert conv3x.Conv2dCutlass3xPersistent.generation == "3xp"


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
def test_offered_only_for_several_taps_on_hopper(ep):
    for r, s in ((3, 3), (7, 7), (1, 3)):
        geo = dict(CONV3X3, r=r, s=s)
        assert {c.tile for c in _persistent(conv2d_candidates(H100, ep, 64, 64, **geo))} \
            == set(conv3x.PERSISTENT_TILES)
    assert not _persistent(conv2d_candidates(H100, ep, 64, 256, **POINTWISE))
    assert not _persistent(conv2d_candidates(H100, ep, 256, 512, r=1, s=1, stride=(2, 2)))
    assert not _persistent(conv2d_candidates(H100, ep, 64, 64))  # geometry unknown
    assert not _persistent(conv2d_candidates(A100, ep, 64, 64, **CONV3X3))
    assert not _persistent(conv2d_candidates(H100, ep, 8, 64, few_channels=True, r=7, s=7))
    assert not _persistent(conv2d_candidates(H100, ep, 36, 64, **CONV3X3))  # c % 8
    assert not _persistent(conv2d_candidates(H100, ep, 64, 36, **CONV3X3))  # k % 8
    # the cheap first choice stays first, and the non-persistent 3.x list is unchanged
    cands = conv2d_candidates(H100, ep, 64, 64, **CONV3X3)
    assert cands[0].generation == "2x"
    assert [c for c in cands if isinstance(c, conv3x.Conv2dCutlass3x)] == \
        conv3x.candidates(ep, 64, 64, H100.acc, shallow=True)


def test_pruned_list_at_k64_keeps_the_n64_tiles():
    """At K = 64 (layer1) the 128x128 tile is dominated by 128x64 of the same kernel (rule
    sm90-hopper-n-beyond-k); at K >= 128 all three stay."""
    req = ConvRequest.of(BIAS_RELU, 256, 56, 56, 64, 64, 3, 3, (1, 1), (1, 1))
    assert {c.tile.shape for c in _persistent(candidates_for(H100, req))} == \
        {(128, 64, 64), (256, 64, 64)}
    req = ConvRequest.of(BIAS_RELU, 256, 28, 28, 128, 128, 3, 3, (1, 1), (1, 1))
    assert {c.tile.shape for c in _persistent(candidates_for(H100, req))} == \
        {t.shape for t in conv3x.PERSISTENT_TILES}


def test_header_is_inlinable_and_waits_on_every_path():
    text = HEADER.read_text()
    # inlined by a jinja include: no jinja syntax in it, an include guard, no #pragma once
    assert not any(tag in text for tag in ("{{", "{%", "{#"))
    assert not re.search(r"^#pragma once", text, re.MULTILINE)
    assert "#ifndef AIT_SM90_CONV_PERSISTENT_HPP" in text
    # the adaptation is documented: which CUTLASS files, and why
    for ref in ("sm90_gemm_tma_warpspecialized_cooperative.hpp",
                "sm90_gemm_tma_warpspecialized.hpp", "sm90_gmma_builder.inl",
                "conv/dispatch_policy.hpp"):
        assert ref in text.split("#ifndef")[0], ref
    # conv problem shapes handled as CUTLASS's non-persistent kernel does
    for use in ("get_problem_shape_MNKL_helper<", "get_transformed_problem_shape_MNKL(",
                "PersistentTileSchedulerSm90", "KernelTmaWarpSpecializedCooperative",
                "MainloopSm90TmaGmmaWarpSpecializedImplicitGemm<", "CollectiveConv<"):
        assert use in text, use
    body = text[text.index("void operator()(Params const& params, char* smem_buf)"):]
    waits = [m.start() for m in re.finditer(r"cutlass::arch::wait_on_dependent_grids\(\);", body)]
    # the mainloop producer, the epilogue (C) producer and the consumer warpgroups
    assert len(waits) == 3
    roles = ("producer_warp_role == ProducerWarpRole::Mainloop) {",
             "producer_warp_role == ProducerWarpRole::Epilogue && is_epi_load_needed) {",
             "warp_group_role == WarpGroupRole::Consumer1) {\n      work_tile_info")
    for role, wait in zip(roles, waits):
        start = body.index(role)
        assert start < wait
        # nothing between the role's branch and its wait loads, stores or runs the mainloop
        between = body[start:wait]
        assert not re.search(r"\.load\(|\.store\(|\.mma\(", between), between
    first_global = min(body.index(s) for s in ("collective_mainloop.load(",
                                               "collective_epilogue.load(",
                                               "collective_epilogue.store("))
    assert waits[0] < first_global
    assert "cutlass::arch::launch_dependent_grids();" in body
    assert conv3x.Conv2dCutlass3xPersistent.waits_for_prior_grids


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
@pytest.mark.parametrize("target", [H100, H100_F16], ids=["f32", "f16"])
def test_render(ep, target):
    header = HEADER.read_text()
    for cand in _persistent(conv2d_candidates(target, ep, 64, 128, **CONV3X3)):
        src = cand.render()
        assert header in src  # inlined verbatim: part of the source and its cache key
        assert f'extern "C" int {cand.name}(const AitConv2dArgs* a, void* workspace,' in src
        assert f'extern "C" size_t {cand.name}_workspace_bytes(const AitConv2dArgs* a)' in src
        assert f"namespace {cand.name}_impl" in src
        m, n, k = cand.tile.shape
        assert f"cute::Shape<cute::_{m}, cute::_{n}, cute::Shape<cute::_{k}>>" in src
        assert "ait::conv::Sm90ConvFpropPersistentCooperative<ProblemShape, CollectiveMainloop," \
            in src
        assert "ait::conv::Sm90ConvFpropCooperativeMainloop<" in src
        assert "cutlass::epilogue::TmaWarpSpecializedCooperative,\n" in src
        assert "StageCountAutoCarveout<" in src and "kKernelSmemSlack" in src
        assert "LinCombPerColBiasEltAct<" in src
        acc = "cutlass::half_t" if target.use_fp16_acc else "float"
        assert f"using ElementAcc = {acc};" in src
        assert ("thread::ReLu," if "relu" in ep.tag else "thread::Identity,") in src
        if ep.residual:
            assert "using ElementC = cutlass::half_t;" in src
            assert "thread.beta = ElementCompute(1);" in src
            assert "a.residual != nullptr && aligned(a.residual)" in src
            assert "static_cast<const Element*>(a.residual)" in src
        else:
            assert "using ElementC = void;" in src
            assert "thread.beta = ElementCompute(0);" in src
            assert "a.residual == nullptr" in src
        # C and D strides from the problem's packed NPQK output, as the non-persistent kernel
        assert src.count("= problem.stride_C[ProblemShape::RankT - 2 - i];") == 2
        # persistent launch: SM count cached per device, own entry point, workspace honoured
        assert "cudaGetDeviceProperties(" not in src
        assert "std::call_once" in src and "cudaDevAttrMultiProcessorCount" in src
        assert "static const DeviceInfo* device_info()" in src
        assert "make_arguments(*a, dev->hw)" in src
        assert "cudaFuncSetAttribute(entry," in src and "device_kernel<Kernel>," not in src
        assert "Kernel::get_grid_shape(params)" in src
        assert "return cudaLaunchKernelEx(&config, entry, params, pf);" in src
        assert "if (workspace_bytes < needed || (needed > 0 && workspace == nullptr))" in src
        assert src.index("Kernel::initialize_workspace(args, workspace, stream)") < \
            src.index("if (launch(params, ait_prefetch_of(*a), stream) != cudaSuccess) return AIT_ERR_LAUNCH;")
        assert "return Kernel::get_workspace_size(make_arguments(*a, hw));" in src
        assert "if (a == nullptr || !shape_supported(*a)) return 0;" in src
        assert src.index("kernel_hardware_info.hpp") < src.index("collective_builder.hpp")
    staged = conv3x.Conv2dCutlass3xPersistent(conv3x.Tile3x((128, 64, 64), stages=5), ep, "f32")
    src = staged.render()
    assert "cutlass::conv::collective::StageCount<5>" in src and "kKernelSmemSlack" not in src


def test_profiler_holds_the_persistent_candidates():
    cands = conv2d_candidates(H100, BIAS_ADD_RELU, 64, 64, **CONV3X3)
    src = ProfilerSpec(cands[0].family, BIAS_ADD_RELU, tuple(cands)).main_source(H100).text
    assert _persistent(cands)
    for c in _persistent(cands):
        assert f"{c.name}_workspace_bytes" in src


# The cases the kernel must refuse (tests/refusal_guard.py), and the workspace size of a
# valid 3x3 problem (no GPU either).
GUARD_CASES = r"""
  b.n = 256; b.h = b.w_ = b.p = b.q = 56; b.c = 64; b.k = 64; b.r = b.s = 3;
  b.pad_h = b.pad_w = 1;
  b.stride_h = b.stride_w = b.dilation_h = b.dilation_w = 1;
  size_t ws = NAME_workspace_bytes(&b);  // static persistent scheduler: none
  if (ws != 0) { std::printf("workspace %zu\n", ws); ++bad; }
  AitConv2dArgs a;
  a = b; a.p = 55; expect(a, "p mismatch");
  a = b; a.stride_h = a.stride_w = 2; expect(a, "stride 2, p = 56");
  a = b; a.c = 36; expect(a, "c % 8");
  a = b; a.k = 36; expect(a, "k % 8");
  a = b; a.x = buf + 2; expect(a, "unaligned x");
  a = b; a.w = buf + 2; expect(a, "unaligned w");
  a = b; a.y = buf + 8; expect(a, "unaligned y");
  a = b; a.bias = nullptr; expect(a, "no bias");
  a = b; a.residual = RESIDUAL ? nullptr : buf; expect(a, "residual mismatch");
"""


@pytest.mark.nvcc
@pytest.mark.skipif(H100.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH, wheel)")
@pytest.mark.parametrize("cand", [
    conv3x.Conv2dCutlass3xPersistent(t, BIAS_ADD_RELU, "f32") for t in conv3x.PERSISTENT_TILES
], ids=lambda c: c.name)
def test_compiles_for_sm90a_without_spills(cand, tmp_path):
    """Every persistent tile with the heaviest epilogue (~30 s of nvcc each on 2 cores): no
    register spill, a real (non-empty) sm_90a kernel, its own entry point, and the refusals."""
    src = tmp_path / f"{cand.name}.cu"
    src.write_text(cand.render())
    obj = tmp_path / f"{cand.name}.o"
    proc = subprocess.run([H100.nvcc, *nvcc.compile_flags(H100), "-Xptxas", "-v", "-c",
                           str(src), "-o", str(obj)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "warning" not in proc.stderr.lower(), proc.stderr[-4000:]
    spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", proc.stderr)
    assert spills and all(s == ("0", "0") for s in spills), spills
    assert "C7510" not in proc.stderr  # wgmma serialised: -DNDEBUG missing
    # the entry: built for sm_90a with a real register budget (an empty kernel uses a handful)
    entry = re.search(r"Compiling entry function '(\w*_impl5entry\w*)' for 'sm_90a'"
                      r"[\s\S]*?Used (\d+) registers", proc.stderr)
    assert entry and int(entry.group(2)) >= 128, proc.stderr[-2000:]
    cuobjdump = shutil.which("cuobjdump", path=str(Path(H100.nvcc).parent)) or \
        shutil.which("cuobjdump")
    if cuobjdump:
        sass = subprocess.run([cuobjdump, "--dump-sass", str(obj)], capture_output=True,
                              text=True, check=True).stdout
        assert "HGMMA" in sass and "IM2COL" in sass
    syms = subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout
    assert re.search(rf" T {cand.name}$", syms, re.MULTILINE)
    assert re.search(rf" T {cand.name}_workspace_bytes$", syms, re.MULTILINE)
    assert "device_kernel" not in syms and re.search(r"_impl5entry", syms)
    unique = [line for line in syms.splitlines() if " u " in line and "_impl" in line]
    assert not unique, unique
    check_refusals(H100, cand, obj, tmp_path, GUARD_CASES, refused_need_no_workspace=False)
