"""Settings read from the environment: one parser per kind, so that a bad value is an error
naming the variable, never a traceback from int()."""
from __future__ import annotations

import os

from ait.ir.errors import AitError


def env_flag(name: str) -> bool:
    """`name` is set to 1 / true / yes / on (any case)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def env_count(name: str) -> int | None:
    """`name` as a positive integer; None when unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise AitError(f"{name}={text!r}: expected a positive integer (or leave it unset)")
    return value
