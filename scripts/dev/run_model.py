"""Run a compiled ResNet's calls and nothing else, for a profiler to watch (ncu, nsys): the
model of --workdir (compiled for batch 1..256 if not there), timm's seeded weights, random
input, --warmup calls then --calls calls at --batch, eager or graph mode, synchronized at the
end. Needs a CUDA GPU; run from the repository root:
    python scripts/dev/run_model.py --workdir tmp/w --batch 1 [--calls 1] [--graph]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def seeded_model(name: str, workdir: str):
    """The compiled `name` of `workdir` (batch 1..256; compiled if not there) with timm's
    seed-0 weights set and folded (what graph_trace.py also times)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from modeling.build import compile_resnet
    from modeling.resnet import create_resnet
    from weight_utils import timm_resnet, timm_to_ait

    model = compile_resnet(name, (1, 256), workdir)
    model.set_many_constants(timm_to_ait(timm_resnet(name, seed=0), create_resnet(name)))
    model.fold_constants()
    return model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="tmp/w")
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3, help="calls before the watched ones")
    ap.add_argument("--calls", type=int, default=1, help="calls to watch")
    ap.add_argument("--graph", action="store_true", help="CUDA graph replay (default: eager)")
    args = ap.parse_args()
    import torch

    model = seeded_model(args.model, args.workdir)
    x = torch.randn(args.batch, 224, 224, 3, device="cuda", dtype=torch.float16)
    tail = tuple(int(d) for d in model.get_output_maximum_shape(0))[1:]
    y = torch.empty((args.batch, *tail), device="cuda", dtype=torch.float16)
    for _ in range(args.warmup + args.calls):
        model.run_with_tensors([x], [y], graph_mode=args.graph)
    torch.cuda.synchronize()
    print(f"{args.warmup} + {args.calls} calls at batch {args.batch} "
          f"({'graph' if args.graph else 'eager'}); output finite: {bool(y.isfinite().all())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
