#!/usr/bin/env python3
"""Run a ResNet compiled by ait beside PyTorch: classify an image with ait and with timm,
print both top-5 lists and the relative error of the logits; exit 1 if they disagree
beyond fp16 tolerance.

    python infer_with_torch.py                          # resnet50, random weights, synthetic image
    python infer_with_torch.py --image cat.jpg --pretrained
    python infer_with_torch.py --model resnet18 --weights resnet18.npz --batch-size 8
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

REL_ERR_LIMIT = 2e-2  # fp16 storage through ~50 layers: measured errors are a few 1e-3


def parse_args(argv=None):
    from modeling.resnet import SPECS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--model", default="resnet50", choices=sorted(SPECS))
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--pretrained", action="store_true",
                     help="timm's pretrained weights (must be downloadable or cached)")
    src.add_argument("--weights", help="a weights file from weight_utils.py (.npz/.safetensors)")
    ap.add_argument("--seed", type=int, default=0, help="seed for random weights")
    ap.add_argument("--image", help="image file (default: a deterministic synthetic image)")
    ap.add_argument("--batch-size", type=int, default=1, help="images per run (the image repeated)")
    ap.add_argument("--workdir", default="./tmp", help="where compiled models are kept")
    ap.add_argument("--max-batch", type=int, default=None,
                    help="largest batch the compiled model serves (default: --batch-size)")
    ap.add_argument("--use-fp16-acc", action="store_true", help="accumulate in fp16")
    ap.add_argument("--graph-mode", action="store_true", help="run through a CUDA graph")
    args = ap.parse_args(argv)
    if args.batch_size < 1:
        ap.error("--batch-size must be at least 1")
    return args


def top5(logits: np.ndarray) -> list[tuple[int, float]]:
    p = np.exp(logits - logits.max())
    p /= p.sum()
    idx = np.argsort(-p)[:5]
    return [(int(i), float(p[i])) for i in idx]


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import timm
        import torch
    except ImportError as e:
        print(f"error: this script needs torch and timm ({e}); see infer_with_numpy.py",
              file=sys.stderr)
        return 1
    if not torch.cuda.is_available():
        print("error: no CUDA GPU is visible to torch", file=sys.stderr)
        return 1
    from ait import AitError
    from modeling.build import compile_resnet
    from modeling.images import preprocess_for
    from modeling.resnet import create_resnet
    from weight_utils import load_weights, randomize_bn, timm_to_ait

    try:
        torch.manual_seed(args.seed)
        tm = timm.create_model(args.model, pretrained=args.pretrained).eval()
        if args.weights:
            params = load_weights(args.weights, create_resnet(args.model))
            _load_into_timm(tm, params, create_resnet(args.model))  # both run the same weights
        elif not args.pretrained:
            randomize_bn(tm, args.seed)
        params = timm_to_ait(tm, create_resnet(args.model))
        hi = max(args.max_batch or args.batch_size, args.batch_size)
        t0 = time.perf_counter()
        model = compile_resnet(args.model, (1, hi), args.workdir, args.use_fp16_acc)
        print(f"model ready in {time.perf_counter() - t0:.1f} s ({model.lib_path})")
        model.set_many_constants(params)
        model.fold_constants()

        img = preprocess_for(args.image, tm.pretrained_cfg)
        batch = np.repeat(img[None], args.batch_size, axis=0)  # NHWC
        x = torch.from_numpy(batch).cuda().half().contiguous()
        y = torch.empty((args.batch_size, model.get_output_maximum_shape(0)[1]),
                        dtype=torch.float16, device="cuda")
        model.run_with_tensors([x], [y], graph_mode=args.graph_mode)
        ours = y.float().cpu().numpy()
        with torch.no_grad():
            ref = tm.cuda().half()(x.permute(0, 3, 1, 2)).float().cpu().numpy()
    except AitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    rel = float(np.linalg.norm(ours - ref) / np.linalg.norm(ref))
    agree = bool((ours.argmax(1) == ref.argmax(1)).all())
    print(f"{'rank':>4}  {'ait class':>9} {'prob':>7}   {'timm class':>10} {'prob':>7}")
    for r, ((ca, pa), (ct, pt)) in enumerate(zip(top5(ours[0]), top5(ref[0]))):
        print(f"{r + 1:>4}  {ca:>9} {pa:>7.4f}   {ct:>10} {pt:>7.4f}")
    print(f"relative error of the logits (ait fp16 vs timm fp16, batch {args.batch_size}): "
          f"{rel:.2e}; top-1 agrees on every image: {agree}")
    model.close()
    if rel > REL_ERR_LIMIT or not agree:
        print(f"error: ait and timm disagree (limit {REL_ERR_LIMIT:g})", file=sys.stderr)
        return 1
    return 0


def _load_into_timm(tm, params, ait_model) -> None:
    """Put folded ait weights into timm: convs take them, BNs become the identity. Weights
    the ait model stores transformed (the stem) are restored to the framework's layout."""
    import torch

    restore = {(n + ".weight").replace(".", "_"): m.restore_weight
               for n, m in ait_model.named_modules() if hasattr(m, "restore_weight")}
    modules = dict(tm.named_modules())
    with torch.no_grad():
        for name, mod in modules.items():
            key = name.replace(".", "_")
            if isinstance(mod, torch.nn.Conv2d):
                w = params[key + "_weight"].astype(np.float32)
                w = restore[key + "_weight"](w) if key + "_weight" in restore else w
                w = torch.from_numpy(np.ascontiguousarray(w)).permute(0, 3, 1, 2)
                mod.weight.copy_(w)
                mod.bias = torch.nn.Parameter(torch.from_numpy(
                    params[key + "_bias"].astype(np.float32)))
            elif isinstance(mod, torch.nn.BatchNorm2d):
                mod.reset_parameters()
                mod.reset_running_stats()
                mod.eps = 0.0
            elif isinstance(mod, torch.nn.Linear):
                mod.weight.copy_(torch.from_numpy(params[key + "_weight"].astype(np.float32)))
                mod.bias.copy_(torch.from_numpy(params[key + "_bias"].astype(np.float32)))


if __name__ == "__main__":
    sys.exit(main())
