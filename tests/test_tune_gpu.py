"""On a GPU: every candidate of a few ResNet-50 shapes (pruned ones too: AIT_ALL_CANDIDATES=1
offers them) runs and matches the fp32 reference (status ok or cannot_implement, never
wrong), and select_kernels fills the cache."""
from __future__ import annotations

import pytest

from ait.backend.target import detect_target
from ait.ir.epilogue import BIAS, BIAS_ADD_RELU, BIAS_RELU
from ait.ops.conv2d import ConvRequest
from ait.ops.gemm import GemmRequest
from ait.tune import ProfileCache, select_kernels
from ait.tune.candidates import all_candidates_for
from ait.tune.select import profile_requests

pytestmark = pytest.mark.gpu

REQUESTS = [
    ConvRequest.of(BIAS_RELU, 1, 56, 56, 64, 64, 3, 3, (1, 1)),
    ConvRequest.of(BIAS_ADD_RELU, 8, 56, 56, 64, 256, 1, 1),
    ConvRequest.of(BIAS, 8, 56, 56, 256, 512, 1, 1, (0, 0), (2, 2)),
    ConvRequest.of(BIAS_RELU, 2, 224, 224, 4, 64, 7, 7, (3, 3), (2, 2), (1, 1), True),
    GemmRequest.of(BIAS, 8, 1000, 2048),
    # other batches of two shapes above: profiled in the same process as those
    ConvRequest.of(BIAS_RELU, 64, 56, 56, 64, 64, 3, 3, (1, 1)),
    GemmRequest.of(BIAS, 256, 1000, 2048),
]


@pytest.fixture(scope="module")
def target():
    return detect_target()


@pytest.fixture(scope="module")
def profiled(target):
    cands = {r: all_candidates_for(target, r) for r in REQUESTS}
    return cands, profile_requests(target, REQUESTS, cands)


def test_every_candidate_is_correct(profiled):
    cands, out = profiled
    for r, (best, ms, results) in out.items():
        statuses = {res.name: res.status for res in results}
        assert set(statuses.values()) <= {"ok", "cannot_implement"}, (r.describe(), statuses)
        assert best in cands[r] and ms > 0
        assert all(res.raw["batch"] == r.batch for res in results), r.describe()


def test_batches_of_a_shape_are_timed_apart(profiled):
    """Batches share a process but each is timed on its own; a candidate that cannot win
    stops after the quick samples, the winner always gets the full count."""
    _, out = profiled
    for small, large in ((REQUESTS[0], REQUESTS[5]), (REQUESTS[4], REQUESTS[6])):
        assert out[large][1] > out[small][1], (small.describe(), large.describe())
    cut = 0
    for r, (best, ms, results) in out.items():
        ok = {res.name: res for res in results if res.status == "ok"}
        assert ok[best.name].raw["samples"] == 25 and ok[best.name].ms == ms
        cut += sum(res.raw["samples"] < 25 for res in ok.values())
    assert cut > 0


def test_select_kernels_fills_cache(target, tmp_path, monkeypatch):
    cache = ProfileCache(tmp_path / "profile.sqlite")  # objects stay in the shared cache
    request = REQUESTS[0]
    chosen = select_kernels(target, [request], cache=cache)[request]
    assert len(cache) == 1
    monkeypatch.setenv("AIT_PROFILE_CACHE_ONLY", "1")
    assert select_kernels(target, [request], cache=cache)[request] == chosen
