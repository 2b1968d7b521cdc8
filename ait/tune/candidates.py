"""Requests -> candidate lists, candidate-set identity, and name -> candidate lookup."""
from __future__ import annotations

import hashlib

from ait.backend.family import tuning
from ait.backend.kernel import Family, KernelCandidate
from ait.backend.target import Target
from ait.tune.prune import prune
from ait.tune.requests import Request


class NoCandidateError(RuntimeError):
    pass


def candidates_for(target: Target, request: Request) -> list[KernelCandidate]:
    """The candidates profiled for `request`: every one that can run it, less those the
    rules of tune.prune show cannot win (all of them with AIT_ALL_CANDIDATES=1)."""
    return prune(target, request, all_candidates_for(target, request))


def all_candidates_for(target: Target, request: Request) -> list[KernelCandidate]:
    """Every candidate able to run `request`, whatever AIT_ALL_CANDIDATES says (its op
    family's `Tuning.candidates`)."""
    tuned = tuning(request.family)
    if not isinstance(request, tuned.request_type):
        raise TypeError(f"not a kernel request: {request!r}")
    return tuned.candidates(target, request)


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
    return f"v{tuning(family).set_version}-{h.hexdigest()[:12]}"


def find_candidate(target: Target, request: Request, name: str) -> KernelCandidate:
    """The candidate called `name` among those for `request` (names are looked up, not parsed;
    a pruned candidate is found too: a choice may come from an AIT_ALL_CANDIDATES=1 build)."""
    for c in all_candidates_for(target, request):
        if c.name == name:
            return c
    raise KeyError(f"{name} is not a candidate for {request.describe()} on sm_{target.arch}")
