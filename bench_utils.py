"""Shared pieces of the benchmark scripts: arguments, CUDA timing, metadata, result files, tables.

Result files are plain JSON (and a CSV of the same rows) so that they can be diffed, plotted and
read without this module. torch is imported lazily: `--help`, argument errors and the CPU tests
should not pay for importing it.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCHEMA = "ait-bench/1"
DEFAULT_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
REPO_DIR = Path(__file__).resolve().parent

CSV_FIELDS = (
    "kind", "model", "variant", "batch_size", "latency_ms", "qps", "std_ms", "min_ms", "max_ms",
    "runs", "iters_per_run", "compile_s", "max_rel_err", "single_ms", "host_us", "error",
)

# Column labels of the upstream-style table; unknown variants are shown by their own name.
VARIANT_LABELS = {
    "eager": "PT eager",
    "eager_cl": "PT eager CL",
    "cl_graph": "PT CL+graph",
    "compile_graph": "PT compile+graph",
    "ait": "AIT",
}


# Output checks: max |y - ref| / max |ref| above this is reported as suspect (a warning, not a
# failure: timings stay valid). fp16 through ~50 layers stays around 1e-3.
CHECK_TOLERANCE = 5e-2


class BenchError(Exception):
    """An expected failure: reported as one line, without a traceback."""


# ---------------------------------------------------------------------------------------------
# Arguments

def parse_batch_sizes(text: str, what: str = "batch size",
                      sweep: tuple[int, ...] | None = DEFAULT_BATCH_SIZES) -> tuple[int, ...]:
    """'8' -> (8,); '1,8,32' -> (1, 8, 32); '0' or 'all' -> `sweep` (upstream: 0), where
    there is one (None: a list of `what` only, as bench_serve's client counts)."""
    text = text.strip()
    if sweep is not None and text.lower() in ("0", "all"):
        return sweep
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ValueError(
                f"invalid {what} {part!r} in {text!r}: expected positive integers, "
                "comma separated (e.g. 8 or 1,8,32)" + (", or 'all'" if sweep else "")
            )
        sizes.append(int(part))
    return tuple(sorted(set(sizes)))


def _batch_sizes_type(text: str) -> tuple[int, ...]:
    try:
        return parse_batch_sizes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def client_counts(text: str) -> tuple[int, ...]:
    """argparse type of bench_serve's --concurrency: positive counts only (no 'all' sweep)."""
    try:
        return parse_batch_sizes(text, "client count", sweep=None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_bool(text: str) -> bool:
    """Accept upstream's click booleans (`--use-fp16-acc True`)."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {text!r}")


def nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


# one definition for every script
from ait.cli import ArgumentParser, positive_float, positive_int, workdir  # noqa: E402,F401


def add_common_args(parser: argparse.ArgumentParser, default_stem: str,
                    models: list[str] | None = None) -> None:
    """The arguments both benchmarks take; `models`: the only --model values accepted (ait
    builds only these; a wrong name fails at the command line, before any GPU work)."""
    parser.add_argument(
        "--batch-size", type=_batch_sizes_type, default=DEFAULT_BATCH_SIZES, metavar="N[,N...]",
        help="batch size(s) to run: one (8), a list (1,8,32) or 'all' "
        f"(default: {','.join(map(str, DEFAULT_BATCH_SIZES))})",
    )
    parser.add_argument("--model", default="resnet50", choices=models,
                        help="timm model name (default: resnet50)")
    parser.add_argument(
        "--results-dir", type=workdir, default=Path("results"),
        help="where <out-name>.json and .csv are written (default: ./results; its parent must "
        "exist)",
    )
    parser.add_argument(
        "--out-name", default=None, metavar="STEM",
        help=f"file name stem of the results (default: {default_stem}_<model>)",
    )


def parse_checked(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None,
                  more: Callable[[argparse.Namespace], Iterable[tuple[str, int]]] | None = None,
                  ) -> argparse.Namespace:
    """``parser.parse_args(argv)``, then the largest --batch-size (and each (flag, batch) that
    ``more(args)`` names) checked against the largest batch a ResNet takes at --image-size
    (modeling.resnet.max_batch): an argument error (exit 2) before anything is allocated."""
    from modeling.resnet import batch_problem

    args = parser.parse_args(argv)
    size = getattr(args, "image_size", 224)
    batches = [("--batch-size", max(args.batch_size)), *(more(args) if more else ())]
    for flag, n in batches:
        if (why := batch_problem(flag, n, size)) is not None:
            parser.error(why)
    return args


def run_main(main: Callable[[], int], prog: str) -> int:
    """Run a script's main: expected failures print one line; others also print the traceback
    first (device time is scarce, so the details must not be lost) and end with one line."""
    try:
        return main()
    except BenchError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line must always say why it failed
        from ait import AitError
        from ait.cli import debug_requested

        if isinstance(exc, AitError):  # names its input or fault: one line, as BenchError
            if debug_requested():
                traceback.print_exc()
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 1
        traceback.print_exc()
        print(f"{prog}: error: {type(exc).__name__}: {first_line(exc)}", file=sys.stderr)
        return 1


def first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:300] if lines else "(no message)"


# ---------------------------------------------------------------------------------------------
# GPU access and timing

def import_torch():
    try:
        import torch
    except ImportError as exc:
        raise BenchError(f"cannot import torch ({exc})") from None
    return torch


def require_cuda():
    """Return torch, or fail with one line when no GPU is usable (ROCm builds count too)."""
    torch = import_torch()
    if not torch.cuda.is_available():
        raise BenchError(
            "no CUDA GPU available (torch.cuda.is_available() is False, "
            f"torch {torch.__version__}); run this on a GPU machine"
        )
    return torch


@dataclass
class TimingStats:
    median_ms: float          # per iteration, median over runs
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    runs: int
    iters_per_run: int


def summarize_ms(per_iter_ms: Sequence[float], iters_per_run: int) -> TimingStats:
    if not per_iter_ms:
        raise ValueError("no timed runs")
    return TimingStats(
        median_ms=statistics.median(per_iter_ms),
        mean_ms=statistics.fmean(per_iter_ms),
        std_ms=statistics.pstdev(per_iter_ms) if len(per_iter_ms) > 1 else 0.0,
        min_ms=min(per_iter_ms),
        max_ms=max(per_iter_ms),
        runs=len(per_iter_ms),
        iters_per_run=iters_per_run,
    )


def auto_iters(estimate_ms: float, target_run_ms: float = 20.0, cap: int = 200) -> int:
    """Iterations per timed run so that one run spans about target_run_ms: fast graph replays
    are then not dominated by event resolution, slow eager runs stay one iteration each."""
    if not estimate_ms > 0 or math.isinf(estimate_ms):
        return 1
    return max(1, min(cap, math.ceil(target_run_ms / estimate_ms)))


def time_cuda(
    fn: Callable[[], Any],
    *,
    warmup: int = 10,
    warmup_s: float = 1.0,
    runs: int = 50,
    iters_per_run: int | None = None,
) -> TimingStats:
    """Time fn on the current CUDA stream with CUDA events.

    Warm-up: at least `warmup` calls and at least `warmup_s` seconds (GPU clocks settle).
    Then `runs` timed runs of `iters_per_run` back-to-back calls each (None: chosen from the
    warm-up so that a run spans ~20 ms); the result is per iteration.
    """
    torch = import_torch()
    torch.cuda.synchronize()
    calls, start = 0, time.perf_counter()
    while calls < warmup or time.perf_counter() - start < warmup_s:
        fn()
        torch.cuda.synchronize()  # keep the CPU from queueing far ahead: time is real time
        calls += 1
    estimate_ms = (time.perf_counter() - start) * 1e3 / calls
    iters = iters_per_run or auto_iters(estimate_ms)

    events = [
        (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
        for _ in range(runs)
    ]
    torch.cuda.synchronize()
    for begin, end in events:
        begin.record()
        for _ in range(iters):
            fn()
        end.record()
    torch.cuda.synchronize()
    return summarize_ms([b.elapsed_time(e) / iters for b, e in events], iters)


def time_caller(call: Callable[[], Any], queue: Callable[[], Any], *, calls: int = 200,
                warmup: int = 20) -> dict[str, float]:
    """What a caller sees, beside the pipelined figure of time_cuda:
    single_ms: median wall time of `call()` followed by a device synchronize (one request
    waiting for its answer); host_us: median wall time of `queue()` alone (the work queued,
    not waited for), each call starting on an idle device so a full launch queue never blocks
    it. Both are median of `calls` calls after `warmup`."""
    torch = import_torch()
    single, host = [], []
    for i in range(warmup + calls):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        call()
        torch.cuda.synchronize()
        t1 = time.perf_counter()
        queue()
        t2 = time.perf_counter()
        if i >= warmup:
            single.append((t1 - t0) * 1e3)
            host.append((t2 - t1) * 1e6)
    torch.cuda.synchronize()
    return {"single_ms": statistics.median(single), "host_us": statistics.median(host)}


def time_threads(make_worker: Callable[[int], Callable[[], Any]], threads: int,
                 calls: int) -> float:
    """Seconds for `threads` threads to each make `calls` calls of their own worker (each
    thread on its own CUDA stream, made by make_worker(i) on that stream), all finished."""
    import threading

    torch = import_torch()
    streams = [torch.cuda.Stream() for _ in range(threads)]
    workers = []
    for i, s in enumerate(streams):
        with torch.cuda.stream(s):
            workers.append(make_worker(i))
    start_gate = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            with torch.cuda.stream(streams[i]):
                workers[i]()  # warm-up: plans and graphs of this thread's context
                streams[i].synchronize()
                start_gate.wait()
                for _ in range(calls):
                    workers[i]()
                streams[i].synchronize()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            errors.append(exc)
            start_gate.abort()

    pool = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    try:
        start_gate.wait()
    except threading.BrokenBarrierError:
        pass
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return elapsed


# ---------------------------------------------------------------------------------------------
# Roofline of each op (benchmark_ait.py --profile-ops)

@dataclass(frozen=True)
class Peaks:
    """What the GPU can do at best: fp16 tensor-core FLOP/s and DRAM bytes/s, and where the
    figures come from (a measured probe, or given on the command line)."""

    flops_per_s: float
    bytes_per_s: float
    source: str


def measure_peaks(torch, size: int = 8192, copy_bytes: int = 1 << 30, reps: int = 10) -> Peaks:
    """A short probe (about a second): a size^3 fp16 matmul (cuBLAS, fp32 accumulation) and
    a copy of copy_bytes, each the median of reps CUDA-event timings after a warm-up."""
    a = torch.randn(size, size, device="cuda", dtype=torch.float16)
    b = torch.randn(size, size, device="cuda", dtype=torch.float16)
    src = torch.empty(copy_bytes // 2, device="cuda", dtype=torch.float16)
    dst = torch.empty_like(src)

    def median_ms(fn):
        return time_cuda(fn, warmup=1, warmup_s=0.0, runs=reps, iters_per_run=1).median_ms

    mm = median_ms(lambda: torch.mm(a, b))
    cp = median_ms(lambda: dst.copy_(src))
    del a, b, src, dst
    torch.cuda.empty_cache()
    return Peaks(2 * size**3 / (mm * 1e-3), 2 * copy_bytes / (cp * 1e-3),
                 f"measured: torch fp16 matmul {size}^3 and a {copy_bytes >> 20} MiB copy")


def kernel_at(op_meta: dict, batch: int) -> str | None:
    """The kernel an op of the model's metadata runs at `batch` (its bucket's choice)."""
    k = op_meta.get("kernels")
    if not k:
        return None
    i = next((j for j, hi in enumerate(k["upper"]) if batch <= hi), len(k["upper"]) - 1)
    return k["names"][i]


def roofline(ops_meta: Sequence[dict], op_ms: dict[str, float], batch: int,
             peaks: Peaks) -> tuple[list[dict], dict]:
    """Per op at `batch`: FLOPs, least bytes (every tensor read or written once), floor =
    max(FLOPs / peak, bytes / bandwidth), measured ms, efficiency = floor / measured, and the
    kernel chosen; plus the sums. Ops without a cost record (or a zero floor and no time:
    views) are left out."""
    rows = []
    for op in ops_meta:
        cost, ms = op.get("cost"), op_ms.get(op["name"])
        if cost is None or ms is None:
            continue
        flops = cost["flops"][0] + cost["flops"][1] * batch
        nbytes = cost["bytes"][0] + cost["bytes"][1] * batch
        if not flops and not nbytes:
            continue
        floor_ms = max(flops / peaks.flops_per_s, nbytes / peaks.bytes_per_s) * 1e3
        rows.append({"op": op["name"], "kind": op["kind"], "attrs": op.get("attrs", ""),
                     "kernel": kernel_at(op, batch), "gflop": flops / 1e9, "mb": nbytes / 1e6,
                     "floor_ms": floor_ms, "ms": ms,
                     "efficiency": floor_ms / ms if ms > 0 else None})
    total_ms = sum(r["ms"] for r in rows)
    total_floor = sum(r["floor_ms"] for r in rows)
    sums = {"ms": total_ms, "floor_ms": total_floor,
            "efficiency": total_floor / total_ms if total_ms > 0 else None,
            "gflop": sum(r["gflop"] for r in rows), "mb": sum(r["mb"] for r in rows),
            "peak_tflops": peaks.flops_per_s / 1e12, "peak_tbps": peaks.bytes_per_s / 1e12,
            "peaks_source": peaks.source}
    return rows, sums


def format_roofline(rows: Sequence[dict], sums: dict, batch: int, top: int | None = None) -> str:
    """The per-op table, slowest first (all of them unless `top`), then the sums."""
    shown = sorted(rows, key=lambda r: -r["ms"])[:top] if top else list(rows)
    lines = [f"batch {batch}: per op against its floor (peaks {sums['peak_tflops']:.0f} TFLOP/s, "
             f"{sums['peak_tbps']:.2f} TB/s; {sums['peaks_source']})",
             f"{'op':<18} {'kind':<14} {'GFLOP':>8} {'MB':>9} {'floor us':>9} {'us':>9} "
             f"{'eff':>5}  kernel"]
    for r in shown:
        eff = f"{100 * r['efficiency']:.0f}%" if r["efficiency"] is not None else "-"
        lines.append(f"{r['op']:<18} {r['kind']:<14} {r['gflop']:8.3f} {r['mb']:9.2f} "
                     f"{1e3 * r['floor_ms']:9.1f} {1e3 * r['ms']:9.1f} {eff:>5}  "
                     f"{r['kernel'] or '(own kernel)'}")
    eff = f"{100 * sums['efficiency']:.0f}%" if sums["efficiency"] is not None else "-"
    lines.append(f"{'sum':<18} {'':<14} {sums['gflop']:8.3f} {sums['mb']:9.2f} "
                 f"{1e3 * sums['floor_ms']:9.1f} {1e3 * sums['ms']:9.1f} {eff:>5}")
    return "\n".join(lines)


def max_rel_err(y, ref) -> float:
    """max |y - ref| / max |ref| over torch tensors of the same number of elements."""
    y, ref = y.float().reshape(-1), ref.float().reshape(-1)
    scale = ref.abs().max().item() or 1.0
    return (y - ref).abs().max().item() / scale


def qps(batch_size: int, latency_ms: float) -> float:
    return batch_size * 1e3 / latency_ms if latency_ms > 0 else float("nan")


def wait_at_barrier(sync_dir: Path, count: int, tag: str, timeout_s: float = 600.0) -> None:
    """File barrier across processes (data-parallel runs start timing together): each process
    leaves one file `<tag>.<pid>` and waits until `count` such files exist."""
    sync_dir.mkdir(parents=True, exist_ok=True)
    (sync_dir / f"{tag}.{os.getpid()}").touch()
    deadline = time.monotonic() + timeout_s
    while True:
        arrived = sum(1 for p in sync_dir.iterdir() if p.name.startswith(tag + "."))
        if arrived >= count:
            return
        if time.monotonic() > deadline:
            raise BenchError(
                f"barrier {tag!r} in {sync_dir}: only {arrived} of {count} processes arrived "
                f"within {timeout_s:.0f} s"
            )
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# Environment metadata

def _run_quiet(cmd: Sequence[str], timeout: float = 15.0) -> str | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _dist_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_revision(path: Path = REPO_DIR) -> str | None:
    sha = _run_quiet(["git", "-C", str(path), "rev-parse", "--short=12", "HEAD"])
    if sha is None:
        return None
    dirty = _run_quiet(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"])
    return sha + ("-dirty" if dirty else "")


def ait_version() -> str:
    try:
        import ait

        version = getattr(ait, "__version__", None)
    except Exception:  # noqa: BLE001 - metadata must never break a benchmark
        version = None
    if version:
        return str(version)
    return f"git {git_revision() or 'unknown'}"


def nvidia_smi_gpus() -> list[dict[str, str]]:
    fields = ("index", "name", "driver_version", "memory.total", "clocks.max.sm", "pci.bus_id")
    out = _run_quiet(
        ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"]
    )
    if not out:
        return []
    return [
        dict(zip(fields, (cell.strip() for cell in line.split(",")), strict=False))
        for line in out.splitlines() if line.strip()
    ]


def collect_metadata(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Who/what/where of a run. Every probe is optional: missing tools give None, not errors."""
    meta: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "argv": sys.argv,
        "python": platform.python_version(),
        "torch": None,
        "timm": _dist_version("timm"),
        "numpy": _dist_version("numpy"),
        "ait": ait_version(),
        "git": git_revision(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "hip_visible_devices": os.environ.get("HIP_VISIBLE_DEVICES"),
    }
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        meta["torch"] = torch.__version__
        meta["torch_cuda"] = torch.version.cuda
        meta["torch_hip"] = getattr(torch.version, "hip", None)
        meta["cudnn"] = _probe(torch.backends.cudnn.version)
        if _probe(torch.cuda.is_available):
            meta["gpu"] = _probe(lambda: _gpu_properties(torch))
    meta["driver"] = _probe(_driver_version)
    meta["nvidia_smi"] = _probe(nvidia_smi_gpus)
    meta.update(extra or {})
    return meta


def gpu_name(meta: dict) -> str | None:
    gpu = meta.get("gpu")
    return gpu.get("name") if isinstance(gpu, dict) else None


def _probe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - metadata must never end a benchmark
        return f"unavailable ({type(exc).__name__}: {first_line(exc)})"


def _gpu_properties(torch) -> dict[str, Any]:
    dev = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(dev)
    return {
        "name": props.name,
        "index": dev,
        "capability": f"{props.major}.{props.minor}",
        "memory_gib": round(props.total_memory / 2**30, 1),
        "sm_count": props.multi_processor_count,
    }


def _driver_version() -> str | None:
    smi = nvidia_smi_gpus()
    if smi:
        return smi[0].get("driver_version")
    try:  # containers without nvidia-smi still expose the kernel module version
        text = Path("/proc/driver/nvidia/version").read_text()
        match = re.search(r"Kernel Module\s+(?:for \S+\s+)?([0-9][0-9.]+)", text)
        if match:
            return match.group(1)
    except OSError:
        pass
    try:  # last resort: the CUDA version the driver supports (v = 1000 * major + 10 * minor)
        import ctypes

        v = ctypes.c_int(0)
        if ctypes.CDLL("libcuda.so.1").cuDriverGetVersion(ctypes.byref(v)) == 0 and v.value:
            return f"supports CUDA {v.value // 1000}.{v.value % 1000 // 10}"
    except OSError:
        pass
    return None


# ---------------------------------------------------------------------------------------------
# Result files

def make_document(kind: str, model: str, metadata: dict, rows: list[dict]) -> dict:
    return {"schema": SCHEMA, "kind": kind, "model": model, "metadata": metadata, "rows": rows}


def write_results(
    results_dir: Path, stem: str, kind: str, model: str, metadata: dict, rows: list[dict]
) -> tuple[Path, Path]:
    """Write <stem>.json (everything) and <stem>.csv (the rows). Called after every
    measurement, so that a run cut short still leaves what it measured; writes are atomic."""
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = results_dir / f"{stem}.json", results_dir / f"{stem}.csv"
    doc = make_document(kind, model, metadata, rows)
    _atomic_write(json_path, json.dumps(doc, indent=2, allow_nan=True) + "\n")
    lines = _CsvLines()
    writer = csv.DictWriter(lines, fieldnames=CSV_FIELDS, extrasaction="ignore", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({"kind": kind, "model": model, **row})
    _atomic_write(csv_path, "".join(lines.parts))
    return json_path, csv_path


class _CsvLines:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_results(path: Path) -> dict:
    """A results file, checked: the schema, its keys and types, and in every successful row
    (ok_rows) the numbers a table or plot reads; a BenchError names the file and the row."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"cannot read results {path}: {exc}") from None
    if not text.strip():
        raise BenchError(f"results {path} is empty (a run cut short?)")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchError(f"results {path} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise BenchError(f"{path} is not a results file (schema {SCHEMA!r} expected)")
    for key, kind in (("kind", str), ("model", str), ("metadata", dict), ("rows", list)):
        if key not in doc:
            raise BenchError(f"{path}: missing key {key!r}")
        if not isinstance(doc[key], kind):
            raise BenchError(f"{path}: {key!r} is a {type(doc[key]).__name__}, expected a "
                             f"{kind.__name__}")
    axis = "concurrency" if doc["kind"] == "serve" else "batch_size"
    numbers = ("qps", "p50_ms", "p99_ms") if doc["kind"] == "serve" else ("qps",)
    for i, row in enumerate(doc["rows"]):
        if not isinstance(row, dict) or not isinstance(row.get("variant"), str):
            raise BenchError(f"{path}: row {i} is not an object with a 'variant' name")
        if not ok_rows([row]):
            continue  # a failed measurement: its numbers are not read
        value = row.get(axis)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise BenchError(f"{path}: row {i} ({row['variant']}): {axis!r} is {value!r}, "
                             "expected a positive integer")
        for key in numbers:
            if not _finite(row.get(key)):
                raise BenchError(f"{path}: row {i} ({row['variant']}): {key!r} is "
                                 f"{row.get(key)!r}, expected a positive number")
    return doc


def read_results_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_results_dir(results_dir: Path) -> list[tuple[Path, dict]]:
    """All results files directly in results_dir (subfolders such as data-parallel runs are
    left out). JSON files of another schema are skipped silently; a results file that is
    empty, cut short or malformed is skipped with a warning naming it and why."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        why = "is not a directory" if results_dir.exists() else "does not exist"
        raise BenchError(f"results dir {results_dir} {why}")
    docs = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            docs.append((path, read_results(path)))
        except BenchError as exc:
            if "is not a results file" not in str(exc):
                print(f"warning: skipped {exc}", file=sys.stderr, flush=True)
    return docs


def ok_rows(rows: Iterable[dict]) -> list[dict]:
    return [r for r in rows if not r.get("error") and _finite(r.get("latency_ms"))]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


# ---------------------------------------------------------------------------------------------
# Tables

def variant_label(variant: str) -> str:
    if variant in VARIANT_LABELS:
        return VARIANT_LABELS[variant]
    if variant.startswith("ait_"):  # ait_fp16acc, ait_nograph, ...
        return "AIT " + variant[4:].replace("_", " ")
    return variant


def format_table(series: Sequence[tuple[str, Sequence[dict]]]) -> str:
    """Markdown table in the layout of upstream AITemplate's resnet-50 README:
    | Batch size | PT Latency (ms) | PT QPS (im/s) | AIT Latency (ms) | AIT QPS (im/s) |
    one Latency/QPS column pair per series; a missing measurement is a blank cell."""
    header = ["Batch size"]
    for label, _ in series:
        header += [f"{label} Latency (ms)", f"{label} QPS (im/s)"]
    by_batch = [{r["batch_size"]: r for r in ok_rows(rows)} for _, rows in series]
    batches = sorted({b for table in by_batch for b in table})
    body = []
    for batch in batches:
        cells = [str(batch)]
        for table in by_batch:
            row = table.get(batch)
            cells += [f"{row['latency_ms']:.3f}", f"{row['qps']:.2f}"] if row else ["", ""]
        body.append(cells)
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(header), rule] + [fmt(cells) for cells in body])


def progress(tag: str, batch_size: int, variant: str, row: dict) -> None:
    if row.get("error"):
        print(f"[{tag}] bs={batch_size:<4d} {variant:<14s} FAILED: {row['error']}", flush=True)
        return
    extra = f"  compile {row['compile_s']:.1f} s" if row.get("compile_s") else ""
    if row.get("single_ms") is not None:
        extra += f"  single call {row['single_ms']:.3f} ms, host {row['host_us']:.1f} us"
    print(
        f"[{tag}] bs={batch_size:<4d} {variant:<14s} {row['latency_ms']:9.3f} ms "
        f"{row['qps']:10.1f} im/s  ({row['runs']} runs x {row['iters_per_run']} iters){extra}",
        flush=True,
    )


def report_check(tag: str, rows: Sequence[dict]) -> None:
    """One closing line when outputs failed their check: the timings stand, the doubt too."""
    bad = [f"{r['variant']}@{r['batch_size']}" for r in rows
           if "max_rel_err" in r and not r["max_rel_err"] <= CHECK_TOLERANCE]
    if bad:
        print(f"[{tag}] warning: output check above {CHECK_TOLERANCE:g} for {', '.join(bad)}",
              flush=True)


def stats_row(variant: str, batch_size: int, stats: TimingStats, **extra: Any) -> dict:
    row = {"variant": variant, "batch_size": batch_size, "latency_ms": stats.median_ms,
           "qps": qps(batch_size, stats.median_ms)}
    row.update({k: v for k, v in asdict(stats).items() if k != "median_ms"})
    row.update(extra)
    return row
