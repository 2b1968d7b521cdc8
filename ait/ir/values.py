"""Arrays handed to ait (inputs, weights): checked and cast so that no number changes silently.

Only real numbers are accepted: strings, objects, booleans and complex values are an error
naming the array. Integers pass only where the target dtype holds every value exactly;
floats that do not fit the target's range (float16: |x| <= 65504) are an error; NaN / Inf
are an error where ``finite`` asks for it. A float narrowed to a smaller float (float64 or
float32 -> float16) is rounded: the caller learns it from ``Checked.rounded`` to say so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ait.ir.errors import AitError

_KIND_NAMES = {"U": "a string array", "S": "a bytes array", "O": "an object array",
               "V": "a structured array", "b": "a boolean array", "c": "a complex array",
               "M": "a datetime array", "m": "a timedelta array"}


@dataclass(frozen=True)
class Checked:
    array: np.ndarray
    rounded: bool  # a wider float was rounded to the target dtype


def checked_array(value, what: str, dtype: str = "float32", *, allow_int: bool = False,
                  finite: bool = False) -> Checked:
    """``value`` as a ``dtype`` array, or an AitError naming ``what`` and what was expected."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise AitError(f"{what}: not an array of numbers ({e})") from None
    target = np.dtype(dtype)
    kind = arr.dtype.kind
    expected = f"expected real numbers (float16 or float32) for a {target.name} tensor"
    if kind in _KIND_NAMES:
        raise AitError(f"{what} is {_KIND_NAMES[kind]} ({arr.dtype}); {expected}")
    if kind in "iu":
        if not allow_int:
            raise AitError(f"{what} is {arr.dtype}; {expected}")
        cast = arr.astype(target)
        if arr.size and not np.array_equal(cast.astype(arr.dtype), arr):
            raise AitError(f"{what} is {arr.dtype} with values that {target.name} cannot hold "
                           f"exactly (largest |x| {np.abs(arr).max()}); {expected}")
        return Checked(cast, False)
    if kind != "f":
        raise AitError(f"{what} has dtype {arr.dtype}; {expected}")
    if finite and arr.size and not np.isfinite(arr).all():
        bad = ~np.isfinite(arr)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AitError(f"{what} has {int(bad.sum())} NaN/Inf value(s) (first at index "
                       f"{first}); expected finite numbers")
    with np.errstate(over="ignore"):  # an overflow is reported below, by name
        cast = arr.astype(target, copy=False)
    if arr.dtype.itemsize > target.itemsize and arr.size:
        over = np.isfinite(arr) & ~np.isfinite(cast)
        if over.any():
            raise AitError(f"{what} has {int(over.sum())} value(s) beyond the {target.name} "
                           f"range (largest |x| {float(np.abs(arr[over]).max()):.6g}, "
                           f"{target.name} holds up to {float(np.finfo(target).max):.6g})")
    return Checked(cast, arr.dtype.itemsize > target.itemsize)
