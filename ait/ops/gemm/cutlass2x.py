"""CUTLASS 2.x gemm_rcr candidates (Sm80 tensor op 16x8x16; run on sm_80 and sm_90) for the
classifier: y = act(x @ w^T + bias), bias passed as C with a row stride of 0.

Serial split-K is supported by the template (partial sums meet in y, the first split adds the
bias) but only for epilogues without relu: CUTLASS's LinearCombinationRelu disables relu on
the non-final splits with a NaN threshold, which yields NaN outputs (seen on the H200). On the
H200 a 4-way split was never faster for the 2048 -> 1000 classifier, so no config uses it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ait.backend.kernel import ACC_CPP, Family, TemplateKernel, Tile2x, best_alignment
from ait.ir.epilogue import Activation, Epilogue

# (tile, split_k). Append to grow.
CONFIGS: tuple[tuple[Tile2x, int], ...] = (
    (Tile2x((64, 64, 64), (2, 2, 1), 5), 1),
    (Tile2x((64, 128, 32), (2, 2, 1), 6), 1),
    (Tile2x((128, 64, 32), (2, 2, 1), 4), 1),
    (Tile2x((128, 128, 32), (2, 2, 1), 3), 1),
)


@dataclass(frozen=True)
class GemmRcrCutlass2x(TemplateKernel):
    TEMPLATE: ClassVar[str] = "ops/gemm/templates/gemm_rcr_cutlass2x.cu.j2"
    family: ClassVar[Family] = Family.GEMM
    generation: ClassVar[str] = "2x"
    compile_cost: ClassVar[float] = 1.0

    tile: Tile2x
    split_k: int
    align_a: int        # k elements per vector load of x and w
    align_c: int        # n elements per vector store of y (and bias load)
    epilogue: Epilogue
    acc: str            # "f32" | "f16"
    swizzle: int = 1

    @property
    def name(self) -> str:
        split = f"_sk{self.split_k}" if self.split_k > 1 else ""
        return (f"gemm_rcr_2x_{self.tile.name_part()}{split}_"
                f"a{self.align_a}c{self.align_c}_{self.epilogue.tag}_{self.acc}")

    def supports(self, n: int, k: int) -> bool:
        if self.split_k > 1 and self.epilogue.activation is not Activation.IDENTITY:
            return False  # NaN outputs: see the module docstring
        return k % self.align_a == 0 and n % self.align_c == 0

    def template_values(self) -> dict:
        return {"acc_cpp": ACC_CPP[self.acc], **self.tile.template_values(),
                "split_k": self.split_k, "align_a": self.align_a, "align_c": self.align_c,
                "swizzle": self.swizzle}



def candidates(epilogue: Epilogue, n: int, k: int, acc: str) -> list[GemmRcrCutlass2x]:
    if epilogue.residual:
        return []  # the classifier never adds a residual; no template for it
    align_a, align_c = best_alignment(k), best_alignment(n)
    if align_a < 2 or align_c < 2:
        return []
    out = [GemmRcrCutlass2x(t, split, align_a, align_c, epilogue, acc) for t, split in CONFIGS]
    return [cand for cand in out if cand.supports(n, k)]
