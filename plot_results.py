"""Plot QPS (and optionally latency) against batch size for every result in a results dir.

Reads the JSON files written by benchmark_pt.py and benchmark_ait.py (files directly in the
dir; data-parallel runs in subfolders are left out), draws one line per variant, prints the
combined table in upstream AITemplate's layout, and writes a PNG.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bench_utils as bu


IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".webp")


def out_file(text: str) -> Path:
    """argparse type of --out: an image name (a suffix matplotlib writes) whose directory
    follows --workdir's rule (cli.workdir: it exists, or its parent does and it is made);
    the directory was created with all its parents, and a .txt name failed after the plot."""
    path = Path(text).expanduser()
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise argparse.ArgumentTypeError(f"{text}: expected a name ending in "
                                         f"{', '.join(IMAGE_SUFFIXES)}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; expected a file name")
    bu.workdir(str(path.parent))
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = bu.ArgumentParser(
        prog="plot_results.py",
        description="Draw QPS vs batch size (log2 axis) for ait and every PyTorch variant "
        "found in the results dir, and print the combined table.",
    )
    parser.add_argument("--results-dir", type=Path, default=Path("results"),
                        help="where the benchmark JSON files are (default: ./results)")
    parser.add_argument("--out", type=out_file, default=None,
                        help="PNG to write (default: <results-dir>/<model>_qps.png)")
    parser.add_argument("--latency", action="store_true",
                        help="add a latency panel (log-log) beside the QPS panel")
    parser.add_argument("--log-y", action="store_true", help="logarithmic QPS axis")
    parser.add_argument("--model", default=None,
                        help="only results of this model (default: the only one present)")
    parser.add_argument("--title", default=None, help="figure title (default: model and GPU)")
    parser.add_argument("--serve", action="store_true",
                        help="draw throughput (and p50/p99 latency) vs concurrent clients from "
                        "bench_serve.py's results instead")
    return parser


def collect_series(docs, model: str | None):
    """-> (model, [(label, rows, kind)], gpu name). A variant present in several files comes
    from the newest file (by its metadata date), so that stale runs do not pile up."""
    models = sorted({doc["model"] for _, doc in docs})
    if model is None:
        if len(models) > 1:
            raise bu.BenchError(f"results for several models ({', '.join(models)}): "
                                "choose one with --model")
        model = models[0]
    elif model not in models:
        raise bu.BenchError(f"no results for --model {model} (the results are of "
                            f"{', '.join(models)})")
    chosen: dict[tuple[str, str], tuple[str, list, str]] = {}
    gpu = None
    for path, doc in sorted(docs, key=lambda d: str(d[1]["metadata"].get("date", ""))):
        if doc["model"] != model:
            continue
        gpu = gpu or bu.gpu_name(doc["metadata"])
        by_variant: dict[str, list] = {}
        for row in doc["rows"]:
            by_variant.setdefault(row["variant"], []).append(row)
        for variant, rows in by_variant.items():
            key = (doc["kind"], variant)
            if key in chosen:
                print(f"[plot] {variant}: using {path.name}, newer than {chosen[key][0]}",
                      flush=True)
            chosen[key] = (path.name, rows, doc["kind"])
    # PyTorch variants first, in the scripts' fixed order, then ait: same order as the tables.
    order = list(bu.VARIANT_LABELS)
    keys = sorted(chosen, key=lambda k: (k[0] != "pt", order.index(k[1]) if k[1] in order
                                         else len(order), k[1]))
    series = [(bu.variant_label(v), chosen[(kind, v)][1], kind) for kind, v in keys]
    return model, series, gpu


def plot(series, out: Path, *, latency: bool, log_y: bool, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on GPU machines
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise bu.BenchError(f"cannot import matplotlib ({exc}); pip install matplotlib") from None

    ncols = 2 if latency else 1
    fig, axes = plt.subplots(1, ncols, figsize=(7.5 * ncols, 5), squeeze=False)
    ax_qps = axes[0][0]
    batches: set[int] = set()
    for label, rows, kind in series:
        rows = sorted(bu.ok_rows(rows), key=lambda r: r["batch_size"])
        if not rows:
            continue
        xs = [r["batch_size"] for r in rows]
        batches.update(xs)
        ait = kind == "ait"  # ait stands out: solid and thicker
        style = {"marker": "o" if ait else "s", "linewidth": 2.4 if ait else 1.4,
                 "linestyle": "-" if ait else "--", "label": label}
        ax_qps.plot(xs, [r["qps"] for r in rows], **style)
        if latency:
            axes[0][1].plot(xs, [r["latency_ms"] for r in rows], **style)
    ticks = sorted(batches)
    for ax in axes[0]:
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("batch size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    ax_qps.set_ylabel("throughput (images/s)")
    if log_y:
        ax_qps.set_yscale("log")
    if latency:
        axes[0][1].set_yscale("log")
        axes[0][1].set_ylabel("latency (ms, median)")
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(exist_ok=True)  # its parent exists (out_file)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_serve(docs, out: Path | None, results_dir: Path, title: str | None) -> Path:
    """Throughput vs concurrency, one line per bench_serve.py result file, with a p50/p99
    latency panel; prints a table of the same rows."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise bu.BenchError(f"cannot import matplotlib ({exc}); pip install matplotlib") from None
    fig, (ax_qps, ax_lat) = plt.subplots(1, 2, figsize=(15, 5))
    ticks: set[int] = set()
    print("| File | Clients | Throughput (im/s) | p50 (ms) | p99 (ms) | Mean server batch |")
    print("|---|---|---|---|---|---|")
    for path, doc in docs:
        rows = sorted(bu.ok_rows(doc["rows"]), key=lambda r: r["concurrency"])
        if not rows:
            continue
        server = doc["metadata"].get("server") or {}
        label = f"{doc['model']} {server.get('backend', '')} ({path.stem})".strip()
        xs = [r["concurrency"] for r in rows]
        ticks.update(xs)
        ax_qps.plot(xs, [r["qps"] for r in rows], marker="o", label=label)
        ax_lat.plot(xs, [r["p50_ms"] for r in rows], marker="o", label=f"{label} p50")
        ax_lat.plot(xs, [r["p99_ms"] for r in rows], marker="^", linestyle="--",
                    label=f"{label} p99")
        for r in rows:
            print(f"| {path.stem} | {r['concurrency']} | {r['qps']:.1f} | {r['p50_ms']:.2f} | "
                  f"{r['p99_ms']:.2f} | {r['mean_server_batch']:.2f} |")
    for ax in (ax_qps, ax_lat):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
        ax.set_xlabel("concurrent clients")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    ax_qps.set_ylabel("throughput (images/s)")
    ax_lat.set_yscale("log")
    ax_lat.set_ylabel("latency (ms)")
    fig.suptitle(title or "serve_resnet.py under load (bench_serve.py)")
    fig.tight_layout()
    out = out or results_dir / "serve_qps.png"
    out.parent.mkdir(exist_ok=True)  # its parent exists (out_file)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main() -> int:
    args = build_parser().parse_args()
    run = "bench_serve.py" if args.serve else "benchmark_pt.py and benchmark_ait.py"
    if not args.results_dir.is_dir():
        why = "is not a directory" if args.results_dir.exists() else "does not exist"
        raise bu.BenchError(f"no benchmark results in {args.results_dir}: it {why} (run {run} "
                            "first, or give --results-dir)")
    docs = bu.load_results_dir(args.results_dir)
    serve_docs = [(p, d) for p, d in docs if d["kind"] == "serve"]
    docs = [(p, d) for p, d in docs if d["kind"] != "serve"]  # rows per concurrency, not batch
    if args.serve:
        if not any(bu.ok_rows(d["rows"]) for _, d in serve_docs):
            raise bu.BenchError(f"no bench_serve.py results in {args.results_dir}")
        out = plot_serve(serve_docs, args.out, args.results_dir, args.title)
        print(f"\n[plot] wrote {out}", flush=True)
        return 0
    if not docs:
        raise bu.BenchError(f"no benchmark results in {args.results_dir} (run benchmark_pt.py "
                            "and benchmark_ait.py first)")
    model, series, gpu = collect_series(docs, args.model)
    if not any(bu.ok_rows(rows) for _, rows, _ in series):
        raise bu.BenchError(f"no successful measurements for {model} in {args.results_dir}")
    kinds = {kind for _, _, kind in series}
    for kind, script in (("pt", "benchmark_pt.py"), ("ait", "benchmark_ait.py")):
        if kind not in kinds:
            print(f"[plot] warning: no {kind} results in {args.results_dir} (run {script})",
                  flush=True)

    print(bu.format_table([(label, rows) for label, rows, _ in series]))
    out = args.out or args.results_dir / f"{model}_qps.png"
    title = args.title or f"{model} fp16 inference" + (f", {gpu}" if gpu else "")
    plot(series, out, latency=args.latency, log_y=args.log_y, title=title)
    print(f"\n[plot] wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(bu.run_main(main, "plot_results.py"))
