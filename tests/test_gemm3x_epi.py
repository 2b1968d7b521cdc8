"""The gemm3x epilogue tiles: the measured subtiles of some tiles' kernels (MEASURED_EPI) and the
variants (TileGemm3x.epi, AIT_GEMM3X_EPI_VARIANTS=1): names, the candidate list untouched
without the env var, the variants with it (pointwise only, each name once),
the builder's constraints on an explicit epilogue tile, the rendered source, and one sm_90a
compile where nvcc is available."""
from __future__ import annotations

import re
import subprocess

import pytest

from ait.backend import nvcc
from ait.backend.target import Target
from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU
from ait.ops.conv2d import ConvRequest, gemm3x
from ait.ops.conv2d.candidates import conv2d_candidates
from ait.tune.build import ProfilerSpec
from ait.tune.candidates import all_candidates_for, candidate_set_id

EPILOGUES = (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU)
H100 = Target.for_arch(90)
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
POINTWISE = {"r": 1, "s": 1, "stride": (1, 1), "pad": (0, 0), "dilation": (1, 1)}
STRIDED = {"r": 1, "s": 1, "stride": (2, 2), "pad": (0, 0), "dilation": (1, 1)}
ENV = gemm3x.EPI_VARIANTS_ENV
# The pointwise gemm3x names of ResNet-50 layer 3's residual conv: two tiles' residual kernels
# have their measured subtile (MEASURED_EPI).
DEFAULT_NAMES = [
    "conv2d_gemm3x_128x256x64_c1x1_coop_bias_add_relu_f32",
    "conv2d_gemm3x_256x128x64_c1x1_coop_e128x64_bias_add_relu_f32",
    "conv2d_gemm3x_128x128x64_c1x1_pp_e64x128_bias_add_relu_f32",
    "conv2d_gemm3x_128x128x64_c1x1_coop_bias_add_relu_f32",
]


def _gemm(cands, strided=False):
    return [c for c in cands if isinstance(c, gemm3x.Conv2dGemm3x) and c.strided == strided]


def _variants(ep=BIAS_ADD_RELU, acc="f32"):
    return [gemm3x.Conv2dGemm3x(t, ep, acc) for t in gemm3x.EPI_VARIANTS]


def test_env_name_is_documented():
    assert ENV == "AIT_GEMM3X_EPI_VARIANTS"
    assert ENV in gemm3x.__doc__


def _measured(kind):
    return {(shape, sched): epi for (k, shape, sched), epi in gemm3x.MEASURED_EPI.items()
            if k == kind}


def test_default_tiles_name_no_subtile_and_measured_kernels_take_theirs(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert all(t.epi is None for t in (*gemm3x.TILES, *gemm3x.STRIDED_TILES))
    cands = conv2d_candidates(H100, BIAS_ADD_RELU, 256, 1024, **POINTWISE)
    assert [c.name for c in _gemm(cands)] == DEFAULT_NAMES
    cands = conv2d_candidates(H100, BIAS, 256, 1024, **POINTWISE)  # nothing measured: auto
    assert all(c.epi is None and "_e" not in c.name.split("_c1x1_")[1].split("_bias")[0]
               for c in _gemm(cands))
    assert [c.name for c in _gemm(conv2d_candidates(H100, BIAS_RELU, 256, 64, **POINTWISE))] == [
        "conv2d_gemm3x_128x256x64_c1x1_coop_bias_relu_f32",
        "conv2d_gemm3x_256x128x64_c1x1_coop_e128x128_bias_relu_f32",
        "conv2d_gemm3x_128x128x64_c1x1_pp_bias_relu_f32",
        "conv2d_gemm3x_128x128x64_c1x1_coop_bias_relu_f32"]
    for ep, kind in ((BIAS_ADD, "residual"), (BIAS_ADD_RELU, "residual"),
                     (BIAS_RELU, "bias_relu"), (BIAS, "bias")):
        got = {(c.tile.shape, c.tile.schedule): c.epi
               for c in _gemm(conv2d_candidates(H100, ep, 256, 1024, **POINTWISE))}
        assert {k: v for k, v in got.items() if v} == _measured(kind), ep.tag
    # every entry names a pointwise tile, a subtile the builder accepts (M = 64 pingpong /
    # 128 cooperative, N % 16, dividing the tile) and an epilogue kind that exists
    tiles = {(t.shape, t.schedule) for t in gemm3x.TILES}
    for (kind, shape, sched), (m, n) in gemm3x.MEASURED_EPI.items():
        assert (shape, sched) in tiles and kind in {"residual", BIAS_RELU.tag, BIAS.tag}
        assert m == (128 if sched is gemm3x.Schedule.COOPERATIVE else 64)
        assert n % 16 == 0 and shape[0] % m == 0 and shape[1] % n == 0


def test_variant_names_say_the_epilogue_tile():
    names = [c.name for ep in EPILOGUES for acc in ("f32", "f16") for c in _variants(ep, acc)]
    assert len(set(names)) == len(names)
    assert all(IDENT.match(n) for n in names)
    for c in _variants():
        m, n = c.tile.epi
        assert f"_{c.tile.schedule.short}_e{m}x{n}_bias_add_relu_f32" in c.name
    assert _variants()[0].name == "conv2d_gemm3x_128x128x64_c1x1_pp_e64x64_bias_add_relu_f32"
    default_names = {gemm3x.Conv2dGemm3x(t, BIAS, "f32").name for t in gemm3x.TILES}
    assert not default_names & set(names)  # bias: no measured subtile
    # the variants that are a kernel's measured default: one name, one kernel, either way
    for ep, kind in ((BIAS_ADD_RELU, "residual"), (BIAS_RELU, "bias_relu")):
        measured = {gemm3x.Conv2dGemm3x(t, ep, "f32").name for t in gemm3x.TILES}
        assert len(measured & set(names)) == len(_measured(kind)), ep.tag


def test_variants_meet_the_sm90_builders_constraints():
    """sm90_compute_tile_shape_or_override: M = 64 (pingpong) / 128 (cooperative), N % 16;
    the collective: M and N divide the CTA tile. Only the three pointwise tiles, 2-3 each."""
    per_tile = {}
    for t in gemm3x.EPI_VARIANTS:
        m, n = t.epi
        assert m == (128 if t.schedule is gemm3x.Schedule.COOPERATIVE else 64), t
        assert n % 16 == 0 and t.shape[0] % m == 0 and t.shape[1] % n == 0, t
        assert t.cluster == (1, 1)
        per_tile.setdefault((t.shape, t.schedule), []).append(t.epi)
    assert set(per_tile) == {((128, 128, 64), gemm3x.Schedule.PINGPONG),
                             ((128, 128, 64), gemm3x.Schedule.COOPERATIVE),
                             ((256, 128, 64), gemm3x.Schedule.COOPERATIVE)}
    assert all(2 <= len(v) <= 3 and len(set(v)) == len(v) for v in per_tile.values())
    # no variant is the auto tile spelled out (cooperative 128x32, pingpong 64x32)
    assert all(t.epi[1] > 32 for t in gemm3x.EPI_VARIANTS)


@pytest.mark.parametrize("value", [None, "", "0", "no"])
def test_candidates_unchanged_without_the_env_var(monkeypatch, value):
    monkeypatch.delenv(ENV, raising=False)
    base = {}
    for ep in EPILOGUES:
        for geo in (POINTWISE, STRIDED):
            base[ep, geo["stride"]] = [c.name for c in conv2d_candidates(H100, ep, 256, 1024,
                                                                          **geo)]
    if value is not None:
        monkeypatch.setenv(ENV, value)
    for (ep, stride), names in base.items():
        geo = POINTWISE if stride == (1, 1) else STRIDED
        assert [c.name for c in conv2d_candidates(H100, ep, 256, 1024, **geo)] == names


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
def test_env_var_appends_the_variants_for_pointwise_convs(monkeypatch, ep):
    monkeypatch.delenv(ENV, raising=False)
    before = conv2d_candidates(H100, ep, 256, 1024, **POINTWISE)
    before_strided = conv2d_candidates(H100, ep, 256, 1024, **STRIDED)
    monkeypatch.setenv(ENV, "1")
    after = conv2d_candidates(H100, ep, 256, 1024, **POINTWISE)
    had = [c.name for c in _gemm(before)]
    assert [c.name for c in _gemm(after)] == had + [c.name for c in _variants(ep)
                                                    if c.name not in had]
    variants = {c.name for c in _variants(ep)} - set(had)
    assert [c.name for c in after if c.name not in variants] == [c.name for c in before]
    assert [c.name for c in conv2d_candidates(H100, ep, 256, 1024, **STRIDED)] == \
        [c.name for c in before_strided]
    assert not _gemm(conv2d_candidates(Target.for_arch(80), ep, 256, 1024, **POINTWISE))


def test_env_var_reaches_the_tuner_and_changes_the_set_id(monkeypatch):
    req = ConvRequest.of(BIAS_ADD_RELU, 256, 14, 14, 256, 1024, 1, 1, (0, 0), (1, 1))
    monkeypatch.delenv(ENV, raising=False)
    before = all_candidates_for(H100, req)
    monkeypatch.setenv(ENV, "1")
    after = all_candidates_for(H100, req)
    assert {c.name for c in _variants()} <= {c.name for c in after}
    assert candidate_set_id(req.family, before) != candidate_set_id(req.family, after)
    src = ProfilerSpec(req.family, BIAS_ADD_RELU, tuple(_gemm(after))).main_source(H100).text
    for c in _variants():
        assert f"{c.name}_workspace_bytes" in src


def test_default_render_uses_epilogue_tile_auto_but_for_the_measured_subtiles():
    for t in gemm3x.TILES:
        for ep in EPILOGUES:
            src = gemm3x.Conv2dGemm3x(t, ep, "f32").render()
            epi = gemm3x.measured_epi(ep, t)
            want = f"cute::Shape<cute::_{epi[0]}, cute::_{epi[1]}>" if epi else \
                "cutlass::epilogue::collective::EpilogueTileAuto"
            assert f"    {want},\n" in src, (t, ep.tag)


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
@pytest.mark.parametrize("tile", gemm3x.EPI_VARIANTS, ids=lambda t: f"e{t.epi[0]}x{t.epi[1]}"
                         + f"_{t.shape[0]}x{t.shape[1]}_{t.schedule.short}")
def test_each_variant_renders(tile, ep):
    c = gemm3x.Conv2dGemm3x(tile, ep, "f32")
    src = c.render()
    m, n = tile.epi
    assert "EpilogueTileAuto" not in src
    builder = src[src.index("using CollectiveEpilogue"):src.index("using CollectiveMainloop")]
    assert f"    cute::Shape<cute::_{m}, cute::_{n}>,\n" in builder
    assert f"cutlass::epilogue::{tile.schedule.epilogue}," in builder
    assert f"namespace {c.name}_impl" in src and f'extern "C" int {c.name}(' in src
    base = gemm3x.Conv2dGemm3x(gemm3x.TileGemm3x(tile.shape, tile.schedule), ep, "f32")
    # the same source as the auto tile's but for the epilogue tile and the name
    if base.name == c.name:  # this variant is the tile's residual default
        assert src == base.render()
        return
    assert src.replace(c.name, base.name).replace(
        f"cute::Shape<cute::_{m}, cute::_{n}>", gemm3x._epi_cpp(base.epi)) == base.render()


@pytest.mark.nvcc
@pytest.mark.skipif(H100.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH, wheel)")
def test_largest_variant_compiles_for_sm90a_without_spills(tmp_path):
    """256x128 cooperative with a 128x128 subtile: the most epilogue shared memory (3 stages
    of 32 KB, the mainloop left with 2) and the widest per-thread fragment."""
    tile = next(t for t in gemm3x.EPI_VARIANTS if t.shape[0] == 256 and t.epi == (128, 128))
    cand = gemm3x.Conv2dGemm3x(tile, BIAS_ADD_RELU, "f32")
    src = tmp_path / f"{cand.name}.cu"
    src.write_text(cand.render())
    obj = tmp_path / f"{cand.name}.o"
    proc = subprocess.run([H100.nvcc, *nvcc.compile_flags(H100, host_cold=True), "-Xptxas", "-v",
                           "-c", str(src), "-o", str(obj)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", proc.stderr)
    assert spills and all(s == ("0", "0") for s in spills), spills
    syms = subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout
    assert re.search(rf" T {cand.name}$", syms, re.MULTILINE)
