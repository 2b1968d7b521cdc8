"""Which kernel candidates won, where: the evidence behind ait/tune/prune.py's rules.

Reads benchmark result files (`benchmark_ait.py` JSON: `metadata.kernels` names the kernel
each op ran per batch bucket, the profiler's choice) and prints, per candidate (its name without
the epilogue and accumulator), the problem classes and batch buckets it won, and whether the
rules of tune.prune would still offer it there. Needs no GPU.

    python scripts/candidate_wins.py docs/results/*/ait*.json
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ait.backend.target import Target  # noqa: E402
from ait.compiler.build_graph import build_graph  # noqa: E402
from ait.compiler.compile_model import kernel_requests  # noqa: E402
from ait.tune.candidates import candidates_for  # noqa: E402
from ait.tune.requests import ConvRequest  # noqa: E402
from modeling.build import build_resnet_graph  # noqa: E402


def problem_class(r) -> str:
    if isinstance(r, ConvRequest):
        return f"conv {r.r}x{r.s}/s{r.stride[0]} c{r.c} k{r.k} {r.h}x{r.w}"
    return f"gemm n{r.n} k{r.k}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", help="benchmark_ait.py result JSON files")
    args = ap.parse_args(argv)
    graphs: dict[tuple, dict] = {}
    wins: dict[str, dict[str, set]] = collections.defaultdict(lambda: collections.defaultdict(set))
    pruned: list[str] = []
    for path in args.results:
        meta = json.loads(Path(path).read_text()).get("metadata", {})
        if "kernels" not in meta:
            continue
        arch = 90 if str(meta.get("gpu", {}).get("capability", "9.0")).startswith("9") else 80
        target = Target.for_arch(arch, use_fp16_acc=bool(meta.get("use_fp16_acc")))
        key = (meta.get("model", "resnet50"), tuple(meta["batch_range"]), meta.get("stem"),
               meta.get("image_size", 224))
        if key not in graphs:
            _, y = build_resnet_graph(key[0], key[1], key[3], 1000, stem=key[2])
            g = build_graph(y)
            reqs = kernel_requests(g)
            graphs[key] = {op.name: dict(reqs[op._uid]) for op in g.ops if op._uid in reqs}
        for op, kb in meta["kernels"].items():
            for bucket, name in zip(kb["upper"], kb["names"]):
                r = graphs[key][op][bucket]
                base = re.sub(r"_(bias\w*)_f(16|32)$", "", name)
                wins[base][problem_class(r)].add(bucket)
                if name not in {c.name for c in candidates_for(target, r)}:
                    pruned.append(f"{path}: {op} batch <= {bucket}: {name}")
    for base in sorted(wins):
        total = sum(len(b) for b in wins[base].values())
        print(f"{base}: {total} (class, bucket) wins")
        for cls in sorted(wins[base]):
            print(f"    {cls}  batch buckets {sorted(wins[base][cls])}")
    print(f"\nwinners the pruning rules would no longer offer: {len(pruned)}")
    for line in pruned:
        print("   ", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
