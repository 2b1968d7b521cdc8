"""Parallel split-K conv2d candidates (ops/conv2d/splitk.py): which problems get them, their
names and renders, the slices' coverage of the K loop (numpy), and nvcc builds of both kinds
and of the reduction kernel alone (skipped without nvcc). No GPU."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from ait.backend import nvcc
from ait.backend.target import Target
from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU, Epilogue
from ait.ops.conv2d import splitk
from ait.ops.conv2d.candidates import conv2d_candidates
from ait.ops.conv2d.op import Conv2d, conv_out_size
from ait.ops.conv2d import ConvRequest
from ait.tune import candidates_for
from ait.tune.build import group_key, translation_units
from ait.tune.candidates import all_candidates_for
from ait.ops.conv2d.prune import MAX_SMS, SPLIT_K_WAVES
from ait.tune.prune import dropped_by
from tests.test_tune_cache import isolated  # noqa: F401 -- autouse: own cache dir, clean env

EPILOGUES = (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU)
H100 = Target.for_arch(90)
A100 = Target.for_arch(80)
H100_F16 = Target.for_arch(90, use_fp16_acc=True)
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def conv(n, hw, c, k, r=3, stride=1, ep=BIAS_RELU):
    return ConvRequest.of(ep, n, hw, hw, c, k, r, r, (r // 2, r // 2), (stride, stride))


# ResNet-50's late convs: layer3 / layer4 3x3, their 1x1 reduce / expand convs
LATE = {
    "l3_3x3": (14, 256, 256, 3), "l4_3x3": (7, 512, 512, 3),
    "l3_1x1_reduce": (14, 1024, 256, 1), "l4_1x1_reduce": (7, 2048, 512, 1),
    "l3_1x1_expand": (14, 256, 1024, 1), "l4_1x1_expand": (7, 512, 2048, 1),
}


def split_ks(cands):
    return [c for c in cands if isinstance(c, splitk.Conv2dSplitK)]


def out_rows(r: ConvRequest) -> int:
    p = conv_out_size(r.h, r.r, r.pad[0], r.stride[0], r.dilation[0])
    q = conv_out_size(r.w, r.s, r.pad[1], r.stride[1], r.dilation[1])
    return r.n * p * q


# -- which requests get split-K candidates ----------------------------------------------------

@pytest.mark.parametrize("shape", LATE, ids=str)
@pytest.mark.parametrize("target", [H100, A100], ids=["sm90", "sm80"])
def test_batch_1_late_convs_get_split_k(shape, target):
    hw, c, k, r = LATE[shape]
    req = conv(1, hw, c, k, r)
    got = split_ks(candidates_for(target, req))
    if target is H100 and shape == "l3_1x1_expand":
        # C = 256 in 1x1: only 2 slices keep MIN_K_ITERATIONS, and sm_90 drops 2 slices
        assert not got and split_ks(candidates_for(A100, req))
        return
    assert got, req.describe()
    sms = MAX_SMS[target.arch]
    for cand in got:
        assert cand.ctas(out_rows(req), k) <= SPLIT_K_WAVES[target.arch] * sms
        assert cand.k_iterations(c, r, r) >= splitk.MIN_K_ITERATIONS
        assert c % (cand.split_k * cand.tile.shape[2]) == 0  # whole channel blocks per slice
    if shape in ("l3_3x3", "l4_3x3"):  # the 12-14 us convs: deep splits are offered
        assert max(c.split_k for c in got) >= 8


def test_3x3_split_counts_at_batch_1():
    """Layer 4: 8 output tiles of 64x64 and 4608 / 9216 deep K: every split whose slices get
    whole channel blocks; layer 3 (C = 256): 16 slices of 32 channels would be half empty.
    On sm_90 the 2-slice kernels are dropped (sm90-split-k-two), on sm_80 they stay."""
    def splits(target, req, tk):
        return sorted(c.split_k for c in split_ks(candidates_for(target, req))
                      if c.tile.shape[2] == tk and not c.cluster)
    assert splits(A100, conv(1, 7, 512, 512), 32) == [2, 4, 8, 16]
    assert splits(A100, conv(1, 7, 512, 512), 64) == [2, 4, 8]
    assert splits(A100, conv(1, 14, 256, 256), 32) == [2, 4, 8]
    assert splits(A100, conv(1, 14, 256, 256), 64) == [2, 4]
    assert splits(H100, conv(1, 7, 512, 512), 32) == [4, 8, 16]
    assert splits(H100, conv(1, 7, 512, 512), 64) == [4, 8]
    assert splits(H100, conv(1, 14, 256, 256), 32) == [4, 8]
    assert splits(H100, conv(1, 14, 256, 256), 64) == [4]


def test_split_k_grids_on_sm90_stay_within_one_wave():
    """sm_90: a split-K grid of at most 132 CTAs (one wave of an H200); 133-264 CTAs never won
    nor came within 5% on the H200. Layer 3 at batch 2: 7 x 4 tiles of 64x64: 4 slices (112
    CTAs) stays, 8 (224) and 2 (sm90-split-k-two) go; sm_80 (two waves of 108: 216) keeps 2 and 4."""
    req = conv(2, 14, 256, 256)
    assert sorted({c.split_k for c in split_ks(candidates_for(H100, req))}) == [4]
    assert sorted({c.split_k for c in split_ks(candidates_for(A100, req))}) == [2, 4]
    full = all_candidates_for(H100, req)
    drop = dropped_by(H100, req, full)
    assert {drop[c.name] for c in split_ks(full) if c.split_k == 8} == {"sm90-split-k-waves"}
    assert {drop[c.name] for c in split_ks(full) if c.split_k == 2} == {"sm90-split-k-two"}


@pytest.mark.parametrize("n", [32, 64, 256])
@pytest.mark.parametrize("shape", LATE, ids=str)
def test_large_batches_get_no_split_k(shape, n):
    hw, c, k, r = LATE[shape]
    req = conv(n, hw, c, k, r)
    assert split_ks(all_candidates_for(H100, req))  # the full list holds them
    assert not split_ks(candidates_for(H100, req)), req.describe()
    assert not split_ks(candidates_for(A100, req)), req.describe()
    assert all(dropped_by(H100, req, all_candidates_for(H100, req))[c.name]
               in ("sm90-split-k-waves", "sm90-split-k-two")
               for c in split_ks(all_candidates_for(H100, req)))


def test_splits_shrink_with_the_batch():
    """The wave rule is per batch bucket: batch 8 keeps fewer splits than batch 1."""
    counts = [len(split_ks(candidates_for(H100, conv(n, 14, 256, 256)))) for n in (1, 3, 8, 16)]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1] == 0


def test_all_candidates_env_keeps_split_k_at_every_batch(monkeypatch):
    req = conv(256, 14, 256, 256)
    full = all_candidates_for(H100, req)
    monkeypatch.setenv("AIT_ALL_CANDIDATES", "1")
    assert candidates_for(H100, req) == full and split_ks(full)


def test_no_split_k_for_the_stem_shallow_k_or_unknown_geometry():
    assert not split_ks(conv2d_candidates(H100, BIAS_RELU, 256, 256))  # no r, s
    assert not split_ks(conv2d_candidates(H100, BIAS_RELU, 8, 64, few_channels=True, r=7, s=7,
                                          stride=(2, 2), pad=(3, 3)))
    assert not split_ks(conv2d_candidates(H100, BIAS_RELU, 128, 256, r=1, s=1))  # 4 K blocks
    assert not split_ks(conv2d_candidates(H100, BIAS_RELU, 36, 18, r=3, s=3))  # C < 64
    assert not split_ks(conv2d_candidates(H100, BIAS_RELU, 258, 64, r=3, s=3))  # C % 64


def test_split_k_comes_after_the_unsplit_kernels():
    """AIT_FIXED_KERNEL=first takes the first candidate: never a split-K one."""
    for target in (H100, A100, H100_F16):
        for shape in LATE.values():
            hw, c, k, r = shape
            cands = candidates_for(target, conv(1, hw, c, k, r))
            kinds = [isinstance(x, splitk.Conv2dSplitK) for x in cands]
            assert not kinds[0] and kinds == sorted(kinds)


# -- names, renders, translation units ----------------------------------------------------------

def _every_split_k():
    out = []
    for target in (H100, A100, H100_F16):
        for ep in EPILOGUES:
            for c, k, r in ((512, 512, 3), (2048, 512, 1), (256, 44, 1), (64, 42, 3)):
                out += splitk.candidates(ep, c, k, r, r, target.acc,
                                         cluster=target.arch == 90)
    return list({c: None for c in out})  # the same kernel serves several shapes and targets


def test_names_are_unique_and_from_the_data():
    cands = _every_split_k()
    assert len({c.name for c in cands}) == len(cands)  # one name, one kernel
    for c in cands:
        assert IDENT.match(c.name), c.name
        form = "c" if c.cluster else ""
        assert c.name == (f"conv2d_2x_sk{c.split_k}{form}_{c.tile.name_part()}_opt_"
                          f"a{c.align_a}c{c.align_c}_{c.epilogue.tag}_{c.acc}")
    assert {c.align_c for c in cands} == {8, 4, 2}
    # every split count in both forms
    assert {c.name.replace("c_", "_", 1) for c in cands if c.cluster} \
        == {c.name for c in cands if not c.cluster}


def test_cluster_form_only_on_sm90_and_twinned():
    """sm_90 lists each split-K kernel in both forms, the cluster one right after; sm_80
    (no clusters) only the two-kernel form."""
    for shape in LATE.values():
        hw, c, k, r = shape
        req = conv(1, hw, c, k, r)
        got = split_ks(all_candidates_for(H100, req))
        plain = [x for x in got if not x.cluster]
        assert plain and [x for x in got if x.cluster] == [
            splitk.Conv2dSplitK(x.tile, x.split_k, x.align_a, x.align_c, x.epilogue, x.acc,
                                cluster=True) for x in plain]
        assert not any(x.cluster for x in split_ks(all_candidates_for(A100, req)))


@pytest.mark.parametrize("cand", _every_split_k(), ids=lambda c: c.name)
def test_every_split_k_candidate_renders(cand):
    src = cand.render()
    assert f'extern "C" int {cand.name}(const AitConv2dArgs* a' in src
    assert f'extern "C" size_t {cand.name}_workspace_bytes(' in src
    assert f"constexpr int kSplits = {cand.split_k};" in src
    assert "SplitKMode::kParallel" in src and "IteratorAlgorithm::kOptimized" in src
    assert f"cutlass::gemm::GemmShape<{', '.join(map(str, cand.tile.shape))}>" in src
    acc = "cutlass::half_t" if cand.acc == "f16" else "float"
    assert f"using ElementAcc = {acc};" in src
    assert "using ElementPartial = float;" in src  # fp32 partials for either accumulator
    assert f"constexpr int kAlignC = {cand.align_c};" in src
    assert f"constexpr bool kResidual = {'true' if cand.epilogue.residual else 'false'};" in src
    relu = "relu" in cand.epilogue.tag
    assert f"constexpr bool kRelu = {'true' if relu else 'false'};" in src
    assert splitk.REDUCE_SOURCE.read_text() in src  # the reduction is part of the hash
    # kernel launches only: no memset (Conv::initialize would issue one), no copies
    assert "cudaMemset" not in src and "cudaMemcpy" not in src and ".initialize(" not in src
    assert "ait_wait_prior_grids();" in src
    assert "cutlass::Kernel<Kernel><<<" not in src
    if cand.cluster:  # one launch: the conv, a cluster barrier, each CTA's share reduced
        assert "return launch_conv_cluster(args, *a, partials, stream);" in src
        assert "cooperative_groups::this_cluster().sync();" in src
        assert "cluster.val.clusterDim.z = unsigned(kSplits);" in src
        assert "launch_reduce<" not in src.split("#endif  // AIT_CONV2D_SPLITK_REDUCE_CU")[1]
    else:  # both kernels wait for the previous grid first (programmatic dependent launch)
        assert "ait_pdl_kernel<Kernel><<<" in src and "launch_conv_cluster" not in src


def test_split_counts_and_epilogues_of_one_tile_share_a_unit():
    cands = [c for c in _every_split_k() if c.acc == "f32" and c.align_c == 8
             and c.tile == splitk.TILES[0]]
    assert len({group_key(c) for c in cands}) == 1
    units = translation_units(cands, per_tu=4)
    assert all(len(u.members) <= 4 for u in units)
    assert sum(len(u.members) for u in units) == len({c.name for c in cands})
    other = splitk.Conv2dSplitK(splitk.TILES[1], 2, 8, 8, BIAS, "f32")
    assert group_key(other) != group_key(cands[0])


# -- the numpy meaning: the slices cover the K loop once, fp32 sums give the reference ------------

def _split_k_model(x, w, bias, residual, ep: Epilogue, stride, pad, splits, tile_k):
    """The kernel pair in numpy: slice s takes the channel blocks s, s + S, ... of every tap
    (CUTLASS's Optimized iterator, filter_c_delta = tile K * S), stores its fp32 partial, the
    reduction sums the slices in fp32 and applies the epilogue."""
    from ait.ops.conv2d.reference import conv2d_nhwc

    c = x.shape[-1]
    blocks = np.arange(c) // tile_k
    partials = []
    for s in range(splits):
        mask = (blocks % splits == s).astype(np.float32)
        partials.append(conv2d_nhwc(x * mask, w * mask, stride, pad, (1, 1)).astype(np.float32))
    y = np.sum(partials, axis=0, dtype=np.float32) + bias.astype(np.float32)
    if ep.residual:
        y = y + residual.astype(np.float32)
    if "relu" in ep.tag:
        y = np.maximum(y, 0)
    return y


@pytest.mark.parametrize("ep", EPILOGUES, ids=lambda e: e.tag)
@pytest.mark.parametrize("splits,tile_k,c,r,stride", [
    (8, 32, 256, 3, 1), (16, 32, 512, 1, 1), (4, 64, 256, 3, 2), (2, 32, 64, 3, 1)])
def test_split_k_sum_is_the_op_reference(ep, splits, tile_k, c, r, stride):
    rng = np.random.default_rng(splits * c + r)
    n, hw, k = 2, 7, 24
    pad = (r // 2, r // 2)
    x = rng.standard_normal((n, hw, hw, c)).astype(np.float16)
    wt = (rng.standard_normal((k, r, r, c)) / np.sqrt(r * r * c)).astype(np.float16)
    bias = rng.standard_normal(k).astype(np.float16)
    p = conv_out_size(hw, r, pad[0], stride, 1)
    residual = rng.standard_normal((n, p, p, k)).astype(np.float16)
    op = Conv2d(stride, pad, 1, ep)
    (ref,) = op.reference(x, wt, bias, residual if ep.residual else None)
    got = _split_k_model(x, wt, bias, residual, ep, (stride, stride), pad, splits, tile_k)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)


# -- nvcc: one of each kind, and the reduction kernel alone (no GPU) -----------------------------

needs_nvcc = pytest.mark.skipif(H100.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH)")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path))
    return tmp_path


def _exported(obj) -> str:
    return subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout


@pytest.mark.nvcc
@needs_nvcc
@pytest.mark.parametrize("target,tile,eps", [
    (H100, splitk.TILES[0], (BIAS_ADD_RELU, BIAS_RELU)),   # two in one unit: the guard holds
    (H100_F16, splitk.TILES[1], (BIAS_ADD,)),
], ids=["f32_64x64x32", "f16_64x64x64"])
def test_split_k_kinds_compile_for_sm90a(cache, target, tile, eps):
    """Both forms (two kernels, one cluster launch) in one unit."""
    cands = [splitk.Conv2dSplitK(tile, s, 8, 8, ep, target.acc, cluster=cl)
             for ep, s in zip(eps, (8, 4)) for cl in (False, True)]
    units = translation_units(cands, per_tu=4)
    assert len(units) == 1
    (obj,) = nvcc.compile_objects(target, [units[0].source])
    syms = _exported(obj)
    for c in cands:
        assert f" T {c.name}\n" in syms and f" T {c.name}_workspace_bytes\n" in syms


REDUCE_INSTANCES = "".join(
    f"template cudaError_t ait_conv2d_splitk::launch_reduce<{v}, {res}, {relu}>("
    "const float*, int, int64_t, int, const void*, const void*, void*, cudaStream_t);\n"
    for v in (8, 4, 2) for res in ("false", "true") for relu in ("false", "true"))


@pytest.mark.nvcc
@needs_nvcc
def test_reduction_kernel_compiles_alone(cache):
    text = splitk.REDUCE_SOURCE.read_text()
    src = nvcc.Source("conv2d_splitk_reduce_alone", text + text + REDUCE_INSTANCES)
    (obj,) = nvcc.compile_objects(H100, [src])
    assert "launch_reduce" in subprocess.run(["nm", "-C", str(obj)], capture_output=True,
                                             text=True, check=True).stdout
