"""Plain data across the process boundary: framing, encoding, and strict decoding.

Only numbers, strings, None, lists, str-keyed dicts and numeric numpy arrays cross. Arrays travel as
dtype + shape + base64 bytes inside JSON; the grader decodes them with `np.frombuffer` after checking
the dtype against an allow-list and the byte count against the shape. Nothing is ever unpickled.
"""

from __future__ import annotations

import base64
import json
import math
import os
import struct

import numpy as np

# Bound before any student code runs, so a submission that patches numpy cannot break the channel.
_np_array, _np_frombuffer, _np_contiguous, _np_dtype = np.array, np.frombuffer, np.ascontiguousarray, np.dtype
_ndarray, _generic = np.ndarray, np.generic

MAGIC = b"GRD1"
HEADER = struct.Struct(">4sQ")
# Progress markers (which step or line the child is on) are sent before every step: hundreds per
# submission, so they are a fixed binary frame, not JSON (parsing them was a third of the grader's CPU).
PROGRESS_MAGIC = b"GRDP"
PROGRESS = struct.Struct(">4sIii")  # magic, seq, step (-1: none), line (-1: none)
MAX_FRAME = 64 * 1024 * 1024
MAX_DEPTH = 16
MAX_TEXT = 2000  # the grader never needs a longer string from a submission; feedback stays bounded
ARRAY_KEY = "__ndarray__"
OBJECT_KEY = "__object__"
NUMERIC_KINDS = "biuf"


class WireError(Exception):
    """A frame or value that does not follow the protocol."""


# ---------------------------------------------------------------- encoding (either side)

def to_plain(value, depth: int = 0):
    """Turn a value into JSON-ready plain data; unknown objects become a typed stub, never an error."""
    if depth > MAX_DEPTH:
        return {OBJECT_KEY: "nested too deeply", "repr": ""}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and type(value) in (int, float, bool):
        return value
    if isinstance(value, (_ndarray, _generic)):
        arr = _np_array(value, copy=True)  # drops subclasses and their overridden operators
        if arr.dtype.kind not in NUMERIC_KINDS:
            return {OBJECT_KEY: f"numpy array of dtype {arr.dtype}", "repr": _short_repr(value)}
        arr = _np_contiguous(arr)
        return {ARRAY_KEY: {"dtype": arr.dtype.str, "shape": list(arr.shape),
                            "data": base64.b64encode(arr.tobytes()).decode("ascii"),
                            "scalar": isinstance(value, np.generic)}}
    if isinstance(value, dict):
        if all(type(k) is str for k in value):
            return {k: to_plain(v, depth + 1) for k, v in value.items()}
        return {OBJECT_KEY: "dict with non-string keys", "repr": _short_repr(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(v, depth + 1) for v in value]
    return {OBJECT_KEY: type(value).__name__, "repr": _short_repr(value)}


def _short_repr(value, limit: int = 120) -> str:
    try:
        text = repr(value)
    except Exception:  # a lying __repr__ must not break the encoder
        text = "<unrepresentable>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dumps(message) -> bytes:
    body = json.dumps(to_plain(message), allow_nan=True, separators=(",", ":")).encode("utf-8")
    return HEADER.pack(MAGIC, len(body)) + body


def write_frame(fd: int, message) -> None:
    data = memoryview(dumps(message))
    while data:
        written = os.write(fd, data)
        data = data[written:]


# ---------------------------------------------------------------- decoding (grader side: strict)

def progress_frame(seq: int, step: int | None = None, line: int | None = None) -> bytes:
    return PROGRESS.pack(PROGRESS_MAGIC, seq, -1 if step is None else step, -1 if line is None else line)


def parse_progress(frame: bytes) -> dict:
    """A progress frame as the message it stands for: {"seq": n, "progress": {"step"/"line": n}}."""
    _, seq, step, line = PROGRESS.unpack(frame)
    marker = {k: v for k, v in (("step", step), ("line", line)) if v >= 0}
    return {"seq": seq, "progress": marker}


def parse_header(header: bytes) -> int:
    magic, length = HEADER.unpack(header)
    if magic != MAGIC:
        raise WireError("bad frame magic")
    if length > MAX_FRAME:
        raise WireError(f"frame of {length} bytes exceeds the {MAX_FRAME}-byte cap")
    return length


def loads(body: bytes):
    try:
        raw = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"frame is not valid JSON: {exc}") from None
    return from_plain(raw)


def from_plain(value, depth: int = 0):
    """Validate decoded JSON and rebuild numeric arrays; anything unexpected raises WireError."""
    if depth > MAX_DEPTH + 2:
        raise WireError("value nested too deeply")
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 3] + "..."
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, list):
        return [from_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if ARRAY_KEY in value and len(value) == 1:
            return _decode_array(value[ARRAY_KEY])
        if OBJECT_KEY in value and set(value) <= {OBJECT_KEY, "repr"}:
            return Opaque(str(value[OBJECT_KEY])[:100], str(value.get("repr", ""))[:200])
        return {(k if len(k) <= MAX_TEXT else k[: MAX_TEXT - 3] + "..."): from_plain(v, depth + 1)
                for k, v in value.items()}  # JSON object keys are always strings
    raise WireError(f"unexpected JSON value of type {type(value).__name__}")


def _decode_array(spec) -> np.ndarray:
    if not isinstance(spec, dict):
        raise WireError("array descriptor is not an object")
    try:
        dtype = _np_dtype(str(spec["dtype"]))
        shape = tuple(int(n) for n in spec["shape"])
        data = base64.b64decode(spec["data"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"bad array descriptor: {exc}") from None
    if dtype.kind not in NUMERIC_KINDS or dtype.hasobject or dtype.fields is not None:
        raise WireError(f"array dtype {dtype} is not numeric")
    if any(n < 0 for n in shape) or len(shape) > 32:
        raise WireError("bad array shape")
    if math.prod(shape) * dtype.itemsize != len(data):
        raise WireError("array byte count does not match its shape")
    arr = _np_frombuffer(data, dtype=dtype).reshape(shape).copy()
    return arr[()] if spec.get("scalar") and arr.shape == () else arr


class Opaque:
    """A value the submission returned that is not plain data (an object, a string array...)."""

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return f"<{self.type_name}>"

    def __eq__(self, other):
        return isinstance(other, Opaque) and (self.type_name, self.text) == (other.type_name, other.text)
