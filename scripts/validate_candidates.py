"""Check every kernel candidate on ResNet-50's layer shapes and report the winners (GPU needed).

    python scripts/validate_candidates.py --batches 1 32 256 --out results.jsonl

Builds the profilers (timing the cold build), runs every candidate of every shape x epilogue
x batch with the profiler's own correctness check, and prints the best kernel per problem.
Nothing is read from or written to the profile cache. Exit status 1 if any candidate failed.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ait import cli, fs  # noqa: E402
from ait.backend.target import detect_target  # noqa: E402
from ait.tune.validate import validate  # noqa: E402
from modeling.resnet import batch_problem  # noqa: E402
from modeling.resnet50_layers import resnet50_requests  # noqa: E402


def main(argv=None) -> int:
    ap = cli.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=cli.positive_int, nargs="+", default=[1, 32, 256])
    ap.add_argument("--fp16-acc", action="store_true")
    ap.add_argument("--out", default="validate.jsonl")
    args = ap.parse_args(argv)
    out = Path(args.out)  # checked before minutes of builds, not after
    if not out.parent.is_dir():
        ap.error(f"--out {out}: directory {out.parent} does not exist (create it first)")
    if out.is_dir():
        ap.error(f"--out {out}: is a directory; expected a file name")
    for n in args.batches:
        if (why := batch_problem("--batches", n)) is not None:
            ap.error(why)
    fs.require_writable_dir(out.parent, f"--out {out}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    target = detect_target(use_fp16_acc=args.fp16_acc)
    return 1 if validate(target, resnet50_requests(args.batches), args.out) else 0


if __name__ == "__main__":
    sys.exit(cli.run(main, "validate_candidates.py"))
