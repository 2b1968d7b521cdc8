"""What the compiler asks the tuner for, for one gemm_rcr op: its batch-free problem, and the
request (problem, M bucket). The problem's fields are the one list the profiler argv, the
profiler's parser and AitGemmArgs are checked against (tests/test_problem_fields.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ait.backend.kernel import Family
from ait.backend.problem import KernelRequest, Problem
from ait.ir.epilogue import Epilogue


@dataclass(frozen=True)
class GemmProblem(Problem):
    """gemm_rcr: y[m, n] = act(x[m, k] @ w[n, k]^T + bias[n]); m (the batch) apart."""

    label: ClassVar[str] = "gemm_rcr"
    batch_flag: ClassVar[str] = "m"

    epilogue: Epilogue
    n: int
    k: int


@dataclass(frozen=True, repr=False)  # KernelRequest.__repr__: the dims() spelled out
class GemmRequest(KernelRequest):
    """One gemm_rcr problem at one M bucket (`m`)."""

    family: ClassVar[Family] = Family.GEMM
    problem_type: ClassVar[type[Problem]] = GemmProblem  # the fields: (problem, batch)
