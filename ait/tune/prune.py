"""Candidates that cannot win, left out before anything is compiled or profiled.

The rules live with their op family (ait/ops/<family>/prune.py, in the family's
`Tuning.prune_rules`); a request is pruned by its own family's rules. Each rule names the
architecture it holds for, the problems it applies to (by class: the filter geometry, channel
counts, the GEMM's M) and the H200 evidence it rests on; a rule drops
a candidate only where another candidate in the same list does the same work no worse (a
dominating tile) or where the measured winners of every ResNet-18/50 run never included it.
Nothing here looks at a particular model's shapes. The evidence tables, with how they were
measured, are in docs/compile_time.md (`python scripts/candidate_wins.py` re-derives them from
the benchmark result files, whose `metadata.kernels` name the kernel chosen per op and batch
bucket).

`AIT_ALL_CANDIDATES=1` turns every rule off. The profile cache keys a choice by a hash of the
exact candidate list (tune.candidates.candidate_set_id), so choices made among the pruned and
the full lists never stand in for each other, except in the one direction that is sound: a
full-list winner that is also in the pruned list is the pruned list's winner too (select.py).

The first candidate of a list (what AIT_FIXED_KERNEL=first and profile=False take) is never
dropped.
"""
from __future__ import annotations

from collections.abc import Sequence

from ait.backend.family import PruneRule as Rule
from ait.backend.family import tuned_families, tuning
from ait.backend.kernel import KernelCandidate
from ait.backend.target import Target
from ait.ir.env import env_flag
from ait.tune.requests import Request

ALL_CANDIDATES_ENV = "AIT_ALL_CANDIDATES"


def rules() -> tuple[Rule, ...]:
    """Every registered family's rules (ait/ops/<family>/prune.py), in registration order."""
    return tuple(rule for fam in tuned_families() for rule in fam.tuning.prune_rules)


def all_candidates() -> bool:
    return env_flag(ALL_CANDIDATES_ENV)


def dropped_by(target: Target, request: Request, cands: Sequence[KernelCandidate]
               ) -> dict[str, str]:
    """{candidate name: rule name} for the candidates the rules leave out (the first never)."""
    out: dict[str, str] = {}
    for i, c in enumerate(cands):
        if i == 0:
            continue
        for rule in tuning(request.family).prune_rules:
            if rule.arch == target.arch and rule.drops(request, c, cands):
                out[c.name] = rule.name
                break
    return out


def prune(target: Target, request: Request, cands: Sequence[KernelCandidate]
          ) -> list[KernelCandidate]:
    """`cands` without those that cannot win (all of them with AIT_ALL_CANDIDATES=1)."""
    if all_candidates():
        return list(cands)
    drop = dropped_by(target, request, cands)
    return [c for c in cands if c.name not in drop]
