"""The gemm op family, registered with the backend (ait.backend.family): its emitter and,
for the tuner, its requests, candidates, profiler and prune rules."""
from __future__ import annotations

from ait.backend.emit import batch_buckets
from ait.backend.family import OpFamily, Tuning, register
from ait.backend.kernel import Family, KernelCandidate
from ait.backend.target import Target
from ait.ir.epilogue import Epilogue
from ait.ops.gemm import cuda, prune
from ait.ops.gemm.candidates import CANDIDATE_SET_VERSION, gemm_candidates
from ait.ops.gemm.op import Gemm
from ait.ops.gemm.request import GemmProblem, GemmRequest


def problem(op: Gemm) -> GemmProblem:
    _, k = op.inputs[0].shape()
    n = op.inputs[1].shape()[0]
    return GemmProblem(op.epilogue or Epilogue(), n=n.value, k=k.value)


def requests(op: Gemm) -> list[tuple[int, GemmRequest]]:
    p = problem(op)
    return [(b, GemmRequest(p, b)) for b in batch_buckets(op.inputs[0].shape()[0])]


def candidates(target: Target, request: GemmRequest) -> list[KernelCandidate]:
    return gemm_candidates(target, request.epilogue, request.n, request.k)


FAMILY = register(OpFamily(
    "gemm", (Gemm,), cuda.emit,
    tuning=Tuning(Family.GEMM, GemmRequest, "AitGemmArgs",
                  "ops/gemm/templates/profiler_gemm.cu.j2", CANDIDATE_SET_VERSION,
                  requests, candidates, prune.RULES)))
