"""Where a compiled ResNet's graph spends its time: its CUDA-graph replays traced by CUPTI
(torch.profiler), per kernel in graph order its median duration and the median idle gap before
it, against the per-op times that `benchmark_ait.py --profile-ops` measures (each op alone).
Says whether the graph's excess over the per-op sum is gaps between kernels or kernels that run
slower inside the graph than alone.

    PYTHONPATH=. python scripts/dev/graph_trace.py --workdir tmp/w [--batch-size 1,256]
      [--replays 10] [--json OUT.json]
The model is compiled (or loaded from the work dir's cache) for batch 1..256, random weights.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path


def trace(torch, model, x, y, replays: int) -> list[list[tuple[str, float, float]]]:
    """[replay][kernel] = (name, start us, duration us) of `replays` graph replays."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):
        model.run_with_tensors([x], [y], graph_mode=True)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(replays):
            model.run_with_tensors([x], [y], graph_mode=True)
        torch.cuda.synchronize()
    kernels = sorted((e.time_range.start, e.time_range.end - e.time_range.start, e.name)
                     for e in prof.events() if e.device_type.name == "CUDA"
                     and "memcpy" not in e.name.lower() and "memset" not in e.name.lower())
    if not kernels or len(kernels) % replays:
        raise SystemExit(f"{len(kernels)} kernels traced, not a multiple of {replays} replays")
    per = len(kernels) // replays
    return [[(n, s, d) for s, d, n in kernels[i * per:(i + 1) * per]] for i in range(replays)]


def summarize(runs, op_ms: dict[str, float]) -> dict:
    per = len(runs[0])
    rows = []
    for k in range(per):
        durs = [r[k][2] for r in runs]
        gaps = [r[k][1] - (r[k - 1][1] + r[k - 1][2]) for r in runs] if k else [0.0] * len(runs)
        rows.append({"kernel": runs[0][k][0][:90], "us": statistics.median(durs),
                     "gap_us": statistics.median(gaps)})
    spans = [r[-1][1] + r[-1][2] - r[0][1] for r in runs]
    return {"kernels": rows, "kernel_sum_us": sum(r["us"] for r in rows),
            "gap_sum_us": sum(r["gap_us"] for r in rows), "span_us": statistics.median(spans),
            "op_alone_sum_us": 1e3 * sum(op_ms.values())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", default="tmp/w", help="the compile work dir (tmp/w)")
    ap.add_argument("--model", default="resnet50", help="timm ResNet name (resnet50)")
    ap.add_argument("--batch-size", default="1,256", help="comma-separated batch sizes")
    ap.add_argument("--replays", type=int, default=10, help="graph replays traced (10)")
    ap.add_argument("--json", default=None, help="write the summaries here")
    args = ap.parse_args()
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_model import seeded_model

    model = seeded_model(args.model, args.workdir)
    out = {}
    for bs in (int(b) for b in args.batch_size.split(",")):
        x = torch.randn(bs, 224, 224, 3, device="cuda", dtype=torch.float16)
        tail = tuple(int(d) for d in model.get_output_maximum_shape(0))[1:]
        y = torch.empty((bs, *tail), device="cuda", dtype=torch.float16)
        op_ms = dict(model.profile_ops_with_tensors([x], [y], count=20))
        s = summarize(trace(torch, model, x, y, args.replays), op_ms)
        out[bs] = s
        print(f"batch {bs}: {len(s['kernels'])} kernels, span {s['span_us']:.1f} us = kernels "
              f"{s['kernel_sum_us']:.1f} + gaps {s['gap_sum_us']:.1f}; each op alone sums to "
              f"{s['op_alone_sum_us']:.1f} us")
        print("   us   gap  kernel")
        for r in s["kernels"]:
            print(f"{r['us']:6.1f} {r['gap_us']:5.1f}  {r['kernel']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
