"""Our own GEMV-style gemm_rcr candidate for small M (the classifier at small batch).

At batch 1-8 the 2048 -> 1000 classifier is a weight stream (4 MB); CUTLASS's tiles give it
16 CTAs and ~10 us on the H200. One warp per output column uses every SM. The profiler
times it beside the CUTLASS candidates per batch bucket and checks its output like theirs,
so it is chosen only where it is correct and faster. Accumulates in fp32 always.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ait.backend.kernel import Family, TemplateKernel
from ait.ir.epilogue import Epilogue

# (rows of x per pass, warps per block). Append to grow.
CONFIGS: tuple[tuple[int, int], ...] = ((8, 4), (2, 8))


@dataclass(frozen=True)
class GemmRcrGemv(TemplateKernel):
    TEMPLATE: ClassVar[str] = "ops/gemm/templates/gemm_rcr_gemv.cu.j2"
    family: ClassVar[Family] = Family.GEMM
    generation: ClassVar[str] = "gemv"
    compile_cost: ClassVar[float] = 0.2
    waits_for_prior_grids: ClassVar[bool] = True

    rows: int
    warps: int
    epilogue: Epilogue
    acc: str  # kept for a uniform name/cache key; the kernel accumulates in fp32

    @property
    def name(self) -> str:
        return f"gemm_rcr_gemv_r{self.rows}_w{self.warps}_{self.epilogue.tag}_{self.acc}"

    def supports(self, n: int, k: int) -> bool:
        return k % 8 == 0 and not self.epilogue.residual

    def template_values(self) -> dict:
        return {"rows": self.rows, "warps": self.warps}


def candidates(epilogue: Epilogue, n: int, k: int, acc: str) -> list[GemmRcrGemv]:
    out = [GemmRcrGemv(rows, warps, epilogue, acc) for rows, warps in CONFIGS]
    return [c for c in out if c.supports(n, k)]
