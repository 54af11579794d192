"""What every check uses: failing with a message and its misconceptions, the configurations a check
runs on, finding a gradient under a renamed key, and whether a returned value holds what was set.
"""

from __future__ import annotations

import numpy as np

from grader.judge import diagnoses, layout
from grader.judge.compare import as_array, same_values, shape_text
from grader.judge.context import Context, Raised
from grader.report import FAILED, CheckResult


MAX_OUTPUT = 1500  # characters of feedback per check: a student reads it, a submission cannot flood it


def keys_text(returned: dict, most: int = 8) -> str:
    keys = [repr(str(k))[:40] for k in list(returned)[:most]]
    more = f" and {len(returned) - most} more" if len(returned) > most else ""
    return (", ".join(keys) or "none") + more


def fail(ctx: Context, result: CheckResult, message: str, status: str = FAILED, *found: str) -> None:
    """Mark a check failed (or errored) with one message, and name the misconceptions it matches."""
    result.status, result.output = status, message
    texts = getattr(ctx.spec.reference, "DIAGNOSES", {})
    for diagnosis_id in found:
        result.diagnoses.append(diagnoses.make(diagnosis_id, result.name, texts))


def config_indices(ctx: Context, check: dict) -> list[int]:
    return check.get("configs", list(range(len(ctx.spec.configs))))


def find_key(returned: dict, key: str, name: str):
    """The value under `key`, or under a renamed key (dW, W, grad_W) with the key it was found under."""
    if key in returned:
        return returned[key], key
    for k, v in returned.items():
        if normalise_key(k) == name.lower():
            return v, k
    return None, None


def normalise_key(key: str) -> str:
    k = str(key).lower().replace("_", "")
    for prefix in ("grad", "d"):
        if k.startswith(prefix) and len(k) > len(prefix):
            return k[len(prefix):]
    return k


def call_text(ctx: Context, config: dict) -> str:
    return f"{ctx.spec.model['class']}({', '.join(f'{k}={v}' for k, v in config.items())})"


def shape_problem(name: str, value, shape: tuple) -> str | None:
    if isinstance(value, Raised):
        return f"reading `{name}` raised {value.info['text']}"
    arr, why = as_array(value)
    if arr is None:
        return f"`{name}` is {why}; expected an array of shape {shape_text(shape)}"
    if arr.shape != shape:
        return f"`{name}` has shape {shape_text(arr.shape)}; expected {shape_text(shape)}"
    return None


def holds(value, want: np.ndarray, how: str | None = None) -> bool:
    """Does a value the submission gave back hold exactly `want` (in the documented shape, or in the
    submission's own orientation `how` of a vector), up to the rounding of float32 at most (students who
    store float32 are right; a float16 store loses what was set)?"""
    if isinstance(value, Raised):
        return False
    arr = as_array(value)[0]
    arr = None if arr is None else layout.as_documented(arr, want.shape, how)
    dtype = np.dtype(getattr(value, "dtype", np.float64))
    if dtype.kind != "f" or dtype.itemsize < 4:
        dtype = np.dtype(np.float32)
    return arr is not None and same_values(arr, want, dtype)
