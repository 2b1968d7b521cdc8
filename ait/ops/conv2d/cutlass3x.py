"""CUTLASS 3.x Hopper conv2d fprop candidates (TMA im2col + warpgroup MMA, arch 90 only).

Epilogue LinCombPerColBiasEltAct (ReLu / Identity); the residual forms use beta = 1 with
C = residual. In CUTLASS 4.2 only KernelImplicitTmaWarpSpecializedSm90 builds for conv, and it
has one math warpgroup: the 128x256 tile spills registers (10-50x slower), so it is left out.

`Conv2dCutlass3xPersistent` (`conv2d_3xp_*`, template conv2d_cutlass3x_persistent.cu.j2) is a
persistent cooperative kernel of our own around CUTLASS's conv mainloop, TMA epilogue and
static persistent tile scheduler (include/ait_sm90_conv_persistent.hpp says what it adapts):
one CTA per SM walks the output tiles, two math warpgroups share a tile, and the next tile's
loads run during this tile's epilogue. For convs with more than one filter tap (a 3x3 conv at
C = 64 has only 9 k-tiles per output tile: the non-persistent kernel's fill and epilogue are
exposed); pointwise convs have the persistent GEMM kernels (gemm3x.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ait.backend.kernel import ACC_CPP, Family, TemplateKernel, dims_tag
from ait.ir.epilogue import Epilogue
from ait.ops.conv2d import gemm3x  # cluster_variants: the switch and rule are the GEMM's

ALIGNMENT = 8  # TMA: C and K must be multiples of 8 fp16 (16-byte rows)


@dataclass(frozen=True)
class Tile3x:
    shape: tuple[int, int, int]           # CTA tile M (N*P*Q), N (K), K (C*R*S slice)
    cluster: tuple[int, int] = (1, 1)
    stages: int | None = None             # None: as many as shared memory holds (one CTA/SM)


# 64x128 wins batch 1 and 7x7 layers, 128x128 the 3x3 / 1x1 mid layers at batch 32-256,
# 64x256 the 7x7 512 layer at batch 256 (DESIGN.md). Append to grow.
TILES: tuple[Tile3x, ...] = (
    Tile3x((64, 128, 64)),
    Tile3x((128, 128, 64)),
    Tile3x((64, 256, 64)),
    Tile3x((64, 64, 64)),
    Tile3x((128, 64, 64)),  # N = 64 output channels (layer1): a 128-wide N tile wastes half
)

# The kernel is not persistent: with every stage shared memory holds, one CTA fills an SM and
# nothing hides its pipeline fill and epilogue. A 3x3 conv's CTA runs only R*S*C/64 K steps
# (9 at C = 64), so the 56x56 layer1 convs ran at a third of their floor on the H200. With few
# stages two or three CTAs share an SM and overlap. For convs with R*S > 1 (1x1 convs have the
# persistent GEMM kernels).
SHALLOW_TILES: tuple[Tile3x, ...] = (
    Tile3x((64, 64, 64), stages=4),
    Tile3x((128, 64, 64), stages=4),
    Tile3x((64, 128, 64), stages=4),
)  # 128x128x64 with 3 stages never won nor came within 2% (H200, batch 1..256, ResNet-50)

# Tile shapes CUTLASS's generator does not list for Hopper conv fprop but that build (a
# compile test in tests/test_conv2d_gemm3x.py stands in for the generator check).
UNLISTED_TILE_SHAPES: frozenset[tuple[int, int, int]] = frozenset({(128, 64, 64)})


@dataclass(frozen=True)
class _Conv3xKernel(TemplateKernel):
    """What the Hopper conv kernel classes share: a tile, an epilogue, an accumulator; the
    name is PREFIX, the tile, SCHEDULE and the epilogue."""
    family: ClassVar[Family] = Family.CONV2D
    waits_for_prior_grids: ClassVar[bool] = True
    splittable: ClassVar[bool] = True
    PREFIX: ClassVar[str]
    SCHEDULE: ClassVar[str] = ""  # the kernel schedule's tag in the name ("coop_")

    tile: Tile3x
    epilogue: Epilogue
    acc: str  # "f32" | "f16"

    @property
    def name(self) -> str:
        stages = f"_{self.tile.stages}s" if self.tile.stages else ""
        return (f"{self.PREFIX}_{dims_tag(self.tile.shape)}{stages}_c{dims_tag(self.tile.cluster)}_"
                f"{self.SCHEDULE}{self.epilogue.tag}_{self.acc}")

    def supports(self, c: int, k: int) -> bool:
        return c % ALIGNMENT == 0 and k % ALIGNMENT == 0

    def template_values(self) -> dict:
        return {"acc_cpp": ACC_CPP[self.acc], "tile": self.tile.shape,
                "cluster": self.tile.cluster, "stages": self.tile.stages}


@dataclass(frozen=True)
class Conv2dCutlass3x(_Conv3xKernel):
    TEMPLATE: ClassVar[str] = "ops/conv2d/templates/conv2d_cutlass3x.cu.j2"
    PREFIX: ClassVar[str] = "conv2d_3x"
    generation: ClassVar[str] = "3x"
    compile_cost: ClassVar[float] = 5.0


def candidates(epilogue: Epilogue, c: int, k: int, acc: str, shallow: bool = False
               ) -> list[Conv2dCutlass3x]:
    """`shallow`: also the few-stage tiles (convs with more than one filter tap)."""
    out = [Conv2dCutlass3x(t, epilogue, acc) for t in (*TILES, *(SHALLOW_TILES if shallow else ()))]
    return [cand for cand in out if cand.supports(c, k)]


# The persistent cooperative conv (see the module docstring): tile M >= 128 (two math
# warpgroups of 64 rows). Stages: as many as shared memory holds beside the epilogue's buffers
# (one CTA per SM by design). 128x64 / 256x64 for the K = 64 layer1 convs, 128x128 for K >= 128.
# Append to grow.
PERSISTENT_TILES: tuple[Tile3x, ...] = (
    Tile3x((128, 64, 64)),
    Tile3x((256, 64, 64)),
    Tile3x((128, 128, 64)),
)


@dataclass(frozen=True)
class Conv2dCutlass3xPersistent(_Conv3xKernel):
    TEMPLATE: ClassVar[str] = "ops/conv2d/templates/conv2d_cutlass3x_persistent.cu.j2"
    PREFIX: ClassVar[str] = "conv2d_3xp"
    SCHEDULE: ClassVar[str] = "coop_"
    generation: ClassVar[str] = "3xp"
    compile_cost: ClassVar[float] = 6.0  # as the persistent GEMM: two math warpgroups
    # Every warp that reads or writes global memory waits for the prior grid first
    # (include/ait_sm90_conv_persistent.hpp; built with CUTLASS_ENABLE_GDC_FOR_SM90).
    waits_for_prior_grids: ClassVar[bool] = True


def persistent_candidates(epilogue: Epilogue, c: int, k: int, acc: str
                          ) -> list[Conv2dCutlass3xPersistent]:
    """The persistent cooperative conv kernels (the caller offers them for r*s > 1 on sm_90);
    with AIT_CLUSTER_VARIANTS=1 also their 2x1 / 1x2 cluster copies (gemm3x.cluster_variants:
    an experiment)."""
    tiles = PERSISTENT_TILES
    if gemm3x.cluster_variants_enabled():
        tiles = (*tiles, *gemm3x.cluster_variants(PERSISTENT_TILES, k))
    out = [Conv2dCutlass3xPersistent(t, epilogue, acc) for t in tiles]
    return [cand for cand in out if cand.supports(c, k)]
