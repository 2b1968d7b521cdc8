#!/usr/bin/env python3
"""Run a ResNet compiled by ait with no PyTorch at all: weights from a file written by
weight_utils.py, input from an image or a .npy batch, output the top-5 classes.

    python weight_utils.py --model resnet50 --out resnet50.npz     # once (this step uses timm)
    python infer_with_numpy.py --weights resnet50.npz               # synthetic image
    python infer_with_numpy.py --weights resnet50.npz --input batch.npy   # [N, 224, 224, 3]
    python infer_with_numpy.py --weights resnet50.npz --image cat.jpg     # needs Pillow

Compiling (when the .so is not in the work dir yet) needs no torch either.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def parse_args(argv=None):
    from ait import cli
    from modeling.resnet import SPECS, batch_problem

    ap = cli.ArgumentParser(description=__doc__.split("\n\n")[0],
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--weights", required=True, help="weights file (.npz or .safetensors)")
    ap.add_argument("--model", default="resnet50", choices=sorted(SPECS))
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--input", help=".npy array [N, 224, 224, 3] (NHWC, already normalised) "
                                     "or [224, 224, 3]")
    src.add_argument("--image", help="an image file (resized, center-cropped, normalised)")
    ap.add_argument("--workdir", type=cli.workdir, default="./tmp",
                    help="where compiled models are kept (default: ./tmp; its parent must exist)")
    ap.add_argument("--max-batch", type=cli.positive_int, default=None,
                    help="largest batch the compiled model serves (default: the input's batch)")
    ap.add_argument("--use-fp16-acc", action="store_true", help="accumulate in fp16")
    ap.add_argument("--top", type=cli.positive_int, default=5, help="how many classes to print")
    ap.add_argument("--save", help="write the logits to this .npy file")
    args = ap.parse_args(argv)
    if args.max_batch is not None and (why := batch_problem("--max-batch", args.max_batch)):
        ap.error(why)
    return args


def load_batch(args) -> np.ndarray:
    """The input batch, NHWC float32, checked: a real-float array (an integer, boolean or
    complex file is an error, float64 is rounded with a warning), every value finite and
    within float16's range (the model's input dtype)."""
    from ait import AitError, fs
    from ait.ir.values import checked_array
    from modeling.resnet import batch_problem

    if args.input:
        path = Path(args.input)
        if (why := fs.not_a_file(path)) is not None:
            raise AitError(f"--input {path}: {why}")
        head = fs.read_head(path)
        if fs.array_format(head) != "npy":  # numpy would call it "pickled data"
            raise AitError(f"--input {path} " + fs.not_this_format(
                head, "one .npy array [N, 224, 224, 3] (np.save)"))
        try:
            x = np.load(path, allow_pickle=False, mmap_mode="r")  # read once checked
        except (ValueError, OSError, EOFError) as e:
            raise AitError(f"--input {path}: not a readable .npy array ({e})") from None
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[1:] != (224, 224, 3) or x.shape[0] < 1:
            raise AitError(f"{args.input}: expected [N, 224, 224, 3] NHWC, got {x.shape}")
        if (why := batch_problem(f"--input {path}: a batch of", x.shape[0])) is not None:
            raise AitError(why)
        checked_array(x, f"--input {path}", "float16", finite=True)
        if x.dtype.itemsize > 4:
            print(f"warning: --input {path} is {x.dtype}; rounded to float16 for the model",
                  file=sys.stderr)
        return np.array(x, dtype=np.float32)  # read from the map, and a plain array
    from modeling.images import preprocess

    return preprocess(args.image)[None]


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    from ait import AitError, fs
    from ait.backend.target import TargetError, gpu_compute_capabilities
    from modeling.build import compile_resnet
    from modeling.logits import nonfinite_report
    from modeling.resnet import create_resnet
    from weight_utils import load_weights

    try:
        # every input first, then the machine: a bad file is reported as such anywhere
        x = load_batch(args)
        n = x.shape[0]
        if args.max_batch is not None and args.max_batch < n:
            raise AitError(f"--max-batch {args.max_batch} is smaller than the input's batch {n}")
        params = load_weights(args.weights, create_resnet(args.model))
        if args.save:
            save = Path(args.save)
            if save.suffix != ".npy":
                raise AitError(f"--save {save}: expected a name ending in .npy")
            if not save.parent.is_dir():
                raise AitError(f"--save {save}: directory {save.parent} does not exist")
            fs.require_writable_dir(save.parent, f"--save {save}")
        # checked, not made: a run that stops here (no GPU) leaves no work dir behind
        fs.require_writable_dir(args.workdir, f"--workdir {args.workdir}", create=False)
        try:
            gpu_compute_capabilities()
        except TargetError as e:
            raise AitError(f"{e} (infer_with_numpy.py runs the model, so it needs a GPU; "
                           "inputs and weights were checked and are fine)") from None
        hi = max(args.max_batch or n, n)
        t0 = time.perf_counter()
        model = compile_resnet(args.model, (1, hi), args.workdir, args.use_fp16_acc)
        print(f"model ready in {time.perf_counter() - t0:.1f} s ({model.lib_path})")
        with model:
            model.set_many_constants(params)
            model.fold_constants()
            xin = model.numpy_to_ait_data(x)
            out = model.allocate_ait_data(model.output_shapes_for([x.shape])[0])
            t0 = time.perf_counter()
            model.run([xin], [out])
            ms = (time.perf_counter() - t0) * 1e3
            logits = model.ait_data_to_numpy(out).astype(np.float32)
            model.free_ait_data(xin)
            model.free_ait_data(out)
    except (AitError, ValueError, OSError) as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
    if (bad := nonfinite_report(logits)) is not None:
        print(f"error: {bad}", file=sys.stderr)
        return 1
    probs = softmax(logits)
    for i in range(n):
        order = np.argsort(-probs[i])[: args.top]
        print(f"image {i}: " + ", ".join(f"class {c} ({probs[i, c]:.4f})" for c in order))
    print(f"ran batch {n} in {ms:.2f} ms (first run, includes launch setup)")
    if args.save:
        import io

        buf = io.BytesIO()
        np.save(buf, logits)
        fs.write_atomic(Path(args.save), buf.getvalue())
        print(f"wrote {Path(args.save)}")
    if "torch" in sys.modules:  # a promise of this script: keep it checked
        print("warning: torch was imported", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from ait import cli

    sys.exit(cli.run(main, "infer_with_numpy.py"))
