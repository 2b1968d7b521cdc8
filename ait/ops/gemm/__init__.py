"""GEMM with row-major input and [N, K] weight (gemm_rcr), bias and activation fused."""
from ait.ops.gemm.op import Gemm, gemm_rcr

__all__ = ["Gemm", "gemm_rcr"]
