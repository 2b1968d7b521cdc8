"""Benchmark PyTorch inference of a timm ResNet (fp16, 224x224) per batch size.

Variants, measured in the same run on the same random input:
  eager          NCHW fp16 eager, as upstream AITemplate's benchmark_pt.py
  eager_cl       channels_last eager (not run by default; in DESIGN.md's reference table)
  cl_graph       channels_last, captured once in a CUDA graph and replayed
  compile_graph  BatchNorm folded into the convs, channels_last, torch.compile (inductor, no
                 cudagraphs, static shapes), then captured in our own CUDA graph and replayed

Why the compiled variant captures its own graph instead of mode="reduce-overhead": what is timed
is then exactly one graph replay, the same thing ait's graph mode and cl_graph time; cudagraph
trees add per-call Python bookkeeping and an input copy into their static buffer. Compilation
uses static shapes (one specialisation per batch size, dynamo reset in between), which is the
best case for PyTorch. cudnn.benchmark is on for all variants (its own autotuning, the fair
counterpart of ait's profiler); inductor calls cuDNN for the convs, so it profits too.

Time: each measurement takes about 1-2 s (warm-up, then 50 runs of >= 20 ms); torch.compile
adds its compilation for every batch size, which dominates a full sweep. Variants run one after
the other over all batch sizes, and results are written after every measurement.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import sys
import time
import traceback

import bench_utils as bu

VARIANTS = ("eager", "eager_cl", "cl_graph", "compile_graph")
DEFAULT_VARIANTS = ("eager", "cl_graph", "compile_graph")
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs")


def build_parser() -> argparse.ArgumentParser:
    parser = bu.ArgumentParser(
        prog="benchmark_pt.py",
        description="Benchmark PyTorch (timm) ResNet inference in fp16 per batch size: eager, "
        "channels_last + CUDA graph, torch.compile (BN folded) + CUDA graph.",
        epilog="Results: <results-dir>/<out-name>.json and .csv. Needs a CUDA GPU.",
    )
    bu.add_common_args(parser, default_stem="pt")
    parser.add_argument(
        "--variants", type=parse_variants, default=DEFAULT_VARIANTS, metavar="V[,V...]",
        help=f"variants to run, comma separated, from {', '.join(VARIANTS)} or 'all' "
        f"(default: {','.join(DEFAULT_VARIANTS)})",
    )
    parser.add_argument(
        "--compile-mode", choices=COMPILE_MODES, default="default",
        help="torch.compile mode of compile_graph; max-autotune-no-cudagraphs also autotunes "
        "Triton templates and takes minutes per batch size (default: default)",
    )
    parser.add_argument(
        "--pretrained", action="store_true",
        help="load timm's pretrained weights (downloads); default: random weights",
    )
    parser.add_argument("--image-size", type=bu.positive_int, default=224, help="(default: 224)")
    parser.add_argument("--runs", type=bu.positive_int, default=50,
                        help="timed runs; the median is reported (default: 50)")
    parser.add_argument("--iters", type=bu.nonneg_int, default=0,
                        help="iterations per timed run; 0 picks ~20 ms per run (default: 0)")
    parser.add_argument("--warmup", type=bu.nonneg_int, default=10,
                        help="minimum warm-up iterations (default: 10)")
    parser.add_argument("--warmup-s", type=float, default=1.0,
                        help="minimum warm-up seconds (default: 1.0)")
    parser.add_argument("--no-cudnn-benchmark", action="store_true",
                        help="leave torch.backends.cudnn.benchmark off")
    parser.add_argument("--no-caller-timing", action="store_true",
                        help="skip the single-call latency and host-time measurements")
    parser.add_argument("--no-check", action="store_true",
                        help="skip comparing each variant's output with eager NCHW")
    return parser


def parse_variants(text: str) -> tuple[str, ...]:
    if text.strip().lower() == "all":
        return VARIANTS
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown variant(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(VARIANTS)} or 'all'"
        )
    return tuple(v for v in VARIANTS if v in names)  # fixed order: tables line up across runs


# ---------------------------------------------------------------------------------------------
# BatchNorm folding

def fold_batchnorm(model):
    """Return an eval-mode copy of model with every BatchNorm2d that directly follows a Conv2d
    folded into that conv, and the number folded.

    First through torch.fx (fuses conv -> bn wherever the conv output has no other user);
    models that do not trace fall back to folding (conv, bn) pairs by module structure:
    consecutive entries of nn.Sequential and timm's convN/bnN attribute pairs.
    """
    from torch import nn

    model = copy.deepcopy(model).eval()
    n_before = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    try:
        from torch.fx.experimental.optimization import fuse

        folded = fuse(model, inplace=False)
    except Exception as exc:  # noqa: BLE001 - tracing fails on data-dependent control flow
        print(f"[pt] torch.fx could not trace the model ({bu.first_line(exc)}); "
              "folding BatchNorm by module structure", flush=True)
        folded = _fold_by_structure(model)
    n_after = sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    return folded, n_before - n_after


def _fold_by_structure(model):
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for parent in list(model.modules()):
        children = dict(parent.named_children())
        pairs = []
        if isinstance(parent, nn.Sequential):
            names = list(children)
            pairs += list(itertools.pairwise(names))
        pairs += [(name, "bn" + name[4:]) for name in children if name.startswith("conv")]
        for conv_name, bn_name in pairs:
            conv, bn = children.get(conv_name), children.get(bn_name)
            if type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d:
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(parent, bn_name, nn.Identity())
                children[bn_name] = None  # never fold one bn twice
    return model


# ---------------------------------------------------------------------------------------------
# Measurement

def capture_graph(torch, fn, static_x, warmup_calls: int = 3):
    """Capture fn(static_x) in a CUDA graph. Warm-up runs on a side stream first, as the CUDA
    graphs docs require (lazy init, cuDNN autotuning and allocator growth stay out of capture)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup_calls):
            fn(static_x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_y = fn(static_x)
    torch.cuda.synchronize()
    return graph, static_y


class Runner:
    """Holds the three model copies; measure(variant, x) times one variant on input x."""

    def __init__(self, torch, args, variants):
        import timm

        self.torch, self.args = torch, args
        try:
            base = timm.create_model(args.model, pretrained=args.pretrained).eval()
        except Exception as exc:  # noqa: BLE001 - unknown model names, download failures
            raise bu.BenchError(
                f"timm.create_model({args.model!r}): {bu.first_line(exc)}") from None
        self.folded_bn = 0
        if "compile_graph" in variants:
            folded, self.folded_bn = fold_batchnorm(base)  # in fp32: fold before rounding
            self.folded = folded.cuda().half().to(memory_format=torch.channels_last)
            print(f"[pt] folded {self.folded_bn} BatchNorm layers into convs", flush=True)
        self.eager = base.cuda().half()
        if {"eager_cl", "cl_graph"} & set(variants):
            # .to(memory_format=) converts in place: keep the NCHW model separate.
            self.cl = copy.deepcopy(self.eager).to(memory_format=torch.channels_last)

    def timing_kwargs(self) -> dict:
        a = self.args
        return {"warmup": a.warmup, "warmup_s": a.warmup_s, "runs": a.runs,
                "iters_per_run": a.iters or None}

    def caller_timing(self, fn) -> dict:
        """single_ms / host_us as benchmark_ait.py measures them (bench_utils.time_caller)."""
        if self.args.no_caller_timing:
            return {}
        return bu.time_caller(fn, fn)

    def measure(self, variant: str, x, ref) -> dict:
        torch = self.torch
        bs = x.shape[0]
        extra: dict = {}
        if variant in ("eager", "eager_cl"):
            model = self.eager if variant == "eager" else self.cl
            inp = x if variant == "eager" else x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                stats = bu.time_cuda(lambda: model(inp), **self.timing_kwargs())
                extra.update(self.caller_timing(lambda: model(inp)))
                out = model(inp)
        elif variant == "cl_graph":
            static_x = x.contiguous(memory_format=torch.channels_last).clone(
                memory_format=torch.channels_last)
            with torch.inference_mode():
                graph, out = capture_graph(torch, self.cl, static_x)
                stats = bu.time_cuda(graph.replay, **self.timing_kwargs())
                extra.update(self.caller_timing(graph.replay))
            del graph
        elif variant == "compile_graph":
            stats, out, extra = self._measure_compiled(x)
        else:
            raise bu.BenchError(f"unknown variant {variant}")
        if ref is not None and not self.args.no_check:
            extra["max_rel_err"] = bu.max_rel_err(out, ref)
            if not extra["max_rel_err"] <= bu.CHECK_TOLERANCE:
                print(f"[pt] warning: {variant} at batch {bs} differs from eager NCHW "
                      f"(max rel err {extra['max_rel_err']:.3g})", flush=True)
        return bu.stats_row(variant, bs, stats, **extra)

    def _measure_compiled(self, x):
        torch = self.torch
        # A fresh dynamo state per batch size: one static specialisation each, and the
        # recompile limit (8) never silently sends the 9th batch size back to eager.
        torch._dynamo.reset()
        mode = None if self.args.compile_mode == "default" else self.args.compile_mode
        compiled = torch.compile(self.folded, mode=mode, dynamic=False)
        static_x = x.contiguous(memory_format=torch.channels_last).clone(
            memory_format=torch.channels_last)
        # no_grad rather than inference_mode: dynamo + inference tensors has had bugs.
        with torch.no_grad():
            start = time.perf_counter()
            compiled(static_x)
            torch.cuda.synchronize()
            compile_s = time.perf_counter() - start
            graph, out = capture_graph(torch, compiled, static_x)
            stats = bu.time_cuda(graph.replay, **self.timing_kwargs())
            extra = {"compile_s": compile_s, **self.caller_timing(graph.replay)}
        del graph
        return stats, out, extra


def main() -> int:
    parser = build_parser()
    args = bu.parse_checked(parser)
    variants = args.variants
    try:  # what the run needs before the GPU: a missing timm is reported as such
        import timm  # fail early and in one line
    except ImportError as exc:
        raise bu.BenchError(f"cannot import timm ({exc})") from None
    if not timm.is_model(args.model):
        parser.error(f"--model {args.model}: not a timm model name (e.g. resnet50, "
                             "resnet18, wide_resnet50_2; timm.list_models() lists them)")
    from ait import fs

    # before the GPU, not after the first measurement; made when there is a result to write
    fs.require_writable_dir(args.results_dir, f"--results-dir {args.results_dir}", create=False)
    torch = bu.require_cuda()

    torch.backends.cudnn.benchmark = not args.no_cudnn_benchmark
    stem = args.out_name or f"pt_{args.model}"
    runner = Runner(torch, args, variants)
    metadata = bu.collect_metadata({
        "script": "benchmark_pt.py",
        "variants": list(variants),
        "dtype": "float16",
        "image_size": args.image_size,
        "pretrained": args.pretrained,
        "compile_mode": args.compile_mode,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "folded_batchnorm": runner.folded_bn,
        "timing": "median over runs of CUDA-event time per iteration, after warm-up",
        "runs": args.runs, "iters": args.iters or "auto (~20 ms per run)",
        "warmup": args.warmup, "warmup_s": args.warmup_s,
    })
    print(f"[pt] {bu.gpu_name(metadata)}  torch {torch.__version__}  "
          f"model {args.model}  variants {','.join(variants)}  "
          f"batch sizes {','.join(map(str, args.batch_size))}", flush=True)

    # Variants outer, batch sizes inner: the fast variants finish before torch.compile's
    # minutes of compilation, so a run cut short by a time limit still has them complete.
    # Inputs are seeded by batch size: every variant sees the same images.
    rows: list[dict] = []
    for variant in variants:
        for bs in args.batch_size:
            torch.manual_seed(bs)
            x = torch.randn(bs, 3, args.image_size, args.image_size, device="cuda",
                            dtype=torch.float16)
            ref = None
            if not args.no_check:
                with torch.inference_mode():
                    ref = runner.eager(x).float()
            try:
                row = runner.measure(variant, x, ref)
            except bu.BenchError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep the other variants' results
                traceback.print_exc()
                torch.cuda.synchronize()  # a sticky CUDA error ends the run here, with a trace
                row = {"variant": variant, "batch_size": bs, "latency_ms": None, "qps": None,
                       "error": f"{type(exc).__name__}: {bu.first_line(exc)}"}
            rows.append(row)
            bu.progress("pt", bs, variant, row)
            bu.write_results(args.results_dir, stem, "pt", args.model, metadata, rows)
            del x, ref
            torch.cuda.empty_cache()

    json_path, csv_path = bu.write_results(args.results_dir, stem, "pt", args.model,
                                           metadata, rows)
    series = [(bu.variant_label(v), [r for r in rows if r["variant"] == v]) for v in variants]
    print()
    print(bu.format_table(series))
    print(f"\n[pt] wrote {json_path} and {csv_path}", flush=True)
    bu.report_check("pt", rows)
    failed = [f"{r['variant']}@{r['batch_size']}" for r in rows if r.get("error")]
    if failed:
        raise bu.BenchError(f"{len(failed)} measurement(s) failed: {', '.join(failed)} "
                            f"(errors are in {json_path})")
    return 0


if __name__ == "__main__":
    sys.exit(bu.run_main(main, "benchmark_pt.py"))
