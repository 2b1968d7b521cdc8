"""What the command-line scripts share: every bad input or fault ends in one line on stderr
that names it, a non-zero exit (1; 2 for bad arguments; 130 for Ctrl-C), and no traceback
unless asked for (``--debug`` or ``AIT_DEBUG=1``)."""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from ait.ir.errors import AitError


def debug_requested(argv: Sequence[str] | None = None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    return "--debug" in argv or os.environ.get("AIT_DEBUG", "").strip().lower() in (
        "1", "true", "yes", "on")


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a ``--debug`` flag and argument errors on one line."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true",
                          help="on an error, show its traceback too (also AIT_DEBUG=1)")

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (seconds, say); NaN and inf are refused."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def port(text: str) -> int:
    """argparse type: a TCP port to listen on, 1 to 65535. 0 (any free port) is refused too:
    Ray Serve's proxy would bind one at random and tell no one which, so the printed URL
    and every client would point at nothing."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {text!r}") \
            from None
    if value == 0:
        raise argparse.ArgumentTypeError("port 0 (any free port) is not served: Ray Serve "
                                         "would not say which it took; give one, 1-65535")
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {text!r}")
    return value


def workdir(text: str) -> Path:
    """argparse type of every script's ``--workdir`` (and of bench_serve's --results-dir):
    an existing directory, or a new one
    whose parent exists (made later, by ``fs.require_writable_dir``, when the run needs it).
    A missing parent is refused rather than created with it: it is more often a typo
    (``/nonexist/w``) than a wish, and a run must not leave a directory tree behind it."""
    path = Path(text).expanduser()
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a directory, got an empty name")
    if path.exists():
        if not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is not a directory (a file is there)")
        return path
    parent = path.parent
    if not parent.is_dir():
        why = "is not a directory" if parent.exists() else "does not exist"
        raise argparse.ArgumentTypeError(
            f"{text}: its parent directory {parent} {why} (create it first)")
    return path


def _message(exc: BaseException) -> str:
    if isinstance(exc, AitError):  # ours: written to be read whole
        return str(exc).strip() or type(exc).__name__
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else "(no message)"
    return text if isinstance(exc, (OSError, ValueError)) else f"{type(exc).__name__}: {text}"


def run(main: Callable[[Sequence[str] | None], int], prog: str,
        argv: Sequence[str] | None = None) -> int:
    """Run a script's ``main(argv)`` under the rule above; returns the exit status."""
    debug = debug_requested(argv)
    try:
        return main(argv)
    except KeyboardInterrupt:
        try:
            from ait.backend import nvcc
            nvcc.cancel_builds()
        except ImportError:
            pass
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the rule: one line, whatever it was
        if debug:
            traceback.print_exc()
        hint = "" if debug or isinstance(exc, (AitError, OSError, ValueError)) else \
            " (--debug or AIT_DEBUG=1 shows the traceback)"
        print(f"{prog}: error: {_message(exc)}{hint}", file=sys.stderr, flush=True)
        return 1
