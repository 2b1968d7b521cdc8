"""Profile cache round trip, the environment switches, and select_kernels without a GPU."""
from __future__ import annotations

import pytest

from ait.backend.target import Target
from ait.ir.epilogue import BIAS, BIAS_ADD_RELU, BIAS_RELU
from ait.ops.conv2d import ConvRequest
from ait.ops.gemm import GemmRequest
from ait.tune import (
    ProfileCache,
    ProfileCacheMissError,
    candidates_for,
    find_candidate,
    select_kernels,
)
from ait.tune import select as select_mod
from ait.tune.cache import ProfileKey
from ait.tune.candidates import NoCandidateError, candidate_set_id
from ait.tune.runner import Result

H100 = Target.for_arch(90)
CONV = ConvRequest.of(BIAS_RELU, 32, 56, 56, 64, 64, 3, 3, [1, 1], [1, 1], [1, 1])
STEM = ConvRequest.of(BIAS_RELU, 32, 224, 224, 4, 64, 7, 7, (3, 3), (2, 2), (1, 1), True)
FC = GemmRequest.of(BIAS, 32, 1000, 2048)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path))
    for var in ("AIT_FORCE_PROFILE", "AIT_PROFILE_CACHE_ONLY", "AIT_FIXED_KERNEL",
                "AIT_ALL_CANDIDATES"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def no_profiling(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("profiling was not expected")
    monkeypatch.setattr(select_mod, "profile_requests", fail)


def _key(request):
    return select_mod.profile_key(H100, request, candidates_for(H100, request))


def test_requests_are_hashable_and_normalised():
    same = ConvRequest.of(BIAS_RELU, 32, 56, 56, 64, 64, 3, 3, (1, 1), (1, 1), (1, 1))
    assert CONV == same and hash(CONV) == hash(same)
    assert CONV.profiler_argv() == ["--n", "32", "--h", "56", "--w", "56", "--c", "64", "--k",
                                    "64", "--r", "3", "--s", "3", "--pad", "1", "1", "--stride",
                                    "1", "1", "--dilation", "1", "1"]
    assert FC.profiler_argv() == ["--m", "32", "--n", "1000", "--k", "2048"]
    assert "few_channels=True" in STEM.describe() and "few_channels" not in CONV.describe()


def test_cache_round_trip(tmp_path):
    cache = ProfileCache()
    assert cache.path == tmp_path / "profile.sqlite"
    key = _key(CONV)
    assert cache.get(key) is None
    cache.put(key, "kernel_a", 0.5, [{"name": "kernel_a", "status": "ok"}])
    cache.put(key, "kernel_b", 0.25)  # a re-profile replaces the entry
    entry = ProfileCache().get(key)
    assert entry.kernel == "kernel_b" and entry.ms == 0.25
    assert len(cache) == 1


@pytest.mark.parametrize("field,value", [
    ("acc", "f16"), ("arch", 80), ("cutlass_version", "4.3.0.0"), ("candidate_set", "v2-x"),
    ("epilogue", "bias"), ("dtypes", "bfloat16"),
])
def test_every_key_field_matters(field, value):
    cache = ProfileCache()
    key = _key(CONV)
    cache.put(key, "kernel_a", 1.0)
    other = ProfileKey(**{**key.__dict__, field: value})
    assert cache.get(other) is None


def test_candidate_set_id_tracks_the_kernels():
    cands = candidates_for(H100, CONV)
    assert candidate_set_id(CONV.family, cands) == candidate_set_id(CONV.family, list(cands))
    assert candidate_set_id(CONV.family, cands) != candidate_set_id(CONV.family, cands[:-1])


def test_profile_false_takes_first_candidate(no_profiling):
    got = select_kernels(H100, [CONV, STEM, FC, CONV], profile=False)
    assert list(got) == [CONV, STEM, FC]
    for r, cand in got.items():
        assert cand == candidates_for(H100, r)[0]
        assert find_candidate(H100, r, cand.name) == cand


def test_fixed_kernel_env(monkeypatch, no_profiling):
    monkeypatch.setenv("AIT_FIXED_KERNEL", "first")
    assert select_kernels(H100, [FC])[FC] == candidates_for(H100, FC)[0]
    monkeypatch.setenv("AIT_FIXED_KERNEL", "fastest")
    with pytest.raises(ValueError, match="AIT_FIXED_KERNEL"):
        select_kernels(H100, [FC])


def test_cache_hit_needs_no_gpu(no_profiling):
    second = candidates_for(H100, CONV)[1]
    ProfileCache().put(_key(CONV), second.name, 0.03)
    assert select_kernels(H100, [CONV])[CONV] == second


def test_cache_only_miss_names_the_op(monkeypatch, no_profiling):
    monkeypatch.setenv("AIT_PROFILE_CACHE_ONLY", "1")
    ProfileCache().put(_key(FC), candidates_for(H100, FC)[0].name, 0.01)
    with pytest.raises(ProfileCacheMissError) as e:
        select_kernels(H100, [FC, CONV])
    msg = str(e.value)
    assert CONV.describe() in msg and FC.describe() not in msg


def test_force_profile_reprofiles_and_overwrites(monkeypatch):
    cands = candidates_for(H100, CONV)
    ProfileCache().put(_key(CONV), cands[0].name, 0.05)
    calls = []

    def fake_profile(target, requests, cands_by_request):
        calls.append(list(requests))
        return {r: (cands_by_request[r][2], 0.01, []) for r in requests}

    monkeypatch.setattr(select_mod, "profile_requests", fake_profile)
    assert select_kernels(H100, [CONV])[CONV] == cands[0]  # cached
    monkeypatch.setenv("AIT_FORCE_PROFILE", "1")
    assert select_kernels(H100, [CONV])[CONV] == cands[2]
    assert calls == [[CONV]]
    assert ProfileCache().get(_key(CONV)).kernel == cands[2].name
    monkeypatch.setenv("AIT_PROFILE_CACHE_ONLY", "1")
    with pytest.raises(ValueError, match="exclude"):
        select_kernels(H100, [CONV])


def test_explicit_empty_cache_is_used(monkeypatch, tmp_path):
    mine = ProfileCache(tmp_path / "mine.sqlite")
    monkeypatch.setattr(select_mod, "profile_requests", lambda t, reqs, cands: {
        r: (cands[r][0], 0.5, []) for r in reqs})
    select_kernels(H100, [FC], cache=mine)
    assert len(mine) == 1 and len(ProfileCache()) == 0


def test_misses_only_are_profiled(monkeypatch):
    ProfileCache().put(_key(FC), candidates_for(H100, FC)[1].name, 0.01)
    seen = []

    def fake_profile(target, requests, cands_by_request):
        seen.extend(requests)
        firsts = {r: cands_by_request[r][0] for r in requests}
        return {r: (c, 0.02, [Result(c.name, "ok", 0.02)]) for r, c in firsts.items()}

    monkeypatch.setattr(select_mod, "profile_requests", fake_profile)
    res_req = ConvRequest.of(BIAS_ADD_RELU, 1, 7, 7, 512, 512, 3, 3, (1, 1))
    got = select_kernels(H100, [FC, CONV, res_req])
    assert seen == [CONV, res_req]
    assert got[FC] == candidates_for(H100, FC)[1]
    assert ProfileCache().get(_key(res_req)).ms == 0.02


def test_no_candidate_error_names_op(no_profiling):
    bad = ConvRequest.of(BIAS_RELU, 1, 224, 224, 3, 64, 7, 7, (3, 3), (2, 2))
    with pytest.raises(NoCandidateError, match=r"conv2d bias_relu \[n=1 .*c=3"):
        select_kernels(H100, [bad], profile=False)
