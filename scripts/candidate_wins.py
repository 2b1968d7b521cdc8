"""Which kernel candidates won, where: the evidence behind ait/tune/prune.py's rules.

Reads benchmark result files (`benchmark_ait.py` JSON: `metadata.kernels` names the kernel
each op ran per batch bucket, the profiler's choice) and prints, per candidate (its name without
the epilogue and accumulator), the problem classes and batch buckets it won, and whether the
rules of tune.prune would still offer it there. With `--cache profile.sqlite` (a profile cache
filled with AIT_ALL_CANDIDATES=1) it also reads every candidate's time per problem and prints
how often each won or came within 2% / 5% of the winner, and every candidate the rules drop
that came within 5%. Needs no GPU.

    python scripts/candidate_wins.py docs/results/*/ait*.json
    python scripts/candidate_wins.py --cache $AIT_CACHE_DIR/profile.sqlite
    python scripts/candidate_wins.py --cache profile.sqlite --leave-one-out resnet50
    python scripts/candidate_wins.py --cache profile.sqlite --leave-one-out resnet18,resnet50 \
        --without conv2d_3x_128x128x64_c1x1,conv2d_gemm3x_128x256x64_c1x1_coop
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ait import AitError, cli, fs  # noqa: E402
from ait.backend.target import Target  # noqa: E402
from ait.compiler.build_graph import build_graph  # noqa: E402
from ait.compiler.compile_model import kernel_requests  # noqa: E402
from ait.ir.epilogue import BIAS, BIAS_ADD, BIAS_ADD_RELU, BIAS_RELU  # noqa: E402
from ait.tune.candidates import all_candidates_for, candidates_for  # noqa: E402
from ait.tune.prune import dropped_by  # noqa: E402
from ait.ops.conv2d import ConvRequest  # noqa: E402
from ait.ops.conv2d import gemm3x  # noqa: E402
from ait.ops.gemm import GemmRequest  # noqa: E402

EPILOGUES = {e.tag: e for e in (BIAS, BIAS_RELU, BIAS_ADD, BIAS_ADD_RELU)}
from modeling.build import build_resnet_graph  # noqa: E402
from modeling.resnet import SPECS  # noqa: E402


def problem_class(r) -> str:
    if isinstance(r, ConvRequest):
        return f"conv {r.r}x{r.s}/s{r.stride[0]} c{r.c} k{r.k} {r.h}x{r.w}"
    return f"gemm n{r.n} k{r.k}"


def base_name(name: str) -> str:
    return re.sub(r"_(bias\w*)_f(16|32)$", "", name)


def open_cache(path: str):
    """The profile cache at `path`, read-only (sqlite3.connect would create a missing file),
    or an AitError saying why it is none: missing, not an SQLite file, no profile table."""
    import sqlite3

    if (why := fs.not_a_file(path)) is not None:
        raise AitError(f"--cache {path} {why} (a profile cache: $AIT_CACHE_DIR/profile.sqlite)")
    try:
        # immutable: a WAL-mode cache opened read-only would still get -wal / -shm files
        # beside it (in docs/results, say); the caches read here are no longer written
        db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro&immutable=1", uri=True)
        db.execute("SELECT family, epilogue, dims, arch, acc, kernel, results FROM profile "
                   "LIMIT 1").fetchall()
    except sqlite3.DatabaseError as e:
        raise AitError(f"--cache {path} is not a profile cache ({e}); expected the "
                       "profile.sqlite that the tuner fills") from None
    return db


def margins(path: str) -> int:
    """Per candidate: wins and near-wins over every problem of a profile cache."""
    db = open_cache(path)
    rows = db.execute("SELECT family, epilogue, dims, arch, acc, kernel, results FROM profile")
    stats = collections.defaultdict(lambda: [0, 0, 0, 0])  # timed, won, within 2%, within 5%
    close_pruned = []
    for family, tag, dims, arch, acc, kernel, results in rows:
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(dims)}
        r = (ConvRequest.of(EPILOGUES[tag], **kw) if family == "conv2d"
             else GemmRequest.of(EPILOGUES[tag], **kw))
        target = Target.for_arch(arch, use_fp16_acc=acc == "f16")
        times = {x["name"]: x["ms"] for x in json.loads(results or "[]")
                 if x.get("status") == "ok" and x.get("ms")}
        if not times:
            continue
        best = min(times.values())
        dropped = dropped_by(target, r, all_candidates_for(target, r))
        for name, ms in times.items():
            st = stats[base_name(name)]
            st[0] += 1
            st[1] += name == kernel
            st[2] += ms <= best * 1.02
            st[3] += ms <= best * 1.05
            if name in dropped and ms <= best * 1.05:
                close_pruned.append(f"{r.describe()}: {name} {ms / best:.3f}x the best "
                                    f"({dropped[name]})")
    print(f"{'candidate':60s} timed  won  <=2%  <=5%")
    for name in sorted(stats):
        print(f"{name:60s} {stats[name][0]:5d} {stats[name][1]:4d} {stats[name][2]:5d} "
              f"{stats[name][3]:5d}")
    print(f"\npruned candidates within 5% of the winner: {len(close_pruned)}")
    for line in close_pruned:
        print("   ", line)
    return 0


def _timings(path: str, model: str, batch: tuple[int, int]):
    """(how often `model`'s graph runs each request, {request: {kernel: best ms}}) from a
    profile cache: every kernel timed ok on each of the model's requests."""
    _, y = build_resnet_graph(model, batch, 224, 1000)
    count: collections.Counter = collections.Counter()
    for reqs in kernel_requests(build_graph(y)).values():
        count.update(r for _, r in reqs)
    times: dict = {}
    db = open_cache(path)
    for family, tag, dims, results in db.execute(
            "SELECT family, epilogue, dims, results FROM profile"):
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(dims)}
        r = (ConvRequest.of(EPILOGUES[tag], **kw) if family == "conv2d"
             else GemmRequest.of(EPILOGUES[tag], **kw))
        if r not in count:
            continue
        t = times.setdefault(r, {})
        for x in json.loads(results or "[]"):
            if x.get("status") == "ok" and x.get("ms"):
                t[x["name"]] = min(t.get(x["name"], float("inf")), x["ms"])
    db.close()
    return count, times


def pruned_loss(path: str, model: str = "resnet50", batch: tuple[int, int] = (1, 256),
                target: Target | None = None) -> dict[int, float]:
    """Per batch bucket, how much slower `model` is with today's pruned candidate lists
    (tune.candidates.candidates_for) than with every candidate the profile cache timed, each
    op at its best candidate: what the rules cost, as that cache measured it. A kernel the
    cache knows by its name from before its measured epilogue subtile (gemm3x.MEASURED_EPI)
    stands for its successor, measured faster on the problems where that tile wins."""
    target = target or Target.for_arch(90)
    count, times = _timings(path, model, batch)
    full: dict[int, float] = collections.defaultdict(float)
    kept: dict[int, float] = collections.defaultdict(float)
    for r, t in times.items():
        if not t:
            continue
        offered = {n for c in candidates_for(target, r)
                   for n in (c.name, gemm3x.name_before_measured_epi(c))}
        full[r.batch] += count[r] * min(t.values())
        kept[r.batch] += count[r] * min((ms for n, ms in t.items() if n in offered),
                                        default=float("inf"))
    return {b: kept[b] / full[b] - 1 for b in sorted(full)}


def leave_one_out(path: str, model: str = "resnet50", batch: tuple[int, int] = (1, 256),
                  budget: float = 0.01, without: frozenset = frozenset()) -> int:
    """Per kernel (its name without the epilogue): how much slower `model` would be at each
    batch bucket without it, from a profile cache's timings (each op at its best remaining
    candidate, ops weighted by how often the graph runs them); then the kernels that can go
    one after another while no bucket loses more than `budget` (issue 11: fewer Hopper
    kernels to compile, at the same speed). With `without`: only the loss per bucket with all
    of those kernels gone at once."""
    count, by_name = _timings(path, model, batch)
    times: dict = {}  # request -> {base name: best ms over its epilogues' kernels}
    for r, t in by_name.items():
        b_t = times.setdefault(r, {})
        for n, ms in t.items():
            b = base_name(n)
            b_t[b] = min(b_t.get(b, float("inf")), ms)
    missing = [r for r in count if r not in times]
    if missing:
        print(f"{len(missing)} of {len(count)} requests of {model} are not in {path}; "
              "their ops are left out")

    def model_ms(without: set) -> dict[int, float]:
        out: dict[int, float] = collections.defaultdict(float)
        for r, t in times.items():
            left = [ms for b, ms in t.items() if b not in without]
            out[r.batch] += count[r] * (min(left) if left else float("inf"))
        return out

    base = model_ms(set())
    names = sorted({b for t in times.values() for b in t})

    def loss(without: set) -> dict[int, float]:
        now = model_ms(without)
        return {b: now[b] / base[b] - 1 for b in sorted(base)}

    if without:
        unknown = sorted(without - set(names))
        print(f"\n{model} {batch[0]}..{batch[1]}: model time lost without "
              f"{', '.join(sorted(without))}" + (f" (never timed here: {', '.join(unknown)})"
                                                  if unknown else ""))
        print(" ".join(f"{b:>6d}" for b in sorted(base)))
        print(" ".join(f"{100 * v:5.1f}%" for v in loss(set(without)).values()))
        return 0
    print(f"\n{model} {batch[0]}..{batch[1]}: model time lost without one kernel, per batch "
          "bucket (ops at their best remaining candidate)")
    print(f"{'kernel':52s} " + " ".join(f"{b:>6d}" for b in sorted(base)))
    for n in names:
        print(f"{n:52s} " + " ".join(f"{100 * v:5.1f}%" for v in loss({n}).values()))
    gone: set = set()
    for n in sorted(names, key=lambda n: max(loss({n}).values())):
        if max(loss(gone | {n}).values()) <= budget:
            gone.add(n)
    worst = max(loss(gone).values()) if gone else 0.0
    print(f"\ncan go together within {100 * budget:.0f}% per bucket (worst {100 * worst:.2f}%): "
          + (", ".join(sorted(gone)) or "none"))
    return 0


def _budget(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite fraction >= 0 (0.01: 1%), got "
                                         f"{text!r}")
    return value


def read_kernels_meta(path: str) -> dict:
    """The metadata of a benchmark_ait.py results file, or an AitError naming the file."""
    import bench_utils as bu

    try:
        meta = bu.read_results(Path(path))["metadata"]
    except bu.BenchError as e:
        raise AitError(f"{e} (expected a benchmark_ait.py results file)") from None
    kernels = meta.get("kernels")
    if kernels is not None and not (
            isinstance(kernels, dict) and isinstance(meta.get("batch_range"), list)
            and all(isinstance(kb, dict) and isinstance(kb.get("upper"), list)
                    and isinstance(kb.get("names"), list) for kb in kernels.values())):
        raise AitError(f"{path}: metadata 'kernels' is malformed (expected op -> "
                       "{'upper': [...], 'names': [...]}, and a 'batch_range')")
    return meta


def main(argv=None) -> int:
    ap = cli.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="*", help="benchmark_ait.py result JSON files")
    ap.add_argument("--cache", help="a profile cache (profile.sqlite) to read the margins from")
    ap.add_argument("--leave-one-out", metavar="MODEL", default=None,
                    help="with --cache: the model time lost per batch bucket without each "
                         "kernel, and the kernels that can go within --budget (e.g. resnet50; "
                         "several: resnet18,resnet50)")
    ap.add_argument("--budget", type=_budget, default=0.01,
                    help="largest model slowdown per bucket for --leave-one-out (0.01)")
    ap.add_argument("--without", default="",
                    help="with --leave-one-out: comma-separated kernels (names as its table "
                         "prints them); prints the loss with all of them gone at once")
    args = ap.parse_args(argv)
    if args.leave_one_out and not args.cache:
        ap.error("--leave-one-out needs --cache")
    if args.leave_one_out:
        unknown = [m for m in args.leave_one_out.split(",") if m not in SPECS]
        if unknown:
            ap.error(f"--leave-one-out: unknown model {unknown[0]!r}; choose from "
                     f"{', '.join(sorted(SPECS))}")
    metas = [(path, read_kernels_meta(path)) for path in args.results]  # all, before any work
    if args.cache:
        margins(args.cache)
    if args.leave_one_out:
        gone = frozenset(k for k in args.without.split(",") if k)
        for model in args.leave_one_out.split(","):
            leave_one_out(args.cache, model, budget=args.budget, without=gone)
    graphs: dict[tuple, dict] = {}
    wins: dict[str, dict[str, set]] = collections.defaultdict(lambda: collections.defaultdict(set))
    pruned: list[str] = []
    for path, meta in metas:
        if "kernels" not in meta:
            continue
        arch = 90 if str(meta.get("gpu", {}).get("capability", "9.0")).startswith("9") else 80
        target = Target.for_arch(arch, use_fp16_acc=bool(meta.get("use_fp16_acc")))
        key = (meta.get("model", "resnet50"), tuple(meta["batch_range"]), meta.get("stem"),
               meta.get("image_size", 224), bool(meta.get("fuse_stem", False)))
        if key not in graphs:
            _, y = build_resnet_graph(key[0], key[1], key[3], 1000, stem=key[2])
            # runs from before the fuse_stem pass name the ops of the unfused graph
            saved = os.environ.get("AIT_FUSE_STEM")
            os.environ["AIT_FUSE_STEM"] = "1" if key[4] else "0"
            try:
                g = build_graph(y)
            finally:
                if saved is None:
                    os.environ.pop("AIT_FUSE_STEM")
                else:
                    os.environ["AIT_FUSE_STEM"] = saved
            reqs = kernel_requests(g)
            graphs[key] = {op.name: dict(reqs[op._uid]) for op in g.ops if op._uid in reqs}
        for op, kb in meta["kernels"].items():
            for bucket, name in zip(kb["upper"], kb["names"]):
                r = graphs[key][op][bucket]
                base = base_name(name)
                wins[base][problem_class(r)].add(bucket)
                if name not in {c.name for c in candidates_for(target, r)}:
                    pruned.append(f"{path}: {op} batch <= {bucket}: {name}")
    for base in sorted(wins):
        total = sum(len(b) for b in wins[base].values())
        print(f"{base}: {total} (class, bucket) wins")
        for cls in sorted(wins[base]):
            print(f"    {cls}  batch buckets {sorted(wins[base][cls])}")
    if args.results:
        print(f"\nwinners the pruning rules would no longer offer: {len(pruned)}")
        for line in pruned:
            print("   ", line)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, "candidate_wins.py"))
