"""Benchmark ait's compiled ResNet (fp16, NHWC 224x224 input) per batch size.

One compilation covers the whole sweep: compile_resnet builds a single .so with a dynamic batch
dimension (default range 1..max(256, largest requested batch), so that single-batch runs reuse
the sweep's build) and caches it in --workdir. Each batch size is then timed by the runtime's
own benchmark_with_tensors (median of `repeat` runs of `count` launches, CUDA graph by default),
after one warm-up call, as upstream's benchmark_ait.py does.

compile_resnet returns the model without constants: the weights are bound from a timm model
(random init, BatchNorm statistics randomised so the folding is not the identity; --pretrained
or --weights FILE instead), folded by weight_utils.timm_to_ait as upstream's weight mapping.
Each batch size's output is then compared with that timm model in fp16 eager (--no-check skips
it), so that what is timed is a model that computes the right thing.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import traceback
from pathlib import Path

import bench_utils as bu
from modeling.resnet import SPECS


def _batch_range(text: str) -> tuple[int, int]:
    parts = text.split(",")
    try:
        lo, hi = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI (e.g. 1,256), got {text!r}") from None
    if not 1 <= lo <= hi:
        raise argparse.ArgumentTypeError(f"need 1 <= LO <= HI, got {text!r}")
    return lo, hi


def build_parser() -> argparse.ArgumentParser:
    parser = bu.ArgumentParser(
        prog="benchmark_ait.py",
        description="Compile ResNet with ait once (dynamic batch) and benchmark it per batch "
        "size: median latency and QPS, CUDA graph mode by default.",
        epilog="Results: <results-dir>/<out-name>.json and .csv. Needs a CUDA GPU.",
    )
    bu.add_common_args(parser, default_stem="ait", models=sorted(SPECS))
    parser.add_argument(
        "--use-fp16-acc", type=bu.parse_bool, nargs="?", const=True, default=False,
        metavar="BOOL",
        help="accumulate in fp16 (as TensorRT / upstream's default); `--use-fp16-acc` alone "
        "means true (default: false, fp32 accumulation)",
    )
    parser.add_argument("--no-graph", dest="use_graph", action="store_false",
                        help="time plain launches instead of CUDA graph replays")
    parser.add_argument("--use-graph", dest="use_graph", type=bu.parse_bool, metavar="BOOL",
                        default=True, help="upstream's spelling of the same switch")
    parser.add_argument(
        "--batch-range", type=_batch_range, default=None, metavar="LO,HI",
        help="dynamic batch range compiled into the .so (default: 1,max(256, largest "
        "--batch-size))",
    )
    parser.add_argument("--workdir", type=bu.workdir, default=Path("tmp"),
                        help="compiler work dir and cache (default: ./tmp; its parent must exist)")
    parser.add_argument("--num-classes", type=bu.positive_int, default=1000,
                        help="classifier outputs (default: 1000)")
    parser.add_argument("--stem", choices=("space_to_depth", "padded"), default="space_to_depth",
                        help="ResNet stem: space-to-depth + 4x4 conv (default), or the 7x7/2 "
                             "conv over RGB padded to 8 channels")
    parser.add_argument("--profile-ops", action="store_true",
                        help="also time every op alone (its launches repeated in a CUDA "
                             "graph) at each batch size and record where the time goes (op_ms "
                             "in the results)")
    parser.add_argument("--all-ops", action="store_true",
                        help="with --profile-ops, print every op (default: the 12 slowest)")
    parser.add_argument("--peak-tflops", type=float, default=None, metavar="T",
                        help="with --profile-ops: the fp16 peak of the roofline in TFLOP/s "
                        "(default: measured by a short probe)")
    parser.add_argument("--peak-tbps", type=float, default=None, metavar="B",
                        help="with --profile-ops: the memory bandwidth of the roofline in TB/s "
                        "(default: measured by a short probe)")
    parser.add_argument("--compile-only", action="store_true",
                        help="compile (or find in the cache) and exit without benchmarking")
    parser.add_argument("--threads", type=bu.nonneg_int, default=0, metavar="T",
                        help="also measure aggregate images/s of T threads, each on its own "
                        "CUDA stream, sharing one Model with num_runtimes=T, against 1 thread "
                        "(default: 0, off)")
    parser.add_argument("--thread-calls", type=bu.positive_int, default=200, metavar="N",
                        help="calls per thread in the --threads measurement (default: 200)")
    parser.add_argument("--no-caller-timing", action="store_true",
                        help="skip the single-call latency and host-time measurements")
    parser.add_argument("--count", type=bu.positive_int, default=100,
                        help="launches per timed run (default: 100)")
    parser.add_argument("--repeat", type=bu.positive_int, default=5,
                        help="timed runs; the median is reported (default: 5)")
    parser.add_argument("--image-size", type=bu.positive_int, default=224, help="(default: 224)")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", action="store_true",
                         help="bind timm's pretrained weights (downloads); default: random")
    weights.add_argument("--weights", type=Path, default=None, metavar="FILE",
                         help="bind a weights file from weight_utils.py (.npz/.safetensors); "
                         "no output check then")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (0)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip comparing each batch's output with timm in fp16 eager")
    parser.add_argument(
        "--sync-dir", type=Path, default=None,
        help="data-parallel runs: wait here until --sync-count processes are ready before "
        "timing each batch size (used by benchmark_mi250.sh)",
    )
    parser.add_argument("--sync-count", type=bu.positive_int, default=1,
                        help="processes meeting at --sync-dir (default: 1)")
    return parser


def variant_name(args) -> str:
    padded = "_padded" if getattr(args, "stem", "space_to_depth") == "padded" else ""
    return "ait" + padded + ("_fp16acc" if args.use_fp16_acc else "") + ("" if args.use_graph
                                                                       else "_nograph")


def _fuse_stem_enabled() -> bool:
    from ait.passes.fuse_stem import enabled

    return enabled()


def _safe(call):
    """For metadata only: a missing or failing accessor must not end the benchmark."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001
        return f"unavailable ({type(exc).__name__})"


def compile_model(args, batch_range):
    try:
        from modeling.build import compile_resnet
    except ImportError as exc:
        raise bu.BenchError(f"cannot import modeling.build.compile_resnet ({exc})") from None
    print(f"[ait] compiling {args.model} for batch {batch_range[0]}..{batch_range[1]}, "
          f"fp16 accumulation {args.use_fp16_acc}, work dir {args.workdir} "
          "(cached builds load in seconds)", flush=True)
    start = time.perf_counter()
    # image_size only when it differs from the default: the agreed signature has no such arg.
    extra = {} if args.image_size == 224 else {"image_size": args.image_size}
    model = compile_resnet(
        model_name=args.model,
        batch_sizes=batch_range,
        workdir=str(args.workdir),
        use_fp16_acc=args.use_fp16_acc,
        num_classes=args.num_classes,
        **extra,
        stem=args.stem,
        **({"num_runtimes": args.threads} if args.threads > 1 else {}),
        **({"load": False} if args.compile_only else {}),
    )
    compile_s = time.perf_counter() - start
    print(f"[ait] compile_resnet returned after {compile_s:.1f} s", flush=True)
    return model, compile_s


def bind_weights(model, args):
    """Set the compiled model's constants and fold them; return the timm model they came
    from (the reference of the output check), or None for --weights."""
    try:
        from modeling.resnet import create_resnet
        from weight_utils import load_weights, timm_resnet, timm_to_ait
    except ImportError as exc:
        raise bu.BenchError(f"cannot import the weight mapping ({exc})") from None
    ait_net = create_resnet(args.model, args.num_classes, stem=args.stem)
    timm_model = None
    if args.weights is not None:
        params = load_weights(args.weights, ait_net)
        source = str(args.weights)
    else:
        timm_model = timm_resnet(args.model, pretrained=args.pretrained, seed=args.seed,
                                 num_classes=args.num_classes)
        params = timm_to_ait(timm_model, ait_net)
        source = "timm pretrained" if args.pretrained else f"timm random (seed {args.seed})"
    model.set_many_constants(params)
    model.fold_constants()
    print(f"[ait] bound {len(params)} constants from {source}", flush=True)
    return timm_model, source


def check_inputs(args) -> None:
    """The files and dirs the run needs, before the GPU is asked for: on any machine a bad
    weights file or work dir is reported as such (not as a missing GPU)."""
    from ait import fs
    from modeling.resnet import create_resnet
    from weight_utils import load_weights

    if args.weights is not None:
        load_weights(args.weights, create_resnet(args.model, args.num_classes, stem=args.stem))
    fs.require_writable_dir(args.workdir, f"--workdir {args.workdir}", create=False)
    fs.require_writable_dir(args.results_dir, f"--results-dir {args.results_dir}", create=False)


def measure(torch, model, args, bs: int, out_tail: tuple[int, ...], variant: str,
            ref_model=None, device: str = "cuda") -> dict:
    """Time one batch size and check its output against ref_model (timm, NCHW) if given;
    `device` is a parameter only so that tests can use a CPU stand-in."""
    x = torch.randn(bs, args.image_size, args.image_size, 3, device=device, dtype=torch.float16)
    y = torch.empty((bs, *out_tail), device=device, dtype=torch.float16)
    if args.sync_dir is not None:
        bu.wait_at_barrier(args.sync_dir, args.sync_count, f"bs{bs}")
    kwargs = {"count": args.count, "graph_mode": args.use_graph}
    model.benchmark_with_tensors([x], [y], repeat=1, **kwargs)  # warm-up (clocks, graph)
    ms, std_ms, _ = model.benchmark_with_tensors([x], [y], repeat=args.repeat, **kwargs)
    if device == "cuda":
        torch.cuda.synchronize()
    ms, std_ms = float(ms), float(std_ms)
    row = {"variant": variant, "batch_size": bs, "latency_ms": ms, "qps": bu.qps(bs, ms),
           "std_ms": std_ms, "runs": args.repeat, "iters_per_run": args.count,
           "output_finite": bool(torch.isfinite(y).all().item())}
    if not row["output_finite"]:
        print(f"[ait] warning: output at batch {bs} has non-finite values", flush=True)
    if not getattr(args, "no_caller_timing", True) and device == "cuda":
        row.update(caller_timing(torch, model, args, x, y))
        print(f"[ait] batch {bs}: single call {row['single_ms']:.3f} ms, host {row['host_us']:.1f}"
              f" us per call ({ROTATING_BUFFERS} rotating buffers: {row['single_rot_ms']:.3f} ms,"
              f" {row['host_rot_us']:.1f} us)", flush=True)
    if getattr(args, "threads", 0) > 0 and device == "cuda":
        row.update(thread_throughput(torch, model, args, bs, out_tail))
        print(f"[ait] batch {bs}: " + ", ".join(
            f"{k.split('_')[1]} thread(s) {v:.0f} im/s" for k, v in row.items()
            if k.startswith("threads_")), flush=True)
    if getattr(args, "profile_ops", False):
        ops = model.profile_ops_with_tensors([x], [y], count=20)
        row["op_ms"] = {name: round(float(t), 5) for name, t in ops}
        peaks = getattr(args, "peaks", None)
        if peaks is not None:
            per_op, sums = bu.roofline(model.meta["ops"], row["op_ms"], bs, peaks)
            row["roofline"], row["roofline_sums"] = per_op, sums
            print("[ait] " + bu.format_roofline(per_op, sums, bs, top=None if getattr(
                args, "all_ops", False) else 12), flush=True)
    if ref_model is not None:
        with torch.inference_mode():
            ref = ref_model(x.permute(0, 3, 1, 2)).float()
        row["max_rel_err"] = bu.max_rel_err(y, ref)
        if not row["max_rel_err"] <= bu.CHECK_TOLERANCE:
            print(f"[ait] warning: output at batch {bs} differs from timm fp16 eager "
                  f"(max rel err {row['max_rel_err']:.3g})", flush=True)
    return row


ROTATING_BUFFERS = 8


def peaks_for(torch, args) -> "bu.Peaks":
    """The roofline's peaks: given on the command line, else measured by a short probe."""
    if args.peak_tflops is not None and args.peak_tbps is not None:
        return bu.Peaks(args.peak_tflops * 1e12, args.peak_tbps * 1e12, "given on the command line")
    probe = bu.measure_peaks(torch)
    return bu.Peaks(probe.flops_per_s if args.peak_tflops is None else args.peak_tflops * 1e12,
                    probe.bytes_per_s if args.peak_tbps is None else args.peak_tbps * 1e12,
                    probe.source)


def caller_timing(torch, model, args, x, y) -> dict:
    """Single-call latency and host time per call, with one fixed input/output pair and with
    ROTATING_BUFFERS pairs used in turn (as a server with a buffer pool does)."""
    g = args.use_graph
    fixed = bu.time_caller(lambda: model.run_with_tensors([x], [y], graph_mode=g),
                           lambda: model.run_with_tensors([x], [y], graph_mode=g, sync=False))
    pairs = [(x.clone(), torch.empty_like(y)) for _ in range(ROTATING_BUFFERS)]
    turn = itertools.count()

    def rotating(sync: bool):
        xi, yi = pairs[next(turn) % len(pairs)]
        model.run_with_tensors([xi], [yi], graph_mode=g, sync=sync)

    rot = bu.time_caller(lambda: rotating(True), lambda: rotating(False))
    del pairs
    return {"single_ms": fixed["single_ms"], "host_us": fixed["host_us"],
            "single_rot_ms": rot["single_ms"], "host_rot_us": rot["host_us"]}


def thread_throughput(torch, model, args, bs: int, out_tail: tuple[int, ...]) -> dict:
    """Aggregate images/s of 1 and of args.threads threads (own streams, own buffers), each
    calling the shared model args.thread_calls times with sync=False."""
    def make_worker(_i):
        xi = torch.randn(bs, args.image_size, args.image_size, 3, device="cuda",
                         dtype=torch.float16)
        yi = torch.empty((bs, *out_tail), device="cuda", dtype=torch.float16)
        return lambda: model.run_with_tensors([xi], [yi], graph_mode=args.use_graph, sync=False)

    out = {}
    for t in sorted({1, args.threads}):
        seconds = bu.time_threads(make_worker, t, args.thread_calls)
        out[f"threads_{t}_qps"] = t * args.thread_calls * bs / seconds
    return out


def parse_args(argv=None):
    return bu.parse_checked(build_parser(), argv, lambda a: [("--batch-range HI", a.batch_range[1])]
                            if a.batch_range else [])


def main() -> int:
    args = parse_args()
    sizes = args.batch_size
    batch_range = args.batch_range or (1, max(bu.DEFAULT_BATCH_SIZES[-1], max(sizes)))
    outside = [b for b in sizes if not batch_range[0] <= b <= batch_range[1]]
    if outside:
        raise bu.BenchError(f"batch size(s) {outside} outside --batch-range "
                            f"{batch_range[0]},{batch_range[1]}")
    check_inputs(args)
    # --compile-only needs no GPU where AIT_ARCH names the arch (with AIT_FIXED_KERNEL=first)
    torch = None if args.compile_only and os.environ.get("AIT_ARCH") else bu.require_cuda()
    if torch is not None and args.use_graph and getattr(torch.version, "hip", None):
        print("[ait] ROCm: graph mode off, as upstream", flush=True)
        args.use_graph = False
    model, compile_s = compile_model(args, batch_range)
    if args.compile_only:  # `model` is the .so's path: nothing was loaded, no GPU needed
        print(f"[ait] compile only: {model} ({compile_s:.1f} s)", flush=True)
        return 0

    timm_model, weights_source = bind_weights(model, args)
    args.peaks = None
    if args.profile_ops:
        args.peaks = peaks_for(torch, args)
        print(f"[ait] roofline peaks: {args.peaks.flops_per_s / 1e12:.0f} TFLOP/s, "
              f"{args.peaks.bytes_per_s / 1e12:.2f} TB/s ({args.peaks.source})", flush=True)
    ref_model = None
    if timm_model is not None and not args.no_check:
        ref_model = timm_model.cuda().half()
    max_shape = tuple(int(d) for d in model.get_output_maximum_shape(0))
    variant = variant_name(args)
    stem = args.out_name or f"ait_{args.model}"
    metadata = bu.collect_metadata({
        "script": "benchmark_ait.py",
        "variants": [variant],
        "dtype": "float16",
        "image_size": args.image_size,
        "input_layout": "NHWC",
        "use_fp16_acc": args.use_fp16_acc,
        "stem": args.stem,
        "fuse_stem": _safe(_fuse_stem_enabled),  # op names (meta "kernels") depend on it
        "graph_mode": args.use_graph,
        "batch_range": list(batch_range),
        "compile_s": compile_s,
        "weights": weights_source,
        "workdir": str(args.workdir.resolve()),
        "lib_path": _safe(lambda: str(model.lib_path)),
        "input_names": _safe(lambda: list(model.input_names())),
        "output_names": _safe(lambda: list(model.output_names())),
        "output_maximum_shape": list(max_shape),
        # the kernel each op runs per batch bucket, to read per-op times (op_ms) against
        "kernels": _safe(lambda: {op["name"]: op["kernels"] for op in model.meta["ops"]
                                  if op.get("kernels")}),
        "timing": "ait Model.benchmark_with_tensors: median latency of `repeat` runs of "
                  "`count` launches, after one warm-up call",
        "caller_timing": None if args.no_caller_timing else
        "single_ms: median wall time of run_with_tensors(sync=True) on an idle GPU; host_us: "
        "median wall time of run_with_tensors(sync=False); *_rot: with "
        f"{ROTATING_BUFFERS} input/output pairs in turn",
        "threads": args.threads, "thread_calls": args.thread_calls,
        # kernels that wait for their predecessors launch early (AIT_PDL=0 turns it off)
        "programmatic_launch": _safe(lambda: model.pdl),
        "roofline_peaks": None if args.peaks is None else {
            "tflops": args.peaks.flops_per_s / 1e12, "tbps": args.peaks.bytes_per_s / 1e12,
            "source": args.peaks.source},
        "count": args.count, "repeat": args.repeat,
    })
    print(f"[ait] {bu.gpu_name(metadata)}  ait {metadata['ait']}  "
          f"variant {variant}  batch sizes {','.join(map(str, sizes))}  "
          f"programmatic launch {'on' if metadata['programmatic_launch'] else 'off'}", flush=True)

    rows: list[dict] = []
    for bs in sizes:
        try:
            row = measure(torch, model, args, bs, max_shape[1:], variant, ref_model)
        except bu.BenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep the other batch sizes' results
            traceback.print_exc()
            torch.cuda.synchronize()  # a sticky CUDA error ends the run here, with a trace
            row = {"variant": variant, "batch_size": bs, "latency_ms": None, "qps": None,
                   "error": f"{type(exc).__name__}: {bu.first_line(exc)}"}
        rows.append(row)
        bu.progress("ait", bs, variant, row)
        bu.write_results(args.results_dir, stem, "ait", args.model, metadata, rows)
        torch.cuda.empty_cache()
    model.close()

    json_path, csv_path = bu.write_results(args.results_dir, stem, "ait", args.model,
                                           metadata, rows)
    print()
    print(bu.format_table([(bu.variant_label(variant), rows)]))
    print(f"\n[ait] wrote {json_path} and {csv_path}", flush=True)
    bu.report_check("ait", rows)
    failed = [str(r["batch_size"]) for r in rows if r.get("error")]
    if failed:
        raise bu.BenchError(f"batch size(s) {', '.join(failed)} failed (errors are in "
                            f"{json_path})")
    return 0


if __name__ == "__main__":
    sys.exit(bu.run_main(main, "benchmark_ait.py"))
