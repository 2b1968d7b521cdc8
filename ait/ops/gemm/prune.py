"""The gemm family's prune rules (applied by ait.tune.prune, which says what a rule may rest
on): candidates that cannot win, left out before anything is compiled or profiled."""
from __future__ import annotations

from ait.backend.family import PruneRule as Rule
from ait.ops.gemm import cutlass2x as gemm2x
from ait.ops.gemm.request import GemmRequest

# The fewest SMs of any sm_90 part (H20: 78; H100 PCIe 114, H100 SXM / H200 132): a grid of at
# most this many CTAs is one wave everywhere the sm_90 kernels run.
SM90_MIN_SMS = 78


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


RULES: tuple[Rule, ...] = (
    Rule("sm90-2x-gemm-one-wave", 90, _gemm_one_wave,
         "2.x GEMM tiles above 64x64 when the 64x64 grid is at most one wave (<= 78 CTAs): "
         "for the 2048 -> 1000 classifier at M <= 256 only 64x64x64 (M 8-256) and the GEMV "
         "(M 1-4) ever won; 128x128, 128x64 and 64x128 never did"),
)
