"""Time the ResNet stem alone (7x7/2 conv + bias + ReLU + 3x3/2 max pool on 224x224 RGB),
fused (one stem_conv_pool kernel) against unfused (AIT_FUSE_STEM=0: space_to_depth kernel +
CUTLASS 4x4 conv + pool kernel): median ms per call for each batch, and the fused kernel's
TFLOP/s on the real 7x7x3 conv. Needs a CUDA GPU; run from the repository root:
    python scripts/dev/bench_stem.py [--batches 1 32 256] [--size 224] [--workdir tmp/bench_stem]"""
import argparse
import os
import sys

sys.path.insert(0, ".")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256])
    ap.add_argument("--size", type=int, default=224, help="image height and width")
    ap.add_argument("--workdir", default="tmp/bench_stem")
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
    for fuse in ("1", "0"):
        os.environ["AIT_FUSE_STEM"] = fuse
        m, y = build_stem(args.size, args.size, (1, hi))
        kinds = [op.kind for op in ait.build_graph(y).ops]
        name = f"stem_{'fused' if fuse == '1' else 'unfused'}_{args.size}"
        model = ait.compile_model(y, target, args.workdir, name, profile=not args.no_profile,
                                  verbose=False)
        model.set_many_constants({k: v.astype(np.float16) for k, v in stem_params(m).items()})
        model.fold_constants()
        models[fuse] = (model, kinds, y.shape())
    os.environ.pop("AIT_FUSE_STEM")
    print(f"stem {args.size}x{args.size}x3 -> 7x7/2 conv 64 + bias + relu -> maxpool 3/2; "
          f"fused: {models['1'][1]}, unfused: {models['0'][1]}")
    print(f"{'batch':>6} {'fused ms':>10} {'unfused ms':>11} {'speedup':>8} {'fused TFLOP/s':>14}")
    for n in args.batches:
        x = torch.randn(n, args.size, args.size, 3, device="cuda").half()
        ms = {}
        outs = {}
        for fuse, (model, _, shape) in models.items():
            out = torch.empty([n] + [d.value for d in shape[1:]], dtype=torch.float16,
                              device="cuda")
            ms[fuse] = time_cuda(lambda: model.run_with_tensors([x], [out], sync=False)).median_ms
            outs[fuse] = out
        diff = (outs["1"].float() - outs["0"].float()).abs().max().item()
        p = (args.size + 7) // 2 - 3
        flops = 2 * n * p * p * 64 * 49 * 3
        print(f"{n:>6} {ms['1']:>10.4f} {ms['0']:>11.4f} {ms['0'] / ms['1']:>7.2f}x "
              f"{flops / ms['1'] / 1e9:>14.1f}   (max |fused - unfused| {diff:.3g})")


if __name__ == "__main__":
    main()
