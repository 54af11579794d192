"""Numeric comparison and how a mismatch is put into words, without revealing expected values."""

from __future__ import annotations

import numpy as np

from grader.wire import Opaque

TINY = 1e-12


def rel_error(a, b) -> float:
    """max|a-b| / max(|a|+|b|, tiny): symmetric, floored, one number; NaN or inf gives inf."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0 and b.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    a, b = a * 0.5, b * 0.5  # (exact) so that values near the float range (1e308) do not overflow
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a) + np.abs(b))), TINY / 2))


def as_array(value):
    """The submission's value as a float array, or None with a reason when it is not numeric data."""
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "biuf":
        if value.dtype.itemsize > 8 and value.dtype.kind == "f":
            with np.errstate(over="ignore"):  # a longdouble beyond float64's range is inf, as numpy says
                return np.asarray(value).astype(float), None
        return np.asarray(value).astype(float), None
    if type(value) in (bool, int, float):
        try:
            return np.asarray(value, dtype=float), None
        except OverflowError:  # an int beyond any float
            return None, "an integer too large for a float"
    if isinstance(value, list):
        try:
            with np.errstate(over="ignore"):
                arr = np.asarray(value, dtype=float)
        except Exception:  # ragged, nested objects, ints beyond floats: whatever numpy refuses
            return None, "a list that is not a rectangular list of numbers"
        return arr, None
    return None, describe_type(value)


def describe_type(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, Opaque):
        return f"an object of type {value.type_name}"
    if isinstance(value, dict):
        return "a dict"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def shape_text(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def nonfinite(arr: np.ndarray) -> bool:
    return not bool(np.all(np.isfinite(arr)))


def mismatch(got: np.ndarray, want: np.ndarray) -> str:
    """How far off a value is, as a student can use it: how many entries, how large the error."""
    bad = ~np.isclose(got, want, rtol=1e-5, atol=1e-8)
    return (f"{int(bad.sum())} of {got.size} entries differ; relative error {rel_error(got, want):.2e}")


def same_values(got: np.ndarray, want: np.ndarray, dtype=None) -> bool:
    """Equal up to the rounding of the dtype the submission stores (float32 students round weights)."""
    dtype = np.dtype(dtype if dtype is not None else got.dtype)
    resolution = np.finfo(dtype).eps if dtype.kind == "f" else 0.0
    return got.shape == want.shape and rel_error(got, want) <= max(1e-12, 4 * resolution)
