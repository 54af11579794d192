"""compare.py: one error measure, NaN and inf handled, mismatches worded without the expected values."""

from __future__ import annotations

import numpy as np
import pytest

from grader.judge.compare import as_array, mismatch, nonfinite, rel_error, same_values, shape_text


def test_the_relative_error_is_symmetric_floored_and_one_number():
    a, b = np.array([1.0, 2.0]), np.array([1.0, 2.2])
    assert rel_error(a, b) == rel_error(b, a) == pytest.approx(0.2 / 4.2)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([]), np.array([])) == 0.0


def test_nan_or_inf_is_never_close():
    assert rel_error(np.array([np.nan]), np.array([np.nan])) == float("inf")
    assert rel_error(np.array([1.0]), np.array([np.inf])) == float("inf")
    assert nonfinite(np.array([1.0, np.nan])) and not nonfinite(np.array([1.0]))


def test_only_numeric_data_becomes_an_array():
    assert as_array([[1, 2], [3, 4]])[0].shape == (2, 2)
    assert as_array(3)[0].shape == ()
    assert as_array([[1, 2], [3]])[0] is None  # ragged
    assert as_array("12")[0] is None and "string" in as_array("12")[1]
    assert as_array(None)[1] == "None"


def test_a_mismatch_says_how_many_entries_and_how_far_never_the_values():
    text = mismatch(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.5]))
    assert text.startswith("1 of 3 entries differ; relative error")
    assert "3.5" not in text


def test_float32_rounding_is_allowed_only_for_float32():
    want = np.random.default_rng(0).uniform(-1, 1, 10)
    stored = want.astype(np.float32)
    assert same_values(stored.astype(float), want, np.float32)
    assert not same_values(stored.astype(float), want, np.float64)
    assert shape_text((3,)) == "(3,)" and shape_text((2, 3)) == "(2, 3)"
