"""GEMM with row-major input and [N, K] weight (gemm_rcr), bias and activation fused."""
from ait.ops.gemm.op import Gemm, gemm_rcr
from ait.ops.gemm.family import FAMILY
from ait.ops.gemm.request import GemmProblem, GemmRequest

__all__ = ["FAMILY", "GemmProblem", "GemmRequest", "Gemm", "gemm_rcr"]
