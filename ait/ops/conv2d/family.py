"""The conv2d op family, registered with the backend (ait.backend.family): its emitter and,
for the tuner, its requests, candidates, profiler and prune rules."""
from __future__ import annotations

from ait.backend.emit import batch_buckets
from ait.backend.family import OpFamily, Tuning, register
from ait.backend.kernel import Family, KernelCandidate
from ait.backend.target import Target
from ait.ir.epilogue import Epilogue
from ait.ops.conv2d import cuda, prune
from ait.ops.conv2d.candidates import CANDIDATE_SET_VERSION, conv2d_candidates
from ait.ops.conv2d.op import Conv2d
from ait.ops.conv2d.request import Conv2dProblem, ConvRequest


def problem(op: Conv2d) -> Conv2dProblem:
    _, h, w, c = op.x.shape()
    k, r, s, _ = op.w.shape()
    return Conv2dProblem(op.epilogue or Epilogue(), h=h.value, w=w.value, c=c.value,
                         k=k.value, r=r.value, s=s.value, pad=op.pad, stride=op.stride,
                         dilation=op.dilation, few_channels=op.few_channels)


def requests(op: Conv2d) -> list[tuple[int, ConvRequest]]:
    p = problem(op)
    return [(b, ConvRequest(p, b)) for b in batch_buckets(op.x.shape()[0])]


def candidates(target: Target, request: ConvRequest) -> list[KernelCandidate]:
    return conv2d_candidates(target, request.epilogue, request.c, request.k,
                             few_channels=request.few_channels, r=request.r, s=request.s,
                             stride=request.stride, pad=request.pad, dilation=request.dilation,
                             w=request.w)


FAMILY = register(OpFamily(
    "conv2d", (Conv2d,), cuda.emit,
    tuning=Tuning(Family.CONV2D, ConvRequest, "AitConv2dArgs",
                  "ops/conv2d/templates/profiler_conv2d.cu.j2", CANDIDATE_SET_VERSION,
                  requests, candidates, prune.RULES)))
