"""Every gemm_rcr kernel candidate that may apply to one op."""
from __future__ import annotations

from ait.backend.target import Target
from ait.ops.epilogue import Epilogue
from ait.ops.gemm import cutlass2x

GemmCandidate = cutlass2x.GemmRcrCutlass2x

# Bump when configs, templates or filters change what a name means (profile-cache key).
CANDIDATE_SET_VERSION = 1


def gemm_candidates(target: Target, epilogue: Epilogue, n: int, k: int) -> list[GemmCandidate]:
    """Candidates for y[m, n] = act(x[m, k] @ w[n, k]^T + bias[n]); m is free."""
    return cutlass2x.candidates(epilogue, n, k, target.acc)
