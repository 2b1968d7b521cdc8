"""The split-K forms side by side from the profile cache: for every cached conv problem whose
results hold split-K kernels, the best two-kernel form (conv2d_2x_skN_*), the best cluster form
(conv2d_2x_skNc_*), the best kernel of any other kind, and the winner, in microseconds as the
profiler timed them. With --match REGEX, the same for the kernels whose names match (instead
of the split-K forms): the best matching one, the best other one, the winner.

    PYTHONPATH=. python scripts/dev/splitk_table.py [--cache DIR] [--match REGEX]
"""
from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from pathlib import Path

SPLIT = re.compile(r"^conv2d_2x_sk(\d+)(c?)_")


def best(rows: list[tuple[float, str]]) -> str:
    if not rows:
        return "-"
    ms, name = min(rows)
    return f"{ms * 1e3:.1f} {name.split('_opt_')[0].removeprefix('conv2d_')}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default=None, help="the cache dir (default: AIT_CACHE_DIR)")
    ap.add_argument("--match", default=None,
                    help="a kernel-name regex: its kernels against the rest (not split-K)")
    args = ap.parse_args()
    match = re.compile(args.match) if args.match else None
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from ait.backend.nvcc import cache_dir
    from ait.tune.cache import CACHE_FILE

    path = Path(args.cache or cache_dir()) / CACHE_FILE
    if not path.is_file():
        print(f"no profile cache at {path}", file=sys.stderr)
        return 1
    db = sqlite3.connect(path)
    rows = db.execute("SELECT epilogue, dims, kernel, results FROM profile "
                      "WHERE family = 'conv2d' ORDER BY created").fetchall()
    print("epilogue\tdims\t" + (f"{args.match}\tother" if match else "two-kernel\tcluster\tother")
          + "\twinner")
    for epilogue, dims, kernel, results in rows:
        plain, cluster, other = [], [], []
        for raw in json.loads(results or "[]"):
            if raw.get("status") != "ok" or not raw.get("ms"):
                continue
            if match:
                (plain if match.search(raw["name"]) else other).append((raw["ms"], raw["name"]))
                continue
            m = SPLIT.match(raw["name"])
            (other if m is None else cluster if m.group(2) else plain).append(
                (raw["ms"], raw["name"]))
        if match and plain:
            print("\t".join((epilogue, dims, best(plain), best(other),
                             kernel.removeprefix("conv2d_"))))
        elif not match and (plain or cluster):
            print("\t".join((epilogue, dims, best(plain), best(cluster), best(other),
                             kernel.removeprefix("conv2d_"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
