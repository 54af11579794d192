"""Every example in submissions_example/ fails exactly the checks its expectation lists."""

from __future__ import annotations

import json

import pytest

from grader.report import validate
from grader.spec import EXAMPLES, load

EXPECTATIONS = json.loads((EXAMPLES / "expectations.json").read_text())
CHECKS = [c["name"] for c in load().checks]


def test_every_example_has_an_expectation_and_every_expectation_a_file():
    files = {p.name for p in EXAMPLES.iterdir() if p.suffix in (".py", ".ipynb")}
    assert files == set(EXPECTATIONS)
    for name, entry in EXPECTATIONS.items():
        assert set(entry["fails"]) <= set(CHECKS), name


def test_enough_examples_of_each_kind():
    names = list(EXPECTATIONS)
    assert sum(n.startswith("correct_") for n in names) >= 2
    assert sum(n.startswith("mutant_") for n in names) >= 12
    assert sum(n.startswith("hostile_") for n in names) >= 6


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_example_fails_exactly_its_expected_checks(name, graded):
    report = graded(name)
    data = report.to_dict()
    validate(data)
    assert sorted(report.failed) == sorted(EXPECTATIONS[name]["fails"]), [
        (t.name, t.output) for t in report.tests if t.status != "passed"]
    expected_score = sum(c["points"] for c in load().checks if c["name"] not in EXPECTATIONS[name]["fails"])
    assert report.score == pytest.approx(expected_score)
    for test in report.tests:
        if test.status != "passed":
            assert test.output, f"{test.name} failed without saying why"
    # each named misconception fires on its own example and stays silent on every other one
    assert sorted(d.id for d in report.diagnoses) == EXPECTATIONS[name]["diagnoses"]


@pytest.mark.parametrize("name", ["correct_vectorised.py", "correct_loops.py"])
def test_correct_examples_score_full_marks(name, graded):
    report = graded(name)
    assert (report.score, report.max_score) == (10.0, 10.0)
    assert report.diagnoses == []


def test_seed_student_is_told_what_is_wrong(graded):
    """The real student's two bugs are named, with a hint, and only those."""
    report = graded("seed_student.py")
    ids = {d.id: d.checks for d in report.diagnoses}
    assert ids == {"gradient_wrong_shape": ["gradient_d_bs"], "update_wrong_direction": ["update"],
                   "update_rescaled": ["update"]}
    by_name = {t.name: t for t in report.tests}
    assert "output_size=1" in by_name["gradient_d_bs"].output and "(3, 1)" in by_name["gradient_d_bs"].output
    # the notebook's get_ipython() lines were not run, and the student is told so
    assert "IPython commands (lines 401, 407)" in by_name["interface"].output
    assert by_name["interface"].status == "passed"


def test_hang_in_update_costs_only_update_and_one_limit(graded):
    spec = load()
    report = graded("hostile_hang_update.py")
    assert report.failed == ["update"]
    assert "did not finish within" in {t.name: t.output for t in report.tests}["update"]
    assert report.execution_time < spec.limits().call_seconds + 10
