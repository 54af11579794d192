"""layout.py's pure rules: which orientation is followed, and how values go out and come back."""

from __future__ import annotations

import numpy as np

from grader.judge import layout


def test_only_the_same_vector_in_another_orientation_is_followed():
    assert layout.followed((4, 1), (4,)) == "column"
    assert layout.followed((1, 4), (4,)) == "row"
    assert layout.followed((4,), (4, 1)) == "flat"
    assert layout.followed((4,), (4,)) is None  # nothing to follow
    assert layout.followed((1, 1), (1,)) is None  # a length of 1 cannot tell a column from a row
    assert layout.followed((3, 2), (2, 3)) is None  # a transposed matrix is the student's error
    assert layout.followed((5, 1), (4,)) is None  # other entries: not the same vector


def test_values_go_out_in_the_students_orientation_and_come_back_documented():
    bs = np.arange(4.0)
    column = layout.arrange(bs, "column")
    assert column.shape == (4, 1)
    assert layout.as_documented(column, (4,), "column") is not None
    assert layout.as_documented(column, (4,), None) is None  # a column where none was made is a shape bug
    assert layout.as_documented(np.zeros((1, 4)), (4,), "column") is None
