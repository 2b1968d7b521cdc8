"""Settings read from the environment: one parser per kind, so that a bad value is an error
naming the variable, never a traceback from int()."""
from __future__ import annotations

import os

from ait.ir.errors import AitError

# The words of an on/off setting, any case (model.py's AIT_PDL check and the runtime header's
# readers use the same lists).
ON_WORDS = ("1", "true", "yes", "on")
OFF_WORDS = ("0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """`name` is set to 1 / true / yes / on (any case)."""
    return os.environ.get(name, "").strip().lower() in ON_WORDS


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


def env_switch(name: str, default: bool) -> bool:
    """`name` as on (1 / true / yes / on) or off (0 / false / no / off), any case; `default`
    when unset or empty; anything else is an error (a mistyped "off" must not mean on)."""
    text = os.environ.get(name, "").strip().lower()
    if not text:
        return default
    if text in ON_WORDS or text in OFF_WORDS:
        return text in ON_WORDS
    raise AitError(f"{name}={os.environ[name].strip()!r}: expected 1 or 0 (or true/false, "
                   "yes/no, on/off)")
