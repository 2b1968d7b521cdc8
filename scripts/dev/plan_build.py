"""What a cold ResNet compile builds for its profilers, without nvcc or a GPU.

    PYTHONPATH=. python scripts/dev/plan_build.py [--model resnet50] [--batch 1 256]
        [--jobs 15] [--write DIR] [--all]

Renders the requests, candidate lists (tune.candidates.candidates_for; --all: the full lists),
profiler specs (select.stage_specs, in select.profile_requests' order) and translation units
(build.translation_units with the 16-core host's `jobs`, as build_profilers groups them) and
prints each object with its compile_cost; --write DIR writes every object's source there
(for timing with scripts/dev/nvcc_phases.py). The CPU-second estimate uses the measured
costs of docs/compile_time.md (one Hopper unit ~27 s + ~1.5 s per further kernel, etc.).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ait.backend.target import Target  # noqa: E402
from ait.compiler import build_graph  # noqa: E402
from ait.compiler.compile_model import kernel_requests  # noqa: E402
from ait.tune import build as build_mod  # noqa: E402
from ait.tune import select as select_mod  # noqa: E402
from ait.tune.candidates import all_candidates_for, candidates_for  # noqa: E402
from modeling.resnet import build_resnet_graph  # noqa: E402

# CPU seconds on the 2-core dev machine (docs/compile_time.md, "Inside nvcc, step by step")
# and of this change's measurements: a further tile in a Hopper unit ~+10 s, a further
# epilogue of one tile ~+1.5 s.
CPU_S = {"heavy": 27.0, "heavy_extra": 1.5, "heavy_tile": 10.0, "light": 4.5,
         "light_extra": 0.4, "gemv": 0.7, "main": 1.8}


def estimate(unit, by_name) -> float:
    n = len(unit.members)
    if unit.source.cost >= build_mod.HEAVY_COST:
        tiles = len({build_mod.group_key(by_name[m]) for m in unit.members})
        return (CPU_S["heavy"] + CPU_S["heavy_tile"] * (tiles - 1)
                + CPU_S["heavy_extra"] * (n - tiles))
    if unit.source.cost < 0.5:
        return CPU_S["gemv"] * n
    return CPU_S["light"] + CPU_S["light_extra"] * (n - 1)


def plan(model: str, batch: tuple[int, int], jobs: int, full: bool):
    target = Target.for_arch(90)
    _, y = build_resnet_graph(model, batch)
    reqs = kernel_requests(build_graph(y))
    requests = list(dict.fromkeys(r for rs in reqs.values() for _, r in rs))
    pick = all_candidates_for if full else candidates_for
    cands = {r: pick(target, r) for r in requests}
    by_spec = defaultdict(list)
    for r in requests:
        for spec in select_mod.stage_specs(r, cands[r]):
            by_spec[spec].append(r)
    order = sorted(by_spec, key=lambda s: (select_mod._heavy(s), -len(by_spec[s])))
    units = build_mod.translation_units(
        [c for spec in order for c in sorted(spec.candidates, key=lambda c: -c.compile_cost)],
        workers=build_mod.hopper_units(jobs))
    pairs = sum(len(cands[r]) for r in requests)
    by_name = {c.name: c for r in requests for c in cands[r]}
    return target, requests, order, units, pairs, by_name


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--batch", type=int, nargs=2, default=(1, 256))
    ap.add_argument("--jobs", type=int, default=15)
    ap.add_argument("--all", action="store_true", help="the full candidate lists")
    ap.add_argument("--write", type=Path)
    a = ap.parse_args()
    if a.all:
        os.environ["AIT_ALL_CANDIDATES"] = "1"
    target, requests, specs, units, pairs, by_name = plan(a.model, tuple(a.batch), a.jobs, a.all)
    total = 0.0
    for u in sorted(units, key=lambda u: -u.source.cost):
        est = estimate(u, by_name)
        total += est
        print(f"unit cost {u.source.cost:5.2f} ~{est:5.1f} CPU s  {len(u.members)} kernel(s): "
              f"{', '.join(u.members)}")
    mains = [s.main_source(target) for s in specs]
    total += CPU_S["main"] * len(mains)
    heavy = sum(u.source.cost >= build_mod.HEAVY_COST for u in units)
    kernels = sum(len(u.members) for u in units)
    print(f"{len(requests)} requests, {pairs} (request, candidate) pairs; {len(specs)} profilers; "
          f"{len(units) + len(mains)} objects: {len(units)} units ({heavy} Hopper) holding "
          f"{kernels} kernels + {len(mains)} mains; ~{total:.0f} CPU s (2-core dev machine)")
    if a.write:
        a.write.mkdir(parents=True, exist_ok=True)
        for s in [u.source for u in units] + mains:
            (a.write / f"{s.name}.cu").write_text(s.text)


if __name__ == "__main__":
    main()
