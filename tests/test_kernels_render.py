"""Kernel candidates: names, filters by alignment, and template renders for every branch."""
from __future__ import annotations

import dataclasses
import re

import jinja2
import pytest

from ait.backend import cutlass_lib
from ait.backend.target import Target
from ait.backend.templates import render
from ait.ops.conv2d import cutlass2x as conv2x
from ait.ops.conv2d import cutlass3x as conv3x
from ait.ops.conv2d.candidates import conv2d_candidates
from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU
from ait.ops.gemm import cutlass2x as gemm2x
from ait.ops.gemm.candidates import gemm_candidates
from ait.tune.build import ProfilerSpec

EPILOGUES = (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU)
H100 = Target.for_arch(90)
A100 = Target.for_arch(80)
H100_F16 = Target.for_arch(90, use_fp16_acc=True)
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _all_candidates():
    out = []
    for target in (H100, A100, H100_F16):
        for ep in EPILOGUES:
            out += conv2d_candidates(target, ep, 64, 256)
            out += conv2d_candidates(target, ep, 4, 64, few_channels=True)
            out += conv2d_candidates(target, ep, 8, 64, few_channels=True)
            out += conv2d_candidates(target, ep, 36, 18)
            out += conv2d_candidates(target, ep, 16, 64)  # small C: FewChannels too
        for ep in (BIAS, BIAS_RELU):
            out += gemm_candidates(target, ep, 1000, 2048)
    return out


def test_names_are_unique_c_identifiers():
    cands = _all_candidates()
    names = {}
    for c in cands:
        assert IDENT.match(c.name), c.name
        names.setdefault(c.name, set()).add(c)
    # one name, one kernel (same dataclass value) across all targets and shapes
    assert all(len(v) == 1 for v in names.values())


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
@pytest.mark.parametrize("target", [H100, H100_F16], ids=["f32", "f16"])
def test_conv2x_render(ep, target):
    cand = conv2d_candidates(target, ep, 64, 64)[0]
    assert isinstance(cand, conv2x.Conv2dCutlass2x)
    src = cand.render()
    assert f'extern "C" int {cand.name}(const AitConv2dArgs* a' in src
    assert f'extern "C" size_t {cand.name}_workspace_bytes(' in src
    assert "IteratorAlgorithm::kOptimized" in src
    assert "cutlass::gemm::GemmShape<128, 64, 32>" in src
    acc = "cutlass::half_t" if target.use_fp16_acc else "float"
    assert f"using ElementAcc = {acc};" in src
    if ep.residual:
        assert "DefaultConv2dFpropWithBroadcast" in src
        assert "LinearCombinationResidualBlock" in src
        relu = "cutlass::epilogue::thread::ReLu>" if "relu" in ep.tag else "thread::Identity>"
        assert relu in src
        assert "a.residual != nullptr" in src
    else:
        assert "WithBroadcast" not in src
        functor = "LinearCombinationRelu<" if "relu" in ep.tag else "LinearCombination<"
        assert functor in src
        assert "Layout(Layout::Stride(0))" in src  # bias as C, broadcast over n, p, q
        assert "a.residual == nullptr" in src


def test_conv2x_fixed_channels_stem():
    cands = conv2d_candidates(H100, BIAS_RELU, 4, 64, few_channels=True)
    assert cands and all(isinstance(c, conv2x.Conv2dCutlass2x) for c in cands)  # no 3.x: c % 8
    assert all(c.iterator is conv2x.Iterator.FIXED_CHANNELS and c.align_a == 4 for c in cands)
    src = cands[0].render()
    assert "IteratorAlgorithm::kFixedChannels" in src
    assert "constexpr int kAlignA = 4;" in src
    c8 = conv2d_candidates(H100, BIAS_RELU, 8, 64, few_channels=True)
    assert c8 and all(c.iterator is conv2x.Iterator.FIXED_CHANNELS and c.align_a == 8
                      for c in c8)
    # the same channel count without few_channels is an ordinary conv
    plain = conv2d_candidates(H100, BIAS_RELU, 8, 64)
    assert any(isinstance(c, conv3x.Conv2dCutlass3x) for c in plain)
    assert conv2d_candidates(H100, BIAS_RELU, 16, 64, few_channels=True) == []


def test_conv2x_few_channels_iterator_for_small_c():
    """C below the 32-wide K step (the s2d stem's 16): FewChannels kernels join the list,
    after the Optimized ones (so the fixed first choice does not change)."""
    cands = conv2d_candidates(H100, BIAS_RELU, 16, 64, r=4, s=4)
    kinds = [c.iterator for c in cands if isinstance(c, conv2x.Conv2dCutlass2x)]
    few = [c for c in cands if getattr(c, "iterator", None) is conv2x.Iterator.FEW_CHANNELS]
    assert len(few) == len(conv2x.SMALL_C_TILES) and all(c.align_a == 8 for c in few)
    assert kinds[0] is conv2x.Iterator.OPTIMIZED
    assert kinds.index(conv2x.Iterator.FEW_CHANNELS) > kinds.index(conv2x.Iterator.OPTIMIZED)
    assert "IteratorAlgorithm::kFewChannels" in few[0].render()
    for c, fc in ((32, False), (64, False), (8, True)):
        assert not any(getattr(x, "iterator", None) is conv2x.Iterator.FEW_CHANNELS
                       for x in conv2d_candidates(H100, BIAS_RELU, c, 64, few_channels=fc))


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
def test_conv3x_render(ep):
    cands = [c for c in conv2d_candidates(H100, ep, 64, 64)
             if isinstance(c, conv3x.Conv2dCutlass3x)]
    assert {c.tile.shape for c in cands} == {t.shape for t in conv3x.TILES}
    assert all(c.tile.shape != (128, 256, 64) for c in cands)  # spills in 4.2
    src = cands[0].render()
    assert "KernelImplicitTmaWarpSpecializedSm90" in src
    assert "LinCombPerColBiasEltAct<" in src
    assert src.index("kernel_hardware_info.hpp") < src.index("conv/collective/collective_builder")
    act = "thread::ReLu," if "relu" in ep.tag else "thread::Identity,"
    assert act in src
    if ep.residual:
        assert "using ElementC = cutlass::half_t;" in src
        assert "thread.beta = ElementCompute(1);" in src
    else:
        assert "using ElementC = void;" in src
        assert "thread.beta = ElementCompute(0);" in src


def test_arch80_has_no_hopper_kernels():
    cands = conv2d_candidates(A100, BIAS_RELU, 64, 64)
    assert cands and all(isinstance(c, conv2x.Conv2dCutlass2x) for c in cands)
    assert A100.gencode() == ["-gencode", "arch=compute_80,code=[sm_80,compute_80]"]
    assert H100.gencode() == ["-gencode", "arch=compute_90a,code=sm_90a"]


@pytest.mark.parametrize("c,k,align_a,align_c,has_3x", [
    (64, 64, 8, 8, True),
    (36, 64, 4, 8, False),
    (64, 36, 8, 4, False),
    (18, 18, 2, 2, False),
])
def test_conv_alignment_filter(c, k, align_a, align_c, has_3x):
    cands = conv2d_candidates(H100, BIAS_RELU, c, k)
    two = [x for x in cands if isinstance(x, conv2x.Conv2dCutlass2x)]
    assert two and all(x.align_a == align_a and x.align_c == align_c for x in two)
    assert any(isinstance(x, conv3x.Conv2dCutlass3x) for x in cands) == has_3x
    assert f"a{align_a}c{align_c}" in two[0].name


def test_odd_channels_have_no_candidate():
    assert conv2d_candidates(H100, BIAS_RELU, 3, 64) == []
    assert conv2d_candidates(H100, BIAS_RELU, 3, 64, few_channels=True) == []
    assert conv2d_candidates(H100, BIAS_RELU, 64, 65) == []
    # an odd classifier width leaves only the GEMV kernels (scalar stores), none of CUTLASS's
    odd = gemm_candidates(H100, BIAS, 1001, 2048)
    assert odd and all(c.generation == "gemv" for c in odd)


def test_first_candidate_is_a_cheap_2x_kernel():
    for ep in EPILOGUES:
        assert isinstance(conv2d_candidates(H100, ep, 64, 64)[0], conv2x.Conv2dCutlass2x)


@pytest.mark.parametrize("ep", [BIAS, BIAS_RELU], ids=lambda e: e.tag)
def test_gemm_render(ep):
    cands = [c for c in gemm_candidates(H100, ep, 1000, 2048) if c.generation == "2x"]
    assert len(cands) == len(gemm2x.CONFIGS)
    plain = cands[0].render()
    split = dataclasses.replace(cands[0], split_k=4)
    assert "_sk4_" in split.name
    assert "/*SplitKSerial=*/false" in plain
    assert "/*SplitKSerial=*/true" in split.render()
    assert split.supports(1000, 2048) == (ep == BIAS)  # relu + serial split-K gives NaN
    functor = "LinearCombinationRelu<" if "relu" in ep.tag else "LinearCombination<"
    assert functor in plain
    assert "{static_cast<const Element*>(a.bias), 0}" in plain  # bias as C, row stride 0
    assert gemm_candidates(H100, BIAS_ADD, 1000, 2048) == []
    assert [c.align_c for c in gemm_candidates(H100, ep, 1002, 2048)
            if c.generation == "2x"] == [2] * len(cands)


def test_tiles_are_cutlass_configurations():
    conv_tiles = cutlass_lib.sm80_tensorop_tiles("conv2d")
    for t in conv2x.TILES + conv2x.FEW_CHANNEL_TILES:
        assert (t.shape, t.warps) in conv_tiles, t
    gemm_tiles = cutlass_lib.sm80_tensorop_tiles("gemm")
    for t, _ in gemm2x.CONFIGS:
        assert (t.shape, t.warps) in gemm_tiles, t
    hopper = cutlass_lib.sm90_conv_fprop_tiles()
    for t in conv3x.TILES:  # unlisted shapes have their own nvcc no-spill test
        assert t.shape in hopper | conv3x.UNLISTED_TILE_SHAPES, t


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
def test_profiler_templates_render(ep):
    cands = conv2d_candidates(H100, ep, 64, 64)
    spec = ProfilerSpec(cands[0].family, ep, tuple(cands))
    src = spec.main_source(H100)
    assert src.name.startswith(f"profiler_conv2d_{ep.tag}_")
    for c in cands:
        assert f"{c.name}_workspace_bytes" in src.text
    assert f"constexpr bool kResidual = {'true' if ep.residual else 'false'};" in src.text
    assert '"{\\"start\\": "' in src.text
    gemm = gemm_candidates(H100, BIAS_RELU, 1000, 2048)
    gsrc = ProfilerSpec(gemm[0].family, BIAS_RELU, tuple(gemm)).main_source(H100_F16)
    assert "constexpr bool kRelu = true;" in gsrc.text
    assert "kDefaultTol = 0.05" in gsrc.text


def test_strict_undefined():
    with pytest.raises(jinja2.UndefinedError):
        render("ops/conv2d/templates/conv2d_cutlass2x.cu.j2", name="x")
