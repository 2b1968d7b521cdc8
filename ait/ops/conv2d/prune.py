"""The conv2d family's prune rules (applied by ait.tune.prune, which says what a rule may rest
on): candidates that cannot win, left out before anything is compiled or profiled."""
from __future__ import annotations

from ait.backend.family import DropFn, KernelRequest
from ait.backend.family import PruneRule as Rule
from ait.backend.kernel import KernelCandidate
from ait.ops.conv2d import cutlass2x as conv2x
from ait.ops.conv2d import cutlass3x as conv3x
from ait.ops.conv2d import gemm3x, splitk
from ait.ops.conv2d.op import conv_out_size
from ait.ops.conv2d.request import ConvRequest

# The most SMs of any part per arch (sm_90: H100 SXM / H200 132; sm_80: A100 108), and how many
# waves of them a split-K grid may fill: see _split_k_beyond (sm_90: measured, one wave; sm_80:
# not measured, two).
MAX_SMS = {80: 108, 90: 132}
SPLIT_K_WAVES = {80: 2, 90: 1}


def _hopper_offered(r: KernelRequest) -> bool:
    """The conv gets the sm_90 3.x kernels (TMA: C and K multiples of 8, not the padded stem)."""
    return (isinstance(r, ConvRequest) and not r.few_channels
            and r.c % conv3x.ALIGNMENT == 0 and r.k % conv3x.ALIGNMENT == 0)


def _conv2x(c: KernelCandidate, iterator: conv2x.Iterator) -> bool:
    return isinstance(c, conv2x.Conv2dCutlass2x) and c.iterator is iterator


def _gather_gemm_offered(cands) -> bool:
    return any(isinstance(o, gemm3x.Conv2dGemm3x) and o.strided for o in cands)


def _wide_2x(r, c, cands) -> bool:
    """Strided 1x1 convs keep the wide tiles only when the list lacks the gather + GEMM
    kernels (which took every such conv since they exist)."""
    return _hopper_offered(r) and _conv2x(c, conv2x.Iterator.OPTIMIZED) \
        and c.tile.shape[1] >= 128 \
        and (not gemm3x.is_strided_pointwise(r.r, r.s, r.stride, r.pad, r.dilation)
             or _gather_gemm_offered(cands))


def _tall_2x(r, c, cands) -> bool:
    """The 2.x Optimized 256x64x32 tile (4x1 warps) where the Hopper kernels are offered and
    C is at least a K step (not the s2d stem's 16 channels, the one conv it still wins)."""
    return _hopper_offered(r) and _conv2x(c, conv2x.Iterator.OPTIMIZED) \
        and c.tile.shape[:2] == (256, 64) and r.c >= conv2x.SMALL_C


def _deep_k_2x(r, c, cands) -> bool:
    return _hopper_offered(r) and _conv2x(c, conv2x.Iterator.OPTIMIZED) \
        and c.tile.shape[2] >= 64


def _few_channels_2x(r, c, cands) -> bool:
    return _hopper_offered(r) and _conv2x(c, conv2x.Iterator.FEW_CHANNELS)


def _same_kind(a: KernelCandidate, b: KernelCandidate) -> bool:
    """Same kernel but for the tile: class, schedule (GEMMs) and the strided gather."""
    if type(a) is not type(b):
        return False
    if isinstance(a, gemm3x.Conv2dGemm3x):
        return a.tile.schedule is b.tile.schedule and a.strided == b.strided \
            and a.tile.cluster == b.tile.cluster
    # the 3.x conv (plain or persistent): an automatic stage count (one CTA per SM) or a few
    # stages (shared SMs)
    return a.tile.cluster == b.tile.cluster and (a.tile.stages is None) == (b.tile.stages is None)


def _hopper_tile(c: KernelCandidate) -> tuple[int, int, int] | None:
    if isinstance(c, (conv3x.Conv2dCutlass3x, conv3x.Conv2dCutlass3xPersistent,
                      gemm3x.Conv2dGemm3x)):
        return c.tile.shape
    return None


def _n_beyond_k(r, c, cands) -> bool:
    """A Hopper tile wider (N) than the conv's K output channels, when the list holds the same
    kernel with the same M and a narrower N that still covers K: that one does the same loads
    and stores with fewer wasted MMA columns, less shared memory and fewer registers."""
    tile = _hopper_tile(c)
    if tile is None or not isinstance(r, ConvRequest) or tile[1] <= r.k:
        return False
    return any(_same_kind(c, o) and (t := _hopper_tile(o)) is not None and t[0] == tile[0]
               and t[2] == tile[2] and r.k <= t[1] < tile[1] for o in cands)


def _tall_3x_conv(r, c, cands) -> bool:
    """A 3.x conv tile taller than wide (M > N) when the transposed tile is in the list and
    wastes no column at this K (K >= its N): same area and CTA count, and the one math
    warpgroup of the 3.x conv issues half as many wgmma (64 x N) instructions for it."""
    if not isinstance(c, conv3x.Conv2dCutlass3x) or not isinstance(r, ConvRequest):
        return False
    m, n, k = c.tile.shape
    if m <= n:
        return False
    return any(isinstance(o, conv3x.Conv2dCutlass3x) and o.tile.shape == (n, m, k)
               and _same_kind(c, o) and r.k >= m for o in cands)


def _split_k_beyond(sms: int, waves: int) -> DropFn:
    """Split-K candidates whose grid (output tiles x slices) exceeds `waves` waves of `sms`
    SMs at the request's batch: the unsplit output already has tiles enough to fill the GPU,
    so slicing the K loop further only adds the partials' traffic and a second launch, and a
    grid beyond one wave runs a partial tail wave of slices."""
    def drops(r, c, cands) -> bool:
        if not isinstance(c, splitk.Conv2dSplitK) or not isinstance(r, ConvRequest):
            return False
        p = conv_out_size(r.h, r.r, r.pad[0], r.stride[0], r.dilation[0])
        q = conv_out_size(r.w, r.s, r.pad[1], r.stride[1], r.dilation[1])
        return c.ctas(r.n * p * q, r.k) > waves * sms
    return drops


def _split_k_two(r, c, cands) -> bool:
    """Split-K with 2 slices where the Hopper kernels are offered."""
    return isinstance(c, splitk.Conv2dSplitK) and c.split_k == 2 and _hopper_offered(r)


# Compile-time trades (issue 11): tiles that win now and then, by little, and whose object is a
# whole Hopper unit (~54 s of one host core). They go together only: the evidence is the model
# time lost with all of them gone at once, not one by one.
_TRADE_EVIDENCE = (
    "Measured (docs/results/h200-2026-12-01d, profile cache of 7a97389: every offered "
    "candidate's time per ResNet-18 and ResNet-50 problem, batch 1-256; `scripts/"
    "candidate_wins.py --cache profile_7a97389.sqlite --leave-one-out resnet18,resnet50 "
    "--without` the five tiles of the sm90-3x-conv-few-stage-64m, sm90-3x-conv-128x128 and "
    "sm90-gemm3x-128x256 rules, each op at its best remaining candidate): the model loses at "
    "most 0.3% (ResNet-50) and 0.8% (ResNet-18, batch 16) in any batch bucket; "
    "tests/test_tune_prune.py recomputes it from that cache with the rules as they are. "
    "Three fewer Hopper units to compile (~98 of ~449 CPU s of a cold ResNet-50 1..256 "
    "build on the 2-core dev machine, scripts/dev/plan_build.py)")


def _few_stage_64m(r, c, cands) -> bool:
    """A few-stage 3.x conv tile 64 rows tall (64x64x64 and 64x128x64 at 4 stages), where
    the Hopper kernels are offered."""
    return type(c) is conv3x.Conv2dCutlass3x and c.tile.stages is not None \
        and c.tile.shape[0] == 64


def _conv3x_128x128(r, c, cands) -> bool:
    return type(c) is conv3x.Conv2dCutlass3x and c.tile.stages is None \
        and c.tile.shape == (128, 128, 64)


def _gemm3x_128x256(r, c, cands) -> bool:
    """The cooperative GEMM 128x256x64 tile (plain or strided) when its transpose 256x128x64
    is in the list: the same CTA area, and ResNet's pointwise GEMMs are tall (M = n*p*q rows
    against N = K <= 2048 columns) at every batch but the smallest."""
    if not isinstance(c, gemm3x.Conv2dGemm3x) or c.tile.shape != (128, 256, 64):
        return False
    return any(isinstance(o, gemm3x.Conv2dGemm3x) and o.tile.shape == (256, 128, 64)
               and _same_kind(c, o) for o in cands)


_SPLIT_K_EVIDENCE_SM80 = (
    "parallel split-K conv kernels where output tiles x slices exceed two waves of the "
    "part's SMs: structural, not measured on an A100 (the sm_90 rule has the H200 figures). "
    "At batch 1 the layer-3/4 convs have 8-64 tiles of 64x64 for 108 SMs and keep their "
    "splits; at batch 32 and above no ResNet conv keeps any")
_SPLIT_K_EVIDENCE_SM90 = (
    "parallel split-K conv kernels where output tiles x slices exceed one wave of 132 SMs "
    "(H100 SXM / H200): with more CTAs than SMs the last slices run as a partial tail wave. "
    "Measured (docs/results/h200-2026-12-01b, profile cache of 8271739: every candidate's "
    "time per ResNet-50 problem, batch 1-256, then with two waves allowed): of the 198 "
    "split-K timings, the 69 with a grid of 133-264 CTAs never won nor came within 5% of the "
    "winner (best 1.061x); all 11 split-K wins had 64-128 CTAs")

RULES: tuple[Rule, ...] = (
    Rule("sm90-2x-conv-wide-n", 90, _wide_2x,
         "2.x Optimized conv tiles with N >= 128 (128x128x32, 128x256x32) where the Hopper "
         "kernels are offered: in the H200 runs with the full candidate set (docs/results/"
         "h200-2026-11-28b/ait_final.json, h200-2026-11-28c/ait_resnet50.json) they never won; "
         "the last session's note, from its profile cache of ResNet-18/50, has them never "
         "within 5% of the winner. Every 2.x win on sm_90 was an N = 64 tile on a K = 64 "
         "conv, but one: 128x256x32 won the stride-2 1x1 convs (56x56 256 -> 512, batch "
         "32-256) at e7e49dd, before the gather + GEMM candidates existed. Those went to "
         "conv2d_gemm3x_s in every later run; in the profile cache of 8271739 (docs/results/"
         "h200-2026-12-01b) the wide tiles were timed on the 27 strided 1x1 problems (batch "
         "1-256) and never won (128x128x32: never within 5%, best 1.099x; 128x256x32: best "
         "1.015x, once): strided 1x1 convs keep them only where the gather + GEMM kernels "
         "are not offered."),
    Rule("sm90-2x-conv-deep-k", 90, _deep_k_2x,
         "the 2.x Optimized conv tile with a 64-deep K step (128x64x64, added for the s2d "
         "stem's 16 channels x 16 taps) where the Hopper kernels are offered: never won (the "
         "stem went to 128x64x32 / 256x64x32 at every batch), never within 5% (session "
         "note)"),
    Rule("sm90-2x-conv-few-channels", 90, _few_channels_2x,
         "2.x FewChannels-iterator conv kernels (C < 32) where the Hopper kernels are "
         "offered: never won on the H200 (the s2d stem, C = 16, went to Optimized tiles at "
         "every batch in h200-2026-11-28c)"),
    Rule("sm90-hopper-n-beyond-k", 90, _n_beyond_k,
         "Hopper conv / GEMM tiles wider than K when the same kernel with the same M and a "
         "narrower N >= K is offered: dominated (same traffic, more wasted MMA columns); no "
         "3.x conv or GEMM tile with N > K ever won where such a narrower tile existed (the "
         "persistent 3.x conv, conv2d_3xp, is new and unmeasured: for it the rule rests on the "
         "dominance alone, e.g. 128x128 vs 128x64 at K = 64)"),
    Rule("sm90-3x-conv-tall", 90, _tall_3x_conv,
         "the 3.x conv 128x64x64 tile at K >= 128, where 64x128x64 has the same area and "
         "wastes no column: it won only K = 64 convs (layer1, batch 4-16), never a K >= 128 "
         "one, and never a bias (shortcut) conv"),
    Rule("sm90-2x-conv-256x64", 90, _tall_2x,
         "the 2.x Optimized 256x64x32 tile where the Hopper kernels are offered, but for "
         "convs with C < 32 (the s2d stem, which it won at batch 2-256 in every unfused run). "
         "It won the 3x3 64 -> 64 convs at batch 32-256 in the runs up to 2c44b4d, before the "
         "few-stage 3.x tiles (41a4158); since then it never won a conv with C >= 32: in the "
         "profile cache of 8271739 (docs/results/h200-2026-12-01b) it was timed on all 207 "
         "ResNet-50 convs, batch 1-256, never within 5% of the winner (best 1.084x, the "
         "3x3 64 -> 64 convs at batch 32-256 1.14-1.24x behind the 3.x 128x64x64 4-stage "
         "tile)"),
    Rule("sm90-split-k-two", 90, _split_k_two,
         "split-K with 2 slices where the Hopper kernels are offered: the slices at most halve "
         "a 2.x CTA's K loop, and the unsplit 2.x 64x64x32 tile is 1.24-2.9x behind the "
         "winner on every conv that gets split candidates. In the profile cache of 8271739 "
         "(docs/results/h200-2026-12-01b) the 2-slice kernels (both tiles) were timed 106 "
         "times on ResNet-50 convs at batch 1-16 (16-256 CTAs), never won, never within 12% "
         "(best 1.125x); the 11 split-K wins were 4, 8 and 16 slices"),
    Rule("sm90-3x-conv-few-stage-64m", 90, _few_stage_64m,
         "the 4-stage 3.x conv tiles 64x64x64 and 64x128x64 (the 128x64x64 one stays: it "
         "takes the 56x56 3x3 convs at batch 32-256): won 2 of 63 and 0 of 54 timed "
         "ResNet-50 problems. " + _TRADE_EVIDENCE),
    Rule("sm90-3x-conv-128x128", 90, _conv3x_128x128,
         "the 3.x conv 128x128x64 tile (automatic stages): won 16 of 180 timed ResNet-50 "
         "problems, the 64x128x64 / 64x256x64 tiles and the persistent 128x128 within a few "
         "percent. " + _TRADE_EVIDENCE),
    Rule("sm90-gemm3x-128x256", 90, _gemm3x_128x256,
         "the cooperative GEMM 128x256x64 tile, plain and strided, where the 256x128x64 one "
         "is offered: won 3 of 81 and 1 of 27 timed ResNet-50 problems. " + _TRADE_EVIDENCE),
    Rule("sm90-split-k-waves", 90, _split_k_beyond(MAX_SMS[90], SPLIT_K_WAVES[90]),
         _SPLIT_K_EVIDENCE_SM90),
    Rule("sm80-split-k-waves", 80, _split_k_beyond(MAX_SMS[80], SPLIT_K_WAVES[80]),
         _SPLIT_K_EVIDENCE_SM80),
)

# The rules above that trade a little speed for compile time (their evidence: _TRADE_EVIDENCE).
TRADES: frozenset[str] = frozenset({"sm90-3x-conv-few-stage-64m", "sm90-3x-conv-128x128",
                                    "sm90-gemm3x-128x256"})
assert TRADES <= {r.name for r in RULES}
