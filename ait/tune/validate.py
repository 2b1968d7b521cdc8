"""Check every candidate on ResNet-50 layer shapes and report the winners (GPU needed).

    python -m ait.tune.validate --batches 1 32 256 --out results.jsonl

Builds the profilers (timing the cold build), runs every candidate of every shape x epilogue
x batch with the profiler's own correctness check, and prints the best kernel per problem.
Nothing is read from or written to the profile cache.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import defaultdict

from ait.backend.target import detect_target
from ait.ops.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU
from ait.tune.build import ProfilerSpec, build_profilers
from ait.tune.candidates import require_candidates
from ait.tune.requests import ConvRequest, GemmRequest
from ait.tune.runner import run_jobs
from ait.tune.select import shape_jobs

EPILOGUES = (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU)

# (label, h, w, c, k, r, stride, pad, few_channels, epilogues) of ResNet-50 layers; the stems
# (space-to-depth: 16 channels, 4x4; padded: 4 or 8 channels, 7x7/2) only ever have bias_relu,
# the downsample convs only bias. The 1x1 stride-1 rows also get
# the persistent-GEMM candidates (conv2d/gemm3x.py): N = 256 / 64 / 1024 output channels.
RESNET50_CONVS = (
    ("56x56 64->64 3x3", 56, 56, 64, 64, 3, 1, 1, False, EPILOGUES),
    ("56x56 64->256 1x1", 56, 56, 64, 256, 1, 1, 0, False, EPILOGUES),
    ("56x56 256->64 1x1", 56, 56, 256, 64, 1, 1, 0, False, EPILOGUES),
    ("14x14 256->1024 1x1", 14, 14, 256, 1024, 1, 1, 0, False, EPILOGUES),
    ("28x28 128->128 3x3", 28, 28, 128, 128, 3, 1, 1, False, EPILOGUES),
    ("56x56 256->512 1x1 s2", 56, 56, 256, 512, 1, 2, 0, False, EPILOGUES),
    ("28x28 512->1024 1x1 s2", 28, 28, 512, 1024, 1, 2, 0, False, (BIAS,)),
    ("14x14 1024->2048 1x1 s2", 14, 14, 1024, 2048, 1, 2, 0, False, (BIAS,)),
    ("s2d stem 115x115 16->64 4x4", 115, 115, 16, 64, 4, 1, 0, False, (BIAS_RELU,)),
    ("stem 224x224 4->64 7x7 s2", 224, 224, 4, 64, 7, 2, 3, True, (BIAS_RELU,)),
    ("stem 224x224 8->64 7x7 s2", 224, 224, 8, 64, 7, 2, 3, True, (BIAS_RELU,)),
    ("7x7 512->512 3x3", 7, 7, 512, 512, 3, 1, 1, False, EPILOGUES),
)


def resnet50_requests(batches):
    out = []
    for n in batches:
        for label, h, w, c, k, r, stride, pad, few, epilogues in RESNET50_CONVS:
            for ep in epilogues:
                out.append((label, ConvRequest(ep, n, h, w, c, k, r, r, (pad, pad),
                                               (stride, stride), (1, 1), few)))
        for ep in (BIAS, BIAS_RELU):
            out.append(("fc 2048->1000", GemmRequest(ep, n, 1000, 2048)))
    return out


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256])
    ap.add_argument("--fp16-acc", action="store_true")
    ap.add_argument("--out", default="validate.jsonl")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    target = detect_target(use_fp16_acc=args.fp16_acc)
    print(f"target: {target}", flush=True)
    reqs = resnet50_requests(args.batches)
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

    failures += profile(reqs, specs, profilers, args)
    print(f"\n{failures} candidate failures (anything but ok / cannot_implement)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
