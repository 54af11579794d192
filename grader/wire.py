"""Plain data across the process boundary: framing, encoding, and strict decoding.

Only numbers, strings, None, lists, str-keyed dicts and numeric numpy arrays cross. Arrays travel as
dtype + shape + base64 bytes inside JSON; the grader decodes them with `np.frombuffer` after checking
the dtype against an allow-list and the byte count against the shape. Nothing is ever unpickled.

What a reply may cost is bounded by the request: `reply_cap(steps)` is what the child's answer to these
steps can take (a fixed allowance per step, more for steps that return a value, growing with the largest
array the grader sent, never above the fixed MAX_REPLY; a load reply: the fixed LOAD_BYTES, whatever the
file), measured by `cost` (bytes, plus a surcharge per JSON value, which is what makes parsing
expensive). The child's encoder keeps each value within its step's allowance and the whole reply within
the cap (`bounded_plain`, a stub instead of a value too large to send), so a frame over the cap was never
written by the child's
own loop: the grader refuses it from its header, before buffering or parsing it.
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
_json_dumps, _json_loads = json.dumps, json.loads

MAGIC = b"GRD1"
HEADER = struct.Struct(">4sQ")
# Progress markers (which step or line the child is on) are sent before every step: hundreds per
# submission, so they are a fixed binary frame, not JSON (parsing them was a third of the grader's CPU).
PROGRESS_MAGIC = b"GRDP"
PROGRESS = struct.Struct(">4sIii")  # magic, seq, step (-1: none), line (-1: none)
MAX_FRAME = 64 * 1024 * 1024
MAX_DEPTH = 16
MAX_TEXT = 2000  # the grader never needs a longer string from a submission; feedback stays bounded
MAX_INT = 2**63  # ints beyond int64 travel as floats (or a stub): the grader refuses longer ones
VALUE_SURCHARGE = 8  # cost of a JSON value beyond its bytes: a parsed `{}` costs 64 bytes for its 3
STEP_BYTES = 16 * 1024  # any step's result: None, or an exception described in bounded strings
VALUE_BYTES = 256 * 1024  # more for a step that returns a value (call, func, get)...
VALUE_FACTOR = 16  # ...and this many times the largest array the grader sent in the same request
REPLY_BYTES = 64 * 1024  # the reply's own wrapper
# Fixed caps on what one reply may cost the grader, whatever the request or the file: a reply of MAX_REPLY
# parses into ~4x its size at most, so the grader stays small (bench/bench_grader_memory.py measures it)
MAX_REPLY = 16 * 1024 * 1024
LOAD_BYTES = 4 * 1024 * 1024  # a load reply
MAX_SKIPPED = 500  # entries of a load reply's skipped statements; the count of the rest travels as a number
VALUE_STEPS = ("call", "func", "get")
ARRAY_KEY = "__ndarray__"
OBJECT_KEY = "__object__"
NUMERIC_KINDS = "biuf"


class WireError(Exception):
    """A frame or value that does not follow the protocol."""


# ---------------------------------------------------------------- encoding (either side)

def to_plain(value, depth: int = 0, largest: list | None = None):
    """Turn a value into JSON-ready plain data; unknown objects become a typed stub, never an error.
    `largest` ([n]) is raised to the bytes of the largest array met."""
    if depth > MAX_DEPTH:
        return {OBJECT_KEY: "nested too deeply", "repr": ""}
    if value is None or isinstance(value, (bool, str)):
        return value
    if type(value) is int and not -MAX_INT < value < MAX_INT:
        try:
            return float(value)  # what numpy would make of it
        except OverflowError:
            return {OBJECT_KEY: "int too large for a float", "repr": ""}
    if isinstance(value, (int, float)) and type(value) in (int, float, bool):
        return value
    if isinstance(value, (_ndarray, _generic)):
        arr = _np_array(value, copy=True)  # drops subclasses and their overridden operators
        if arr.dtype.kind not in NUMERIC_KINDS:
            return {OBJECT_KEY: f"numpy array of dtype {arr.dtype}", "repr": _short_repr(value)}
        arr = _np_contiguous(arr)
        if largest is not None and isinstance(value, _ndarray):
            largest[0] = max(largest[0], arr.nbytes)
        return {ARRAY_KEY: {"dtype": arr.dtype.str, "shape": list(arr.shape),
                            "data": base64.b64encode(arr.tobytes()).decode("ascii"),
                            "scalar": isinstance(value, np.generic)}}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):  # numpy.str_ keys too, sent as plain str copies
            return {str.__str__(k): to_plain(v, depth + 1, largest) for k, v in value.items()}
        return {OBJECT_KEY: "dict with non-string keys", "repr": _short_repr(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(v, depth + 1, largest) for v in value]
    return {OBJECT_KEY: type(value).__name__, "repr": _short_repr(value)}


def bounded_plain(value, allowance: int):
    """`to_plain(value)`, or a stub saying it was too large when its JSON would cost more than a step's
    `allowance` (less the result's own wrapper): what a legitimate child sends always fits the cap."""
    return bounded_plain_sized(value, allowance)[0]


def bounded_plain_sized(value, allowance: int) -> tuple[object, int]:
    """`bounded_plain`, and what it costs (so the child keeps a whole reply within MAX_REPLY)."""
    plain = to_plain(value)
    try:
        size = cost(_json_dumps(plain, allow_nan=True, separators=(",", ":")).encode("utf-8"))
    except (ValueError, TypeError, RecursionError):
        size = allowance
    if size <= allowance - 64:
        return plain, size
    shape = getattr(value, "shape", None)
    shape = f" of shape {tuple(shape)}" if isinstance(shape, tuple) and len(shape) <= 32 else ""
    return {OBJECT_KEY: f"{type(value).__name__[:60]}{shape} too large to send back", "repr": ""}, 256


def cost(data: bytes) -> int:
    """What a frame's body costs the grader to take in: its bytes, plus a surcharge per JSON value
    (parsing `[{},{},...]` makes 64 bytes of objects out of every 3 bytes)."""
    values = data.count(b",") + data.count(b":") + data.count(b"[") + data.count(b"{")
    # one character beyond Latin-1 makes every string it is in take 4 bytes a character once parsed
    # (a 16 MB frame of one such string cost the grader 199 MB): such a frame costs 4 bytes a byte
    wide = 3 * len(data) if b"\\u" in data or not data.isascii() else 0
    return len(data) + VALUE_SURCHARGE * values + wide


def largest_array(value) -> int:
    """Bytes of the largest numpy array anywhere in a value (a request's steps), without recursion. The
    grader gets the same figure while encoding the request (`dumps(message, largest)`)."""
    largest, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, _ndarray):
            largest = max(largest, item.nbytes)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return largest


def step_allowance(step: dict, largest: int) -> int:
    """What the child's result of one step may cost: every step can raise (bounded strings); a call,
    func or get also returns a value, which may be a few times larger than what it was given."""
    if step.get("do") not in VALUE_STEPS:
        return STEP_BYTES
    return STEP_BYTES + VALUE_BYTES + VALUE_FACTOR * largest


def reply_cap(steps: list[dict], largest: int) -> int:
    """What a reply to these steps may cost (see `cost`), derived only from what the grader sends:
    `largest` is `largest_array(steps)`; never more than MAX_REPLY, whatever the steps."""
    return min(REPLY_BYTES + sum(step_allowance(step, largest) for step in steps), MAX_REPLY)


def load_cap() -> int:
    """What a load reply may cost, whatever the file: at most MAX_SKIPPED entries for the top-level
    statements it skipped (each of bounded strings), and the members' signatures the spec asked for."""
    return LOAD_BYTES


def _short_repr(value, limit: int = 120) -> str:
    try:
        text = repr(value)
    except Exception:  # a lying __repr__ must not break the encoder
        text = "<unrepresentable>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dumps(message, largest: list | None = None) -> bytes:
    body = _json_dumps(to_plain(message, 0, largest), allow_nan=True, separators=(",", ":")).encode("utf-8")
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
        raw = _json_loads(bytes(body))  # (from bytes: no decoded copy of the body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # (nesting deeper than the C stack allows)
        raise WireError(f"frame is not valid JSON: {str(exc)[:200]}") from None
    return from_plain(raw)


def from_plain(value, depth: int = 0):
    """Validate decoded JSON and rebuild numeric arrays; anything unexpected raises WireError."""
    if depth > MAX_DEPTH + 2:
        raise WireError("value nested too deeply")
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 3] + "..."
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        if not -MAX_INT <= value <= MAX_INT:  # the encoder sends none: a forged frame
            raise WireError("an integer too large")
        return value
    if isinstance(value, list):
        return [from_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if ARRAY_KEY in value and len(value) == 1:
            return _decode_array(value[ARRAY_KEY])
        if OBJECT_KEY in value and set(value) <= {OBJECT_KEY, "repr"}:
            name, text = value[OBJECT_KEY], value.get("repr", "")
            if not isinstance(name, str) or not isinstance(text, str):
                raise WireError("bad object stub")
            return Opaque(name[:100], text[:200])
        return {(k if len(k) <= MAX_TEXT else k[: MAX_TEXT - 3] + "..."): from_plain(v, depth + 1)
                for k, v in value.items()}  # JSON object keys are always strings
    raise WireError(f"unexpected JSON value of type {type(value).__name__}")


def _decode_array(spec) -> np.ndarray:
    try:
        text, shape, encoded, scalar = spec["dtype"], spec["shape"], spec["data"], spec.get("scalar", False)
    except (TypeError, KeyError, AttributeError):
        raise WireError("bad array descriptor") from None
    if not (type(text) is str and type(shape) is list and type(encoded) is str and type(scalar) is bool
            and len(spec) == 3 + ("scalar" in spec)):
        raise WireError("bad array descriptor")
    if len(shape) > 32 or not all(type(n) is int and 0 <= n < MAX_FRAME for n in shape):
        raise WireError("bad array shape")
    try:
        dtype = _np_dtype(text)
        data = base64.b64decode(encoded, validate=True)
    except Exception as exc:  # whatever numpy makes of a dtype string, it is a bad descriptor
        raise WireError(f"bad array descriptor: {str(exc)[:100]}") from None
    if dtype.kind not in NUMERIC_KINDS or dtype.hasobject or dtype.fields is not None or dtype.subdtype:
        raise WireError(f"array dtype {dtype} is not numeric")
    if math.prod(shape) * dtype.itemsize != len(data):
        raise WireError("array byte count does not match its shape")
    try:
        arr = _np_frombuffer(data, dtype=dtype).reshape(shape).copy()
    except Exception as exc:  # a shape numpy cannot make, even of zero bytes
        raise WireError(f"bad array shape: {str(exc)[:100]}") from None
    return arr[()] if scalar and arr.shape == () else arr


class Opaque:
    """A value the submission returned that is not plain data (an object, a string array...)."""

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return f"<{self.type_name}>"

    def __eq__(self, other):
        return isinstance(other, Opaque) and (self.type_name, self.text) == (other.type_name, other.text)
