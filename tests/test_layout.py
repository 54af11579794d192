"""One convention, one blame (layout.py): a vector kept in another orientation is followed; a matrix never."""

from __future__ import annotations

import numpy as np

from grader import layout
from grader.engine import grade_submission
from grader.spec import EXAMPLES


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


def test_column_biases_and_a_column_output_cost_the_shape_checks_only(spec):
    report = grade_submission(EXAMPLES / "mutant_column_vectors.py", spec)
    assert sorted(report.failed) == ["forward_shape", "init_shapes"]
    assert [d.id for d in report.diagnoses] == ["vector_orientation"]


def test_a_column_bias_gradient_of_a_flat_bias_is_still_a_shape_bug(spec):
    """The seed student keeps bs flat and returns d_bs as (H, 1) when O = 1: not a convention of its own."""
    report = grade_submission(EXAMPLES / "seed_student.py", spec)
    assert "gradient_d_bs" in report.failed
