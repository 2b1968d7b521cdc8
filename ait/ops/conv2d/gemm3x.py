"""1x1 convolutions as CUTLASS 3.x Hopper GEMMs (persistent, warp-specialized; arch 90 only).

A 1x1, stride 1, pad 0, dilation 1 conv in NHWC / OHWI is exactly gemm_rcr:
A = x as [M = n*h*w, K = c] row-major, B = w as [N = k, K = c] (K contiguous), D = y [M, N]
row-major, bias per column (output channel), residual = C [M, N] with beta = 1. The kernel
checks this at run time and answers AIT_ERR_CANNOT_IMPLEMENT for anything else.

Why a GEMM: at batch 256 ResNet-50's 1x1 convs are memory-bound (K = c is 64-512, so each
output tile has only 1-8 k-blocks). The 3.x conv kernel is non-persistent with one math
warpgroup, so its epilogue (bias, residual load, store) never overlaps the next tile's loads.
The GEMM's persistent schedules do overlap them (TMA epilogue + producer warp running ahead
across tiles), and with two math warpgroups the wide tiles fit in registers.

Why these tiles (each one costs ~30-60 s of nvcc, per epilogue; compile budget matters):
- 128x256x64 cooperative: N = 256 covers the whole 64->256 expansion, so A (x) is read once;
  two warpgroups each hold 64x256 accumulators (128 registers, no spill, unlike the 3.x conv).
- 256x128x64 cooperative: the same area split the other way, for N = 128 / 512 / 1024 / 2048.
- 128x128x64 pingpong: while one warpgroup runs its epilogue the other one computes, the
  overlap that memory-bound short-K tiles need most; also 4x more tiles than the wide ones.
- 128x128x64 cooperative: smaller tiles for small batches (more CTAs busy) with the
  cooperative epilogue.
Clusters are 1x1: the operands re-read across tiles (w for every M tile) are small and stay in
L2, so TMA multicast buys little here; a 2x1 entry can be appended if the H200 says otherwise.
`AIT_CLUSTER_VARIANTS=1` appends 2x1 and 1x2 copies of TILES (cluster_variants) to measure it.

Strided 1x1 convs (ResNet's downsample shortcuts: stride 2, k = 512 / 1024 / 2048) are not a
GEMM over x, but they are one over xs = x[:, ::stride_h, ::stride_w, :]. The `strided` variant
(`conv2d_gemm3x_s_*`, same template) first gathers xs into the caller's workspace with a 16-byte
vectorized copy (n*p*q*c*2 bytes, 1/4 of x at stride 2), then runs the same GEMM on it. The
copy costs one extra write + read of xs, but the GEMM then gets the persistent epilogue overlap
above, which the (non-persistent) conv kernels lack; the profiler keeps it only where it wins.
Only the two wide cooperative tiles (STRIDED_TILES): N = k is 512..2048, so a 256-wide N tile
(fewer re-reads of xs) or a 256-tall M tile (fewer re-reads of w, which is large at k*c = 2M)
both fill two warpgroups; the 128x128 tiles target small N and small batches, where the extra
copy is not worth it and the strided conv kernels stay.

Epilogue tiles. The epilogue works on subtiles of the CTA tile:
per subtile it TMA-loads the residual C into shared memory, applies bias / residual / ReLU
and TMA-stores D. The builder's EpilogueTileAuto (what `TileGemm3x.epi` = None gives but for
the kernels MEASURED_EPI names) picks (cooperative:
128x32, pingpong: 64x32, i.e. 4-8 subtiles per 128x128 tile); an explicit (M, N) makes fewer,
larger round trips. The sm90 builder (cutlass/epilogue/collective/builders/sm90_builder.inl,
sm90_compute_tile_shape_or_override) accepts an explicit tile only with M = 64 for pingpong
and M = 128 for cooperative, N % 16 == 0, and M, N dividing the CTA tile. It offers no
parameter for the C / D stages, ReuseSmemC or DelayTmaStore: they follow from the subtile
count E = (CTA M*N) / (epi M*N) (sm90_get_tma_dispatch_policy): StagesD = min(E, 2),
StagesC = max(min(E, 4), StagesD + 1) with ReuseSmemC (C and D both fp16: D reuses C's
buffers), DelayTmaStore only without C. So a larger subtile also means more shared memory
(StagesC * epi M * epi N * 2 bytes), which the mainloop's automatic stage count gives up.
The residual kernels of two tiles and the bias + ReLU kernel of one use a measured explicit
subtile (MEASURED_EPI); `AIT_GEMM3X_EPI_VARIANTS=1` appends EPI_VARIANTS (pointwise convs
only, every epilogue) to the candidates, for measuring more of them. A kernel with an
explicit subtile says it in its name: `..._coop_e128x64_...`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import ClassVar

from ait.backend.kernel import ACC_CPP, Family, TemplateKernel, dims_tag
from ait.ir.epilogue import Epilogue
from ait.ir.env import env_flag

ALIGNMENT = 8  # TMA: rows of A (c), B (c), C/D (k) must be 16-byte multiples


class Schedule(enum.Enum):
    """Mainloop schedule; value: (kernel schedule, matching epilogue schedule, name fragment)."""

    COOPERATIVE = ("KernelTmaWarpSpecializedCooperative", "TmaWarpSpecializedCooperative",
                   "coop")
    PINGPONG = ("KernelTmaWarpSpecializedPingpong", "TmaWarpSpecialized", "pp")

    @property
    def kernel(self) -> str:
        return self.value[0]

    @property
    def epilogue(self) -> str:
        return self.value[1]

    @property
    def short(self) -> str:
        return self.value[2]


@dataclass(frozen=True)
class TileGemm3x:
    shape: tuple[int, int, int]           # CTA tile M (n*h*w), N (k), K (c)
    schedule: Schedule
    cluster: tuple[int, int] = (1, 1)
    epi: tuple[int, int] | None = None    # epilogue subtile M, N; None: the kernel's default


def _epi_cpp(epi: tuple[int, int] | None) -> str:
    if epi is None:
        return "cutlass::epilogue::collective::EpilogueTileAuto"
    return f"cute::Shape<cute::_{epi[0]}, cute::_{epi[1]}>"


# Append to grow (see the module docstring for why these).
TILES: tuple[TileGemm3x, ...] = (
    TileGemm3x((128, 256, 64), Schedule.COOPERATIVE),
    TileGemm3x((256, 128, 64), Schedule.COOPERATIVE),
    TileGemm3x((128, 128, 64), Schedule.PINGPONG),
    TileGemm3x((128, 128, 64), Schedule.COOPERATIVE),
)
# Explicit epilogue subtiles of the pointwise 128x128 / 256x128 tiles, offered only with
# AIT_GEMM3X_EPI_VARIANTS=1 (see the module docstring): (subtiles, StagesC, StagesD) and the
# epilogue's shared memory, against auto's 8 / 4 / 2 (16 KB, pingpong) and 4 or 8 / 4 / 2
# (32 KB, cooperative).
EPI_VARIANTS: tuple[TileGemm3x, ...] = (
    TileGemm3x((128, 128, 64), Schedule.PINGPONG, epi=(64, 64)),         # 4 / 4 / 2, 32 KB
    TileGemm3x((128, 128, 64), Schedule.PINGPONG, epi=(64, 128)),        # 2 / 3 / 2, 48 KB
    TileGemm3x((128, 128, 64), Schedule.COOPERATIVE, epi=(128, 64)),     # 2 / 3 / 2, 48 KB
    TileGemm3x((128, 128, 64), Schedule.COOPERATIVE, epi=(128, 128)),    # 1 / 2 / 1, 64 KB
    TileGemm3x((256, 128, 64), Schedule.COOPERATIVE, epi=(128, 64)),     # 4 / 4 / 2, 64 KB
    TileGemm3x((256, 128, 64), Schedule.COOPERATIVE, epi=(128, 128)),    # 2 / 3 / 2, 96 KB
)
EPI_VARIANTS_ENV = "AIT_GEMM3X_EPI_VARIANTS"
# The subtile a kernel of these tiles uses where its tile names none, instead of
# EpilogueTileAuto, by epilogue: "residual" (bias + add (+ ReLU): fewer, larger round trips
# for the residual C it loads) or an epilogue's tag. Measured on the H200 through the
# profiler (scripts/dev/epi_call.sh [bias_relu], now `variant_call.sh epi residual reduce`;
# ResNet-50's 1x1 convs of layers 1-4 at batch 128 and 256):
# - residual (docs/results/h200-2026-12-01e/epi_table.txt): 128x128 pingpong with 64x128 ran
#   at 0.76-0.93x of auto's time on all eight problems (the best of every kernel on layers 3
#   and 4); 256x128 cooperative with 128x64 at 0.93-0.96x on layers 1-2, within 3% of auto
#   on layers 3-4, where the pingpong one wins. In the model (h200-2026-12-01f): batch 256
#   6.08 against 6.21 ms, 128: 3.10 against 3.19.
# - bias_relu, the bottlenecks' reducing 1x1 convs (h200-2026-12-01f/epi_table_bias_relu.txt):
#   256x128 cooperative with 128x128 at 0.945-0.948x on layer 1, where that tile is the best
#   kernel; on layers 2-4 it was slower than auto (1.03-1.24x), but there the 128x128
#   pingpong tile wins by more, and its subtiles gained nothing (0.99-1.05x): it keeps auto.
# Other epilogues keep auto: not measured. Same translation units as before: the epilogue is
# not part of a unit's key.
MEASURED_EPI: dict[tuple[str, tuple[int, int, int], Schedule], tuple[int, int]] = {
    ("residual", (128, 128, 64), Schedule.PINGPONG): (64, 128),
    ("residual", (256, 128, 64), Schedule.COOPERATIVE): (128, 64),
    ("bias_relu", (256, 128, 64), Schedule.COOPERATIVE): (128, 128),
}


def measured_epi(epilogue: Epilogue, tile: TileGemm3x) -> tuple[int, int] | None:
    """MEASURED_EPI's subtile for `epilogue` on `tile`, or None (EpilogueTileAuto)."""
    kind = "residual" if epilogue.residual else epilogue.tag
    return MEASURED_EPI.get((kind, tile.shape, tile.schedule))


def epi_variants_enabled() -> bool:
    return env_flag(EPI_VARIANTS_ENV)


# Cluster variants, offered only with AIT_CLUSTER_VARIANTS=1 (an experiment, as the epilogue
# variants): a 2x1 cluster's two CTAs (adjacent M tiles) get w's tile by one TMA multicast, a
# 1x2 cluster's (adjacent N tiles) x's tile, halving that operand's L2 reads. A 1x2 copy only
# where the conv has two N tiles for it (k >= 2 * tile N).
CLUSTER_VARIANTS_ENV = "AIT_CLUSTER_VARIANTS"
CLUSTERS: tuple[tuple[int, int], ...] = ((2, 1), (1, 2))


def cluster_variants_enabled() -> bool:
    return env_flag(CLUSTER_VARIANTS_ENV)


def cluster_variants(tiles, k: int) -> tuple:
    """`tiles` (any tile dataclass with `shape` and `cluster`) with each of CLUSTERS, where
    the conv's `k` output channels make that many N tiles."""
    return tuple(replace(t, cluster=cl) for t in tiles for cl in CLUSTERS
                 if k >= cl[1] * t.shape[1])


# The tiles offered with the gather for stride > 1 (see the module docstring).
STRIDED_TILES: tuple[TileGemm3x, ...] = (
    TileGemm3x((128, 256, 64), Schedule.COOPERATIVE),
    TileGemm3x((256, 128, 64), Schedule.COOPERATIVE),
)


def is_pointwise(r: int, s: int, stride: tuple[int, int], pad: tuple[int, int],
                 dilation: tuple[int, int]) -> bool:
    """True for the convs that are plain GEMMs: 1x1 filter, stride 1, no padding."""
    return (r, s) == (1, 1) and tuple(stride) == (1, 1) and tuple(pad) == (0, 0) \
        and tuple(dilation) == (1, 1)


def is_strided_pointwise(r: int, s: int, stride: tuple[int, int], pad: tuple[int, int],
                         dilation: tuple[int, int]) -> bool:
    """True for the 1x1, pad 0 convs with a stride other than 1x1: a gather, then a GEMM."""
    return (r, s) == (1, 1) and tuple(pad) == (0, 0) and tuple(dilation) == (1, 1) \
        and all(v >= 1 for v in stride) and tuple(stride) != (1, 1)


@dataclass(frozen=True)
class Conv2dGemm3x(TemplateKernel):
    TEMPLATE: ClassVar[str] = "ops/conv2d/templates/conv2d_gemm3x.cu.j2"
    family: ClassVar[Family] = Family.CONV2D
    generation: ClassVar[str] = "gemm3x"
    compile_cost: ClassVar[float] = 6.0  # a little above the 3.x conv: two warpgroups
    waits_for_prior_grids: ClassVar[bool] = True
    splittable: ClassVar[bool] = True

    tile: TileGemm3x
    epilogue: Epilogue
    acc: str  # "f32" | "f16"
    strided: bool = False  # gather xs = x[:, ::sh, ::sw, :] into the workspace first

    @property
    def epi(self) -> tuple[int, int] | None:
        """The epilogue subtile: the tile's own, else MEASURED_EPI's for this epilogue, else
        None (EpilogueTileAuto)."""
        if self.tile.epi is not None:
            return self.tile.epi
        return measured_epi(self.epilogue, self.tile)

    @property
    def name(self) -> str:
        kind = "gemm3x_s" if self.strided else "gemm3x"
        epi = "" if self.epi is None else f"_e{dims_tag(self.epi)}"
        return (f"conv2d_{kind}_{dims_tag(self.tile.shape)}_c{dims_tag(self.tile.cluster)}_"
                f"{self.tile.schedule.short}{epi}_{self.epilogue.tag}_{self.acc}")

    def supports(self, c: int, k: int) -> bool:
        return c % ALIGNMENT == 0 and k % ALIGNMENT == 0

    def template_values(self) -> dict:
        return {"strided": self.strided, "acc_cpp": ACC_CPP[self.acc], "tile": self.tile.shape,
                "cluster": self.tile.cluster, "epilogue_tile": _epi_cpp(self.epi),
                "kernel_schedule": self.tile.schedule.kernel,
                "epilogue_schedule": self.tile.schedule.epilogue}


def name_before_measured_epi(c) -> str:
    """The name kernel `c` had before MEASURED_EPI gave it its subtile (how the profile caches
    and result files of earlier runs know it); other kernels: its name."""
    if isinstance(c, Conv2dGemm3x) and c.tile.epi is None and c.epi is not None:
        return c.name.replace(f"_e{dims_tag(c.epi)}_", "_", 1)
    return c.name


def candidates(epilogue: Epilogue, c: int, k: int, acc: str,
               strided: bool = False) -> list[Conv2dGemm3x]:
    """GEMM candidates for a pointwise conv, or with `strided` the gather + GEMM ones for a
    strided 1x1 conv (the caller checks the geometry: is_pointwise / is_strided_pointwise).
    With AIT_GEMM3X_EPI_VARIANTS=1 the pointwise list ends with the EPI_VARIANTS, with
    AIT_CLUSTER_VARIANTS=1 with TILES' cluster variants."""
    tiles = STRIDED_TILES if strided else TILES
    if not strided and epi_variants_enabled():
        tiles = (*tiles, *EPI_VARIANTS)
    if not strided and cluster_variants_enabled():
        tiles = (*tiles, *cluster_variants(TILES, k))
    out: dict[str, Conv2dGemm3x] = {}  # a variant equal to a tile's residual default: once
    for t in tiles:
        cand = Conv2dGemm3x(t, epilogue, acc, strided)
        if cand.supports(c, k):
            out.setdefault(cand.name, cand)
    return list(out.values())
