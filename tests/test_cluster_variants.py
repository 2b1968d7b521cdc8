"""The cluster variants (AIT_CLUSTER_VARIANTS=1, gemm3x.cluster_variants): the candidate lists
untouched without the switch; with it, 2x1 / 1x2 copies of the pointwise GEMM tiles and the
persistent 3.x conv tiles, a 1x2 copy only where K makes two N tiles, names that say the
cluster, and the cluster launch in the rendered source."""
from __future__ import annotations

import pytest

from ait.backend.target import Target
from ait.ir.epilogue import BIAS_ADD_RELU, BIAS_RELU
from ait.ops.conv2d import cutlass3x, gemm3x
from ait.ops.conv2d.candidates import conv2d_candidates

H100 = Target.for_arch(90)
ENV = gemm3x.CLUSTER_VARIANTS_ENV
POINTWISE = {"r": 1, "s": 1, "stride": (1, 1), "pad": (0, 0), "dilation": (1, 1)}
CONV3X3 = {"r": 3, "s": 3, "stride": (1, 1), "pad": (1, 1), "dilation": (1, 1)}


def _clusters(cands, kind):
    return sorted({(c.tile.shape, c.tile.cluster) for c in cands if isinstance(c, kind)
                   and not getattr(c, "strided", False)})


def test_env_name_is_documented():
    assert ENV == "AIT_CLUSTER_VARIANTS"
    assert ENV in gemm3x.__doc__


@pytest.mark.parametrize("geom", [POINTWISE, CONV3X3], ids=["1x1", "3x3"])
def test_without_the_switch_every_cluster_is_1x1(monkeypatch, geom):
    monkeypatch.delenv(ENV, raising=False)
    cands = conv2d_candidates(H100, BIAS_RELU, 256, 1024, **geom)
    assert cands and all(getattr(c, "tile", None) is None or getattr(c.tile, "cluster", (1, 1))
                         == (1, 1) for c in cands)


def test_gemm_variants_by_k(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    base = {t.shape for t in gemm3x.TILES}
    # k = 1024: every tile has at least two N tiles (N <= 256), so both clusters each
    got = _clusters(conv2d_candidates(H100, BIAS_ADD_RELU, 256, 1024, **POINTWISE),
                    gemm3x.Conv2dGemm3x)
    assert {s for s, _ in got} == base
    for shape in base:
        assert {cl for s, cl in got if s == shape} == {(1, 1), (2, 1), (1, 2)}
    # k = 256: the 128x256 tile is one N tile wide, so no 1x2 copy of it
    got = _clusters(conv2d_candidates(H100, BIAS_RELU, 64, 256, **POINTWISE),
                    gemm3x.Conv2dGemm3x)
    assert ((128, 256, 64), (1, 2)) not in got and ((128, 256, 64), (2, 1)) in got
    assert ((128, 128, 64), (1, 2)) in got
    # the strided gather + GEMM keeps its own tiles, unclustered
    strided = [c for c in conv2d_candidates(H100, BIAS_RELU, 256, 512, r=1, s=1, stride=(2, 2),
                                            pad=(0, 0), dilation=(1, 1))
               if isinstance(c, gemm3x.Conv2dGemm3x)]
    assert strided and all(c.strided and c.tile.cluster == (1, 1) for c in strided)


def test_persistent_conv_variants_by_k(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    kind = cutlass3x.Conv2dCutlass3xPersistent
    got = _clusters(conv2d_candidates(H100, BIAS_RELU, 64, 64, **CONV3X3), kind)
    # k = 64: one N tile for every tile, so 2x1 only; the 128-wide N tile is offered too
    # (pruning is tune.prune's job, not the list's)
    assert all(cl in {(1, 1), (2, 1)} for _, cl in got)
    assert ((256, 64, 64), (2, 1)) in got
    got = _clusters(conv2d_candidates(H100, BIAS_RELU, 256, 256, **CONV3X3), kind)
    assert {cl for s, cl in got if s == (128, 128, 64)} == {(1, 1), (2, 1), (1, 2)}


def test_names_and_source_say_the_cluster(monkeypatch):
    monkeypatch.setenv(ENV, "1")
    cands = [c for c in conv2d_candidates(H100, BIAS_RELU, 256, 1024, **POINTWISE)
             + conv2d_candidates(H100, BIAS_RELU, 256, 256, **CONV3X3)
             if isinstance(c, (gemm3x.Conv2dGemm3x, cutlass3x.Conv2dCutlass3xPersistent))]
    names = [c.name for c in cands]
    assert len(names) == len(set(names))
    for c in cands:
        m, n = c.tile.cluster
        assert f"_c{m}x{n}_" in c.name
        if (m, n) != (1, 1):
            src = c.render()
            assert f"cute::Shape<cute::_{m}, cute::_{n}, cute::_1>" in src
            assert "constexpr bool kClusterLaunch = true;" in src
