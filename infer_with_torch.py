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
REL_ERR_LIMIT_FP32 = 1e-4  # both in fp32 on the CPU: measured errors are about 1e-6


def parse_args(argv=None):
    from ait import cli
    from modeling.resnet import SPECS, batch_problem

    ap = cli.ArgumentParser(description=__doc__.split("\n\n")[0],
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--model", default="resnet50", choices=sorted(SPECS))
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--pretrained", action="store_true",
                     help="timm's pretrained weights (must be downloadable or cached)")
    src.add_argument("--weights", help="a weights file from weight_utils.py (.npz/.safetensors)")
    ap.add_argument("--seed", type=int, default=0, help="seed for random weights")
    ap.add_argument("--image", help="image file (default: a deterministic synthetic image)")
    ap.add_argument("--batch-size", type=int, default=1,
                    help="images per run, the image repeated (at most 2674: "
                         "modeling.resnet.max_batch)")
    ap.add_argument("--workdir", type=cli.workdir, default="./tmp",
                    help="where compiled models are kept (default: ./tmp; its parent must exist)")
    ap.add_argument("--max-batch", type=cli.positive_int, default=None,
                    help="largest batch the compiled model serves (default: --batch-size)")
    ap.add_argument("--use-fp16-acc", action="store_true", help="accumulate in fp16")
    ap.add_argument("--graph-mode", action="store_true", help="run through a CUDA graph")
    ap.add_argument("--cpu-reference", action="store_true",
                    help="no GPU needed: run ait's graph on the numpy reference executor (fp32) "
                         "and compare it with timm in fp32 on the CPU")
    args = ap.parse_args(argv)
    if args.batch_size < 1:
        ap.error("--batch-size must be at least 1")
    if args.max_batch is not None and args.max_batch < args.batch_size:
        ap.error(f"--max-batch {args.max_batch} is smaller than --batch-size {args.batch_size}")
    for flag, n in (("--batch-size", args.batch_size), ("--max-batch", args.max_batch or 0)):
        if (why := batch_problem(flag, n)) is not None:  # before the batch is allocated
            ap.error(why)
    return args


def top5(logits: np.ndarray) -> list[tuple[int, float]]:
    p = np.exp(logits - logits.max())
    p /= p.sum()
    idx = np.argsort(-p)[:5]
    return [(int(i), float(p[i])) for i in idx]


def report(ours: np.ndarray, ref: np.ndarray, what: str, limit: float) -> int:
    """Print both top-5 lists and the relative error of the logits; 1 if they disagree."""
    from modeling.logits import nonfinite_report

    for who, logits in (("ait", ours), ("timm", ref)):
        if (bad := nonfinite_report(logits)) is not None:
            print(f"error: {who}: {bad}", file=sys.stderr)
            return 1
    rel = float(np.linalg.norm(ours - ref) / np.linalg.norm(ref))
    agree = bool((ours.argmax(1) == ref.argmax(1)).all())
    print(f"{'rank':>4}  {'ait class':>9} {'prob':>7}   {'timm class':>10} {'prob':>7}")
    for r, ((ca, pa), (ct, pt)) in enumerate(zip(top5(ours[0]), top5(ref[0]))):
        print(f"{r + 1:>4}  {ca:>9} {pa:>7.4f}   {ct:>10} {pt:>7.4f}")
    print(f"relative error of the logits ({what}, batch {len(ours)}): {rel:.2e} "
          f"(limit {limit:g}); top-1 agrees on every image: {agree}")
    if not rel <= limit or not agree:
        print(f"error: ait and timm disagree (limit {limit:g})", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import timm  # noqa: F401 - weight_utils.timm_resnet needs it
        import torch
    except ImportError as e:
        print(f"error: this script needs torch and timm ({e}); see infer_with_numpy.py",
              file=sys.stderr)
        return 1
    from ait import AitError, fs
    from modeling.build import compile_resnet
    from modeling.images import preprocess_for
    from modeling.resnet import create_resnet
    from weight_utils import load_weights, timm_resnet, timm_to_ait

    try:
        # the inputs first (weights, image, work dir), then the GPU: on any machine a bad
        # file is reported as such
        tm = timm_resnet(args.model, pretrained=args.pretrained, seed=args.seed)
        if args.weights:
            params = load_weights(args.weights, create_resnet(args.model))
            _load_into_timm(tm, params, create_resnet(args.model))  # both run the same weights
        img = preprocess_for(args.image, tm.pretrained_cfg)
        batch = np.repeat(img[None], args.batch_size, axis=0)  # NHWC
        if args.cpu_reference:
            return _compare_on_cpu(args, tm, batch)
        # checked, not made: a run that stops at the GPU check leaves no work dir behind
        fs.require_writable_dir(args.workdir, f"--workdir {args.workdir}", create=False)
        if not torch.cuda.is_available():
            raise AitError("no CUDA GPU is visible to torch (the weights, image and work dir "
                           "are fine); without a GPU, --cpu-reference compares ait's graph on "
                           "the numpy reference executor with timm")
        params = timm_to_ait(tm, create_resnet(args.model))
        hi = max(args.max_batch or args.batch_size, args.batch_size)
        t0 = time.perf_counter()
        model = compile_resnet(args.model, (1, hi), args.workdir, args.use_fp16_acc)
        print(f"model ready in {time.perf_counter() - t0:.1f} s ({model.lib_path})")
        model.set_many_constants(params)
        model.fold_constants()

        x = torch.from_numpy(batch).cuda().half().contiguous()
        y = torch.empty((args.batch_size, model.get_output_maximum_shape(0)[1]),
                        dtype=torch.float16, device="cuda")
        model.run_with_tensors([x], [y], graph_mode=args.graph_mode)
        ours = y.float().cpu().numpy()
        with torch.no_grad():
            ref = tm.cuda().half()(x.permute(0, 3, 1, 2)).float().cpu().numpy()
    except AitError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1

    rc = report(ours, ref, "ait fp16 vs timm fp16", REL_ERR_LIMIT)
    model.close()
    return rc


def _compare_on_cpu(args, tm, batch: np.ndarray) -> int:
    """ait's graph for the model on the numpy reference executor vs timm, both fp32."""
    import torch

    import ait
    from modeling.resnet import build_resnet_graph
    from weight_utils import timm_to_ait

    print(f"no GPU needed: {args.model}, ait's graph on the numpy reference executor (fp32) "
          f"vs timm (fp32), batch {args.batch_size}", flush=True)
    model, y = build_resnet_graph(args.model, batch_size=args.batch_size, dtype="float32")
    params = timm_to_ait(tm, model, dtype="float32")
    t0 = time.perf_counter()
    ours = ait.run_reference(y, {"input0": batch}, params)["output0"]
    t1 = time.perf_counter()
    with torch.no_grad():
        ref = tm.float()(torch.from_numpy(batch).permute(0, 3, 1, 2)).numpy()
    print(f"reference executor {t1 - t0:.1f} s, timm {time.perf_counter() - t1:.1f} s")
    return report(ours, ref, "ait reference fp32 vs timm fp32", REL_ERR_LIMIT_FP32)


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
    from ait import cli

    sys.exit(cli.run(main, "infer_with_torch.py"))
