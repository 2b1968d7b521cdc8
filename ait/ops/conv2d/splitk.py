"""Parallel split-K conv2d candidates: CUTLASS 2.x implicit GEMM (Sm80 tensor op, Optimized
iterator) over `split_k` slices of the GEMM-K (R*S*C) loop, then our own reduction kernel
(conv2d_splitk_reduce.cu) in one entry point.

Why: at small batches the late ResNet convs have few output tiles. At batch 1 on the H200 the
3x3 convs of layer 3 / 4 (14x14x256 -> 256, 7x7x512 -> 512) give 16 / 8 CTAs of 64x64 for
132 SMs, each walking the whole 2304 / 4608-deep K loop: 12-14 us against ~1 us to read the
weights. With S slices S times as many CTAs each walk 1/S of the loop.

How: CUTLASS's SplitKMode::kParallel with split_k_slices = S. The Optimized iterator gives
slice s the channel blocks s, s + S, s + 2S, ... of every filter tap (its filter_c_delta is
tile K * S), so a slice walks R*S * C / (S * tile K) K iterations when S * tile K divides C
(`splits_for` offers only those). Each slice's epilogue stores 1 * acc as fp32 into the
workspace [S, n*p*q, k] (beta = 0); the reduction sums the slices in fp32 and applies
bias (+ residual) (ReLU), writing fp16. Partials are fp32 whatever the target's accumulator:
with `acc="f16"` each slice accumulates in fp16 (as the unsplit f16 kernels do) and only the
sum across slices is fp32, which is no less accurate than one fp16 accumulation.

The cluster form (`cluster`, sm_90 only, `conv2d_2x_sk{S}c_*`): one launch instead of two. The
grid's S slices of an output tile are one thread block cluster (1, 1, S); each CTA runs the
same CUTLASS kernel body, then a cluster barrier makes every slice's partials visible to all,
and CTA s reduces the s-th share of the tile with the epilogue (template
conv2d_splitk.cu.j2, ait_splitk_cluster_kernel). Why: at batch 1 the second launch of each
of ResNet-50's 11 split convs is a kernel boundary the graph pays (~1-2 us each, with
programmatic launch), and the separate reduction reads back the whole [S, M, K] workspace
after the conv has ended. No counters and no memset (so nothing to reset between launches
or share between contexts), the same summation order as the reduction kernel.

The conv kernel is the same for every split count, epilogue and form (S is a run-time argument
of CUTLASS's problem, the epilogue lives in the reduction), so the build groups them into shared
translation units (`group_free`). Which problems get which split counts (few output tiles for
the GPU's SMs) is a rule of tune.prune, so AIT_ALL_CANDIDATES=1 lists them all.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ait.backend.kernel import ACC_CPP, Family, TemplateKernel, Tile2x, best_alignment
from ait.ir.env import env_switch
from ait.ir.epilogue import Epilogue

REDUCE_SOURCE = Path(__file__).with_name("conv2d_splitk_reduce.cu")

# Small tiles: the problems that need a split have few output tiles already. Append to grow.
TILES: tuple[Tile2x, ...] = (
    Tile2x((64, 64, 32), (2, 2, 1), 6),
    Tile2x((64, 64, 64), (2, 2, 1), 4),
)
SPLITS: tuple[int, ...] = (2, 4, 8, 16)
# Fewest K iterations a slice may keep: below this the multistage mainloop (4-6 stages)
# never fills and each slice's prologue, epilogue and partial store dominate.
MIN_K_ITERATIONS = 4


@dataclass(frozen=True)
class Conv2dSplitK(TemplateKernel):
    TEMPLATE: ClassVar[str] = "ops/conv2d/templates/conv2d_splitk.cu.j2"
    family: ClassVar[Family] = Family.CONV2D
    generation: ClassVar[str] = "2x"
    compile_cost: ClassVar[float] = 1.0
    waits_for_prior_grids: ClassVar[bool] = True  # both kernels wait first (ait_pdl.h)
    # fields that change only run-time values of one compiled conv kernel (tune.build groups
    # kernels differing only in these, and in the epilogue, into one translation unit)
    group_free: ClassVar[tuple[str, ...]] = ("split_k", "cluster")

    tile: Tile2x
    split_k: int
    align_a: int        # channels (C) per vector access of x and w
    align_c: int        # output channels (K) per vector access of y, bias, residual
    epilogue: Epilogue
    acc: str            # "f32" | "f16": the slices' accumulator; partials are fp32 always
    swizzle: int = 1    # few tiles: nothing to gain from rasterizing them
    cluster: bool = False  # the one-launch cluster reduction (sm_90; module docstring)

    @property
    def name(self) -> str:
        form = "c" if self.cluster else ""
        return (f"conv2d_2x_sk{self.split_k}{form}_{self.tile.name_part()}_opt_"
                f"a{self.align_a}c{self.align_c}_{self.epilogue.tag}_{self.acc}")

    def k_iterations(self, c: int, r: int, s: int) -> int:
        """K iterations one slice walks for a conv with `c` channels and an r x s filter."""
        per_slice = -(-c // self.split_k)
        return r * s * -(-per_slice // self.tile.shape[2])

    def ctas(self, m: int, k: int) -> int:
        """CTAs of the conv kernel for an output of `m` (n*p*q) rows and `k` channels."""
        tm, tn, _ = self.tile.shape
        return -(-m // tm) * -(-k // tn) * self.split_k

    def supports(self, c: int, k: int) -> bool:
        return c % self.align_a == 0 and k % self.align_c == 0

    def template_values(self) -> dict:
        return {"acc_cpp": ACC_CPP[self.acc], **self.tile.template_values(),
                "split_k": self.split_k, "align_a": self.align_a, "align_c": self.align_c,
                "swizzle": self.swizzle, "cluster": self.cluster,
                "reduce_source": REDUCE_SOURCE.read_text()}


def splits_for(tile: Tile2x, c: int, r: int, s: int) -> list[int]:
    """Split counts whose slices each get whole channel blocks (S * tile K divides C) and
    keep at least MIN_K_ITERATIONS K iterations."""
    tk = tile.shape[2]
    return [n for n in SPLITS if c % (n * tk) == 0 and r * s * c // (n * tk) >= MIN_K_ITERATIONS]


CLUSTER_ENV = "AIT_SPLITK_CLUSTER"  # =0: no cluster form (the two-kernel one alone, for A/B)


def cluster_enabled() -> bool:
    return env_switch(CLUSTER_ENV, True)


# Clusters of more CTAs than this do not launch (sm_90: 8 portable, 16 with the non-portable
# opt-in the template makes).
MAX_CLUSTER = 16


def candidates(epilogue: Epilogue, c: int, k: int, r: int, s: int, acc: str,
               cluster: bool = False) -> list[Conv2dSplitK]:
    """Split-K candidates for a conv with `c` input and `k` output channels and an r x s
    filter (any stride, pad, dilation), widest alignments only; with `cluster` (sm_90) each
    also in the cluster form."""
    align_a, align_c = best_alignment(c), best_alignment(k)
    if align_a < 2 or align_c < 2:
        return []
    forms = (False, True) if cluster else (False,)
    out = [Conv2dSplitK(t, n, align_a, align_c, epilogue, acc, cluster=f)
           for t in TILES for n in splits_for(t, c, r, s) for f in forms
           if not f or n <= MAX_CLUSTER]
    return [cand for cand in out if cand.supports(c, k)]
