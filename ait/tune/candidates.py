"""Requests -> candidate lists, candidate-set identity, and name -> candidate lookup."""
from __future__ import annotations

import hashlib

from ait.backend.kernel import Family, KernelCandidate
from ait.backend.target import Target
from ait.ops.conv2d.candidates import CANDIDATE_SET_VERSION as CONV2D_SET_VERSION
from ait.ops.conv2d.candidates import conv2d_candidates
from ait.ops.gemm.candidates import CANDIDATE_SET_VERSION as GEMM_SET_VERSION
from ait.ops.gemm.candidates import gemm_candidates
from ait.tune.prune import prune
from ait.tune.requests import ConvRequest, GemmRequest, Request

_SET_VERSION = {Family.CONV2D: CONV2D_SET_VERSION, Family.GEMM: GEMM_SET_VERSION}


class NoCandidateError(RuntimeError):
    pass


def candidates_for(target: Target, request: Request) -> list[KernelCandidate]:
    """The candidates profiled for `request`: every one that can run it, less those the
    rules of tune.prune show cannot win (all of them with AIT_ALL_CANDIDATES=1)."""
    return prune(target, request, all_candidates_for(target, request))


def all_candidates_for(target: Target, request: Request) -> list[KernelCandidate]:
    """Every candidate able to run `request`, whatever AIT_ALL_CANDIDATES says."""
    if isinstance(request, ConvRequest):
        return conv2d_candidates(target, request.epilogue, request.c, request.k,
                                 few_channels=request.few_channels, r=request.r, s=request.s,
                                 stride=request.stride, pad=request.pad,
                                 dilation=request.dilation)
    if isinstance(request, GemmRequest):
        return gemm_candidates(target, request.epilogue, request.n, request.k)
    raise TypeError(f"not a kernel request: {request!r}")


def require_candidates(target: Target, request: Request) -> list[KernelCandidate]:
    cands = candidates_for(target, request)
    if not cands:
        raise NoCandidateError(
            f"no kernel candidate for {request.describe()} on sm_{target.arch}: channel counts "
            "must be multiples of 2 (8 for full speed); pad them (few-channel stems take 2, 4 "
            "or 8 channels with few_channels=True)")
    return cands


def candidate_set_id(family: Family, cands: list[KernelCandidate]) -> str:
    """Identity of a candidate list: its version plus a hash of every rendered source, so a
    template or tile change never reuses a choice made among different kernels."""
    h = hashlib.sha256()
    for c in cands:
        h.update(c.name.encode() + b"\0" + c.render().encode() + b"\0")
    return f"v{_SET_VERSION[family]}-{h.hexdigest()[:12]}"


def find_candidate(target: Target, request: Request, name: str) -> KernelCandidate:
    """The candidate called `name` among those for `request` (names are looked up, not parsed;
    a pruned candidate is found too: a choice may come from an AIT_ALL_CANDIDATES=1 build)."""
    for c in all_candidates_for(target, request):
        if c.name == name:
            return c
    raise KeyError(f"{name} is not a candidate for {request.describe()} on sm_{target.arch}")
