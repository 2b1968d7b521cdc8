"""Candidates that cannot win, left out before anything is compiled or profiled.

Each rule names the architecture it holds for, the problems it applies to (by class: the
filter geometry, channel counts, the GEMM's M) and the H200 evidence it rests on; a rule drops
a candidate only where another candidate in the same list does the same work no worse (a
dominating tile) or where the measured winners of every ResNet-18/50 run never included it.
Nothing here looks at a particular model's shapes. The evidence tables, with how they were
measured, are in docs/compile_time.md (`python scripts/candidate_wins.py` re-derives them from
the benchmark result files, whose `metadata.kernels` name the kernel chosen per op and batch
bucket).

`AIT_ALL_CANDIDATES=1` turns every rule off. The profile cache keys a choice by a hash of the
exact candidate list (tune.candidates.candidate_set_id), so choices made among the pruned and
the full lists never stand in for each other, except in the one direction that is sound: a
full-list winner that is also in the pruned list is the pruned list's winner too (select.py).

The first candidate of a list (what AIT_FIXED_KERNEL=first and profile=False take) is never
dropped.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ait.backend.kernel import KernelCandidate
from ait.backend.target import Target
from ait.ops.conv2d import cutlass2x as conv2x
from ait.ops.conv2d import cutlass3x as conv3x
from ait.ops.conv2d import gemm3x, splitk
from ait.ops.conv2d.op import conv_out_size
from ait.ops.gemm import cutlass2x as gemm2x
from ait.tune.cache import env_flag
from ait.tune.requests import ConvRequest, GemmRequest, Request

ALL_CANDIDATES_ENV = "AIT_ALL_CANDIDATES"

# The fewest SMs of any sm_90 part (H20: 78; H100 PCIe 114, H100 SXM / H200 132): a grid of at
# most this many CTAs is one wave everywhere the sm_90 kernels run.
SM90_MIN_SMS = 78
# The most SMs of any part per arch (sm_90: H100 SXM / H200 132; sm_80: A100 108), and how many
# waves of them a split-K grid may fill: see _split_k_beyond.
MAX_SMS = {80: 108, 90: 132}
SPLIT_K_WAVES = 2


@dataclass(frozen=True)
class Rule:
    name: str
    arch: int
    # (request, candidate, the request's whole list) -> True: leave the candidate out
    drops: Callable[[Request, KernelCandidate, Sequence[KernelCandidate]], bool]
    evidence: str


def _hopper_offered(r: Request) -> bool:
    """The conv gets the sm_90 3.x kernels (TMA: C and K multiples of 8, not the padded stem)."""
    return (isinstance(r, ConvRequest) and not r.few_channels
            and r.c % conv3x.ALIGNMENT == 0 and r.k % conv3x.ALIGNMENT == 0)


def _conv2x(c: KernelCandidate, iterator: conv2x.Iterator) -> bool:
    return isinstance(c, conv2x.Conv2dCutlass2x) and c.iterator is iterator


def _wide_2x(r, c, cands) -> bool:
    return _hopper_offered(r) and _conv2x(c, conv2x.Iterator.OPTIMIZED) \
        and c.tile.shape[1] >= 128 \
        and not gemm3x.is_strided_pointwise(r.r, r.s, r.stride, r.pad, r.dilation)


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
    # the 3.x conv: an automatic stage count (one CTA per SM) or a few stages (shared SMs)
    return a.tile.cluster == b.tile.cluster and (a.tile.stages is None) == (b.tile.stages is None)


def _hopper_tile(c: KernelCandidate) -> tuple[int, int, int] | None:
    if isinstance(c, (conv3x.Conv2dCutlass3x, gemm3x.Conv2dGemm3x)):
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


def _gemm_one_wave(r, c, cands) -> bool:
    """2.x GEMM tiles larger than the smallest one in the list, when the smallest tile's grid
    fits in one wave of the smallest sm_90 part: a larger tile only means fewer CTAs, so
    fewer busy SMs, for the same (memory-bound) work."""
    if not isinstance(r, GemmRequest) or not isinstance(c, gemm2x.GemmRcrCutlass2x):
        return False
    tiles = [o for o in cands if isinstance(o, gemm2x.GemmRcrCutlass2x) and o.split_k == 1]
    if not tiles or c.split_k != 1:
        return False
    small = min(tiles, key=lambda o: (o.tile.shape[0] * o.tile.shape[1], o.tile.shape))
    sm, sn, _ = small.tile.shape
    if c is small or c.tile.shape[0] * c.tile.shape[1] <= sm * sn:
        return False
    return -(-r.m // sm) * -(-r.n // sn) <= SM90_MIN_SMS


def _split_k_beyond(sms: int) -> Callable[[Request, KernelCandidate, Sequence[KernelCandidate]],
                                          bool]:
    """Split-K candidates whose grid (output tiles x slices) exceeds SPLIT_K_WAVES waves of
    `sms` SMs at the request's batch: the unsplit output already has tiles enough to fill the
    GPU, so slicing the K loop only adds the partials' traffic and a second launch."""
    def drops(r, c, cands) -> bool:
        if not isinstance(c, splitk.Conv2dSplitK) or not isinstance(r, ConvRequest):
            return False
        p = conv_out_size(r.h, r.r, r.pad[0], r.stride[0], r.dilation[0])
        q = conv_out_size(r.w, r.s, r.pad[1], r.stride[1], r.dilation[1])
        return c.ctas(r.n * p * q, r.k) > SPLIT_K_WAVES * sms
    return drops


_SPLIT_K_EVIDENCE = (
    "parallel split-K conv kernels where output tiles x slices exceed two waves of the "
    "part's SMs: structural, not measured yet (the candidates are new, issue 10 item 4). At "
    "batch 1 the layer-3/4 convs have 8-64 tiles of 64x64 for 132 SMs and keep their splits; "
    "at batch 32 and above no ResNet conv keeps any")

RULES: tuple[Rule, ...] = (
    Rule("sm90-2x-conv-wide-n", 90, _wide_2x,
         "2.x Optimized conv tiles with N >= 128 (128x128x32, 128x256x32) where the Hopper "
         "kernels are offered: in the H200 runs with the full candidate set (docs/results/"
         "h200-2026-11-28b/ait_final.json, h200-2026-11-28c/ait_resnet50.json) they never won; "
         "the last session's note, from its profile cache of ResNet-18/50, has them never "
         "within 5% of the winner. Every 2.x win on sm_90 was an N = 64 tile on a K = 64 "
         "conv, but one: 128x256x32 won the stride-2 1x1 convs (56x56 256 -> 512, batch "
         "32-256) at e7e49dd, before the gather + GEMM candidates existed. Those went to "
         "conv2d_gemm3x_s in both later runs, by an unrecorded margin, so strided 1x1 convs "
         "keep the wide tiles."),
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
         "3.x conv or GEMM tile with N > K ever won where such a narrower tile existed"),
    Rule("sm90-3x-conv-tall", 90, _tall_3x_conv,
         "the 3.x conv 128x64x64 tile at K >= 128, where 64x128x64 has the same area and "
         "wastes no column: it won only K = 64 convs (layer1, batch 4-16), never a K >= 128 "
         "one, and never a bias (shortcut) conv"),
    Rule("sm90-2x-gemm-one-wave", 90, _gemm_one_wave,
         "2.x GEMM tiles above 64x64 when the 64x64 grid is at most one wave (<= 78 CTAs): "
         "for the 2048 -> 1000 classifier at M <= 256 only 64x64x64 (M 8-256) and the GEMV "
         "(M 1-4) ever won; 128x128, 128x64 and 64x128 never did"),
    Rule("sm90-split-k-waves", 90, _split_k_beyond(MAX_SMS[90]), _SPLIT_K_EVIDENCE),
    Rule("sm80-split-k-waves", 80, _split_k_beyond(MAX_SMS[80]), _SPLIT_K_EVIDENCE),
)


def all_candidates() -> bool:
    return env_flag(ALL_CANDIDATES_ENV)


def dropped_by(target: Target, request: Request, cands: Sequence[KernelCandidate]
               ) -> dict[str, str]:
    """{candidate name: rule name} for the candidates the rules leave out (the first never)."""
    out: dict[str, str] = {}
    for i, c in enumerate(cands):
        if i == 0:
            continue
        for rule in RULES:
            if rule.arch == target.arch and rule.drops(request, c, cands):
                out[c.name] = rule.name
                break
    return out


def prune(target: Target, request: Request, cands: Sequence[KernelCandidate]
          ) -> list[KernelCandidate]:
    """`cands` without those that cannot win (all of them with AIT_ALL_CANDIDATES=1)."""
    if all_candidates():
        return list(cands)
    drop = dropped_by(target, request, cands)
    return [c for c in cands if c.name not in drop]
