"""One convention, one blame (layout.py): a vector kept in another orientation is followed; a matrix never."""

from __future__ import annotations

from grader.judge.grading import grade_submission
from grader.judge.spec import EXAMPLES


def test_column_biases_and_a_column_output_cost_the_shape_checks_only(spec):
    report = grade_submission(EXAMPLES / "mutant_column_vectors.py", spec)
    assert sorted(report.failed) == ["forward_shape", "init_shapes"]
    assert [d.id for d in report.diagnoses] == ["vector_orientation"]


def test_a_column_bias_gradient_of_a_flat_bias_is_still_a_shape_bug(spec):
    """The seed student keeps bs flat and returns d_bs as (H, 1) when O = 1: not a convention of its own."""
    report = grade_submission(EXAMPLES / "seed_student.py", spec)
    assert "gradient_d_bs" in report.failed
