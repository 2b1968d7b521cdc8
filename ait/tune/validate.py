"""Check every candidate on a list of labelled problems and report the winners (GPU needed).

The problems are the caller's: scripts/validate_candidates.py runs ResNet-50's layers
(modeling/resnet50_layers.py),

    python scripts/validate_candidates.py --batches 1 32 256 --out results.jsonl

Builds the profilers (timing the cold build), runs every candidate of every shape x epilogue
x batch with the profiler's own correctness check, and prints the best kernel per problem.
Nothing is read from or written to the profile cache.
"""
from __future__ import annotations

import json
import time
from collections import defaultdict
from types import SimpleNamespace

from ait.backend.target import Target
from ait.tune.build import ProfilerSpec, build_profilers
from ait.tune.candidates import require_candidates
from ait.tune.requests import Request
from ait.tune.runner import run_jobs
from ait.tune.select import shape_jobs

def profile(reqs, specs, profilers, args) -> int:
    """Run every job (one per shape, every batch in one process), printing and saving each
    problem's results as soon as its job finishes."""
    labels = dict((r, label) for label, r in reqs)
    by_profiler = defaultdict(list)
    for _, r in reqs:
        if profilers[specs[r]].names:
            by_profiler[profilers[specs[r]]].append(r)
    jobs = [jr for prof, rs in by_profiler.items() for jr in shape_jobs(prof, rs)]
    failures = 0
    with open(args.out, "w") as out:
        def report(i: int, per_batch: list) -> None:
            nonlocal failures
            for r, res in zip(jobs[i][1], per_batch):
                label = labels[r]
                bad = [x for x in res if x.status not in ("ok", "cannot_implement")]
                failures += len(bad)
                ok = sorted((x.ms, x.name) for x in res if x.status == "ok")
                top = "  ".join(f"{name} {ms:.4f}" for ms, name in ok[:3]) or "NONE"
                print(f"N={r.batch:<4d}{label:27s}{r.epilogue.tag:14s}{len(ok)}/{len(res)} ok  "
                      f"{top}", flush=True)
                for x in bad:
                    print(f"    {x.status}: {x.name} {json.dumps(x.raw)[:600]}", flush=True)
                out.write(json.dumps({"label": label, "request": r.describe(), "results":
                                      [x.raw or {"name": x.name, "status": x.status}
                                       for x in res]}) + "\n")
            out.flush()

        start = time.perf_counter()
        run_jobs([job for job, _ in jobs], on_result=report)
    print(f"{len(reqs)} problems ({len(jobs)} shapes) profiled in "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    return failures


def validate(target: Target, reqs: list[tuple[str, Request]], out: str) -> int:
    """Build the profilers of every (label, request) and run them all; results go to the
    JSON-lines file `out`. Returns the number of candidate failures (compile errors, and any
    status but ok / cannot_implement)."""
    print(f"target: {target}", flush=True)
    specs = {r: ProfilerSpec(r.family, r.epilogue, tuple(require_candidates(target, r)))
             for _, r in reqs}
    start = time.perf_counter()
    profilers = build_profilers(target, list(specs.values()))
    n_kernels = len({c.name for s in specs.values() for c in s.candidates})
    print(f"built {len(set(profilers.values()))} profilers ({n_kernels} kernels) in "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    failures = 0
    for prof in set(profilers.values()):
        for name, err in prof.failed:
            failures += 1
            print(f"COMPILE FAILED {name}:\n{err[-1500:]}", flush=True)

    failures += profile(reqs, specs, profilers, SimpleNamespace(out=out))
    print(f"\n{failures} candidate failures (anything but ok / cannot_implement)")
    return failures
