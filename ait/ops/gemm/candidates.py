"""Every gemm_rcr kernel candidate that may apply to one op."""
from __future__ import annotations

from ait.backend.target import Target
from ait.ir.epilogue import Epilogue
from typing import Union

from ait.ops.gemm import cutlass2x, gemv

GemmCandidate = Union[cutlass2x.GemmRcrCutlass2x, gemv.GemmRcrGemv]

# Bump when configs, templates or filters change what a name means (profile-cache key).
CANDIDATE_SET_VERSION = 2


def gemm_candidates(target: Target, epilogue: Epilogue, n: int, k: int) -> list[GemmCandidate]:
    """Candidates for y[m, n] = act(x[m, k] @ w[n, k]^T + bias[n]); m is free. CUTLASS
    first (``profile=False`` takes the first), then our GEMV kernels for small m."""
    if epilogue.residual:
        return []
    return [*cutlass2x.candidates(epilogue, n, k, target.acc),
            *gemv.candidates(epilogue, n, k, target.acc)]
