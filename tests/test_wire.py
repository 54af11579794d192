"""The wire format carries plain data only, and the grader's decoder refuses everything else."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from grader import wire


def roundtrip(value):
    frame = wire.dumps(value)
    length = wire.parse_header(frame[: wire.HEADER.size])
    return wire.loads(frame[wire.HEADER.size: wire.HEADER.size + length])


def test_plain_values_and_arrays_survive_with_their_dtype():
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": [1, 2.5, None, "s", True],
             "c": np.float64(3.5), "d": {"nested": np.array([np.nan, np.inf])}}
    back = roundtrip(value)
    assert back["a"].dtype == np.float32 and back["a"].shape == (2, 3)
    assert np.array_equal(back["a"], value["a"])
    assert back["b"] == [1, 2.5, None, "s", True]
    assert back["c"] == 3.5
    assert np.isnan(back["d"]["nested"][0]) and np.isinf(back["d"]["nested"][1])


def test_non_plain_values_become_opaque_stubs_not_objects():
    class Sneaky:
        def __reduce__(self):  # would run code if anyone unpickled it
            return (print, ("unpickled!",))

    back = roundtrip({"obj": Sneaky(), "strings": np.array(["a", "b"]), "keys": {1: 2}})
    assert isinstance(back["obj"], wire.Opaque) and back["obj"].type_name == "Sneaky"
    assert isinstance(back["strings"], wire.Opaque)
    assert isinstance(back["keys"], wire.Opaque)


def test_ndarray_subclasses_arrive_as_plain_arrays():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    liar = np.zeros(3).view(Liar)
    back = roundtrip(liar)
    assert type(back) is np.ndarray and not np.array_equal(back, np.ones(3))


def body(obj) -> bytes:
    return json.dumps(obj).encode()


@pytest.mark.parametrize("descriptor", [
    {"dtype": "|O", "shape": [1], "data": base64.b64encode(b"\0" * 8).decode()},     # object dtype: pickle territory
    {"dtype": "<f8", "shape": [2], "data": base64.b64encode(b"\0" * 8).decode()},    # byte count does not match
    {"dtype": "<U3", "shape": [1], "data": base64.b64encode(b"\0" * 12).decode()},   # not numeric
    {"dtype": "<f8", "shape": [-1], "data": ""},                                     # negative shape
    {"dtype": "<f8", "shape": [1], "data": "!!!"},                                   # not base64
])
def test_decoder_rejects_arrays_that_are_not_plain_numbers(descriptor):
    with pytest.raises(wire.WireError):
        wire.loads(body({wire.ARRAY_KEY: descriptor}))


def test_frames_with_bad_magic_or_huge_length_are_refused():
    with pytest.raises(wire.WireError):
        wire.parse_header(wire.HEADER.pack(b"EVIL", 10))
    with pytest.raises(wire.WireError):
        wire.parse_header(wire.HEADER.pack(wire.MAGIC, wire.MAX_FRAME + 1))
    with pytest.raises(wire.WireError):
        wire.loads(b"\xff\xfe not json")
