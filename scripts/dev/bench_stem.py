"""Time the ResNet stem alone (7x7/2 conv + bias + ReLU + 3x3/2 max pool on 224x224 RGB) in
three builds: fused with the row kernel (stem_rows.cu, the default on sm_90a), fused with
stem.cu's tile kernel (AIT_STEM_ROWS=0), and unfused (AIT_FUSE_STEM=0: space_to_depth kernel +
CUTLASS 4x4 conv + pool kernel): median ms per call for each batch, each build's TFLOP/s on the
real 7x7x3 conv, and the largest difference of each fused output from the unfused one. Needs
a CUDA GPU; run from the repository root:
    python scripts/dev/bench_stem.py [--batches 1 32 256] [--size 224] [--workdir tmp/bench_stem]"""
import argparse
import os
import sys

sys.path.insert(0, ".")

# build label -> (AIT_FUSE_STEM, AIT_STEM_ROWS)
BUILDS = {"rows": ("1", "1"), "tile": ("1", "0"), "unfused": ("0", "1")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256])
    ap.add_argument("--size", type=int, default=224, help="image height and width")
    ap.add_argument("--workdir", default="tmp/bench_stem")
    ap.add_argument("--builds", nargs="+", default=list(BUILDS), choices=list(BUILDS))
    ap.add_argument("--no-profile", action="store_true",
                    help="unfused: take the first conv candidate instead of tuning")
    args = ap.parse_args()

    import numpy as np
    import torch

    import ait
    from bench_utils import time_cuda
    from tests.stem_util import build_stem, stem_params

    target = ait.detect_target()
    hi = max(args.batches)
    models = {}
    for label in args.builds:
        fuse, rows = BUILDS[label]
        os.environ["AIT_FUSE_STEM"], os.environ["AIT_STEM_ROWS"] = fuse, rows
        m, y = build_stem(args.size, args.size, (1, hi))
        kinds = [op.kind for op in ait.build_graph(y).ops]
        model = ait.compile_model(y, target, args.workdir, f"stem_{label}_{args.size}",
                                  profile=not args.no_profile, verbose=False)
        model.set_many_constants({k: v.astype(np.float16) for k, v in stem_params(m).items()})
        model.fold_constants()
        models[label] = (model, kinds, y.shape())
    os.environ.pop("AIT_FUSE_STEM")
    os.environ.pop("AIT_STEM_ROWS")
    print(f"stem {args.size}x{args.size}x3 -> 7x7/2 conv 64 + bias + relu -> maxpool 3/2; "
          + "; ".join(f"{k}: {v[1]}" for k, v in models.items()))
    print(f"{'batch':>6} " + " ".join(f"{k + ' ms':>11}" for k in models)
          + " " + " ".join(f"{k + ' TF/s':>11}" for k in models))
    for n in args.batches:
        x = torch.randn(n, args.size, args.size, 3, device="cuda").half()
        ms, outs = {}, {}
        for label, (model, _, shape) in models.items():
            out = torch.empty([n] + [d.value for d in shape[1:]], dtype=torch.float16,
                              device="cuda")
            ms[label] = time_cuda(lambda: model.run_with_tensors([x], [out], sync=False)).median_ms
            outs[label] = out
        p = (args.size + 7) // 2 - 3
        flops = 2 * n * p * p * 64 * 49 * 3
        base = outs.get("unfused")
        diffs = "" if base is None else "   max |x - unfused| " + ", ".join(
            f"{k} {(o.float() - base.float()).abs().max().item():.3g}"
            for k, o in outs.items() if k != "unfused")
        print(f"{n:>6} " + " ".join(f"{ms[k]:>11.4f}" for k in models) + " "
              + " ".join(f"{flops / ms[k] / 1e9:>11.1f}" for k in models) + diffs)


if __name__ == "__main__":
    main()
