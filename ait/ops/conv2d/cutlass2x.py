"""CUTLASS 2.x implicit-GEMM conv2d fprop candidates (Sm80 tensor op 16x8x16; run on sm_80
and sm_90). Fused epilogues: bias / bias_relu pass the bias as C through a stride-0 layout;
bias_add / bias_add_relu use the broadcast epilogue (LinearCombinationResidualBlock).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from ait.backend.kernel import ACC_CPP, Family, TemplateKernel, Tile2x, best_alignment
from ait.ir.epilogue import Epilogue
from ait.ops.conv2d.op import FEW_CHANNELS as FIXED_CHANNELS_C


class Iterator(enum.Enum):
    """Activation iterator; value is the CUTLASS enumerator, short is the name fragment."""

    OPTIMIZED = ("kOptimized", "opt")
    FIXED_CHANNELS = ("kFixedChannels", "fc")  # whole C (2/4/8 channels) in one vector: stem
    # GEMM-K walks (r, s, c) as one index: a K step spans several filter taps when C is
    # smaller than it. Optimized walks taps, then C in K-sized steps, predicating the rest.
    FEW_CHANNELS = ("kFewChannels", "few")

    @property
    def cpp(self) -> str:
        return self.value[0]

    @property
    def short(self) -> str:
        return self.value[1]


# Tiles that won on the H200 (DESIGN.md) plus neighbours for other shapes. Append to grow.
TILES: tuple[Tile2x, ...] = (
    Tile2x((128, 64, 32), (2, 2, 1), 4),
    Tile2x((128, 128, 32), (2, 2, 1), 3),
    Tile2x((128, 256, 32), (2, 4, 1), 3),
    Tile2x((256, 64, 32), (4, 1, 1), 3),
    Tile2x((64, 64, 32), (2, 2, 1), 6),
    # K = 64 per stage, for the s2d stem (c = 16, 16 taps: 0.70 ms at batch 256 on the H200
    # with 32-wide stages). 256x64x64 spills registers (ptxas: 408 bytes); this one does not.
    Tile2x((128, 64, 64), (2, 2, 1), 4),
)

# Ordinary convs with fewer channels than a K step (the s2d stem: 16 channels, 16 taps) also
# get FewChannels kernels; with N = 64 (the stem) these tiles won among Optimized ones.
SMALL_C_TILES: tuple[Tile2x, ...] = (
    Tile2x((256, 64, 32), (4, 1, 1), 3),
    Tile2x((128, 64, 32), (2, 2, 1), 4),
)
SMALL_C = 32  # C below the K step of every tile: Optimized predicates (32 - C) / 32 of it

# The stem is a few-channel conv with a 7x7 filter (K = 64): N tiles of 64 win (H200).
FEW_CHANNEL_TILES: tuple[Tile2x, ...] = (
    Tile2x((128, 64, 32), (2, 2, 1), 4),
    Tile2x((64, 64, 32), (2, 2, 1), 6),
    Tile2x((128, 128, 32), (2, 2, 1), 3),
)


@dataclass(frozen=True)
class Conv2dCutlass2x(TemplateKernel):
    TEMPLATE: ClassVar[str] = "ops/conv2d/templates/conv2d_cutlass2x.cu.j2"
    family: ClassVar[Family] = Family.CONV2D
    generation: ClassVar[str] = "2x"
    compile_cost: ClassVar[float] = 1.0

    tile: Tile2x
    iterator: Iterator
    align_a: int        # channels (C) per vector access of x and w
    align_c: int        # output channels (K) per vector access of y, bias, residual
    epilogue: Epilogue
    acc: str            # "f32" | "f16"
    swizzle: int = 4

    @property
    def name(self) -> str:
        return (f"conv2d_2x_{self.tile.name_part()}_{self.iterator.short}_"
                f"a{self.align_a}c{self.align_c}_"
                f"{self.epilogue.tag}_{self.acc}")

    def supports(self, c: int, k: int) -> bool:
        if k % self.align_c:
            return False
        if self.iterator is Iterator.FIXED_CHANNELS:
            return c == self.align_a
        return c % self.align_a == 0

    def template_values(self) -> dict:
        return {"acc_cpp": ACC_CPP[self.acc], **self.tile.template_values(),
                "iterator": self.iterator.cpp, "align_a": self.align_a,
                "align_c": self.align_c, "swizzle": self.swizzle}



def candidates(epilogue: Epilogue, c: int, k: int, acc: str, few_channels: bool = False
               ) -> list[Conv2dCutlass2x]:
    """2.x candidates for a conv with c input and k output channels, widest alignment only
    (a narrower vector is never faster for the same tile). A few-channel stem (c = 2, 4, 8)
    gets only FixedChannels kernels: on the H200 they beat the Optimized iterator at c = 8 by
    1.3-1.8x at every batch size."""
    align_c = best_alignment(k)
    if align_c < 2:
        return []
    if few_channels:
        if c not in FIXED_CHANNELS_C:
            return []
        tiles, iterator, align_a = FEW_CHANNEL_TILES, Iterator.FIXED_CHANNELS, c
    else:
        tiles, iterator, align_a = TILES, Iterator.OPTIMIZED, best_alignment(c)
        if align_a < 2:
            return []
    out = [Conv2dCutlass2x(t, iterator, align_a, align_c, epilogue, acc) for t in tiles]
    if not few_channels and c < SMALL_C:  # after the Optimized ones: "first" stays the same
        out += [Conv2dCutlass2x(t, Iterator.FEW_CHANNELS, align_a, align_c, epilogue, acc)
                for t in SMALL_C_TILES]
    return [cand for cand in out if cand.supports(c, k)]
