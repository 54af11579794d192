"""`grade selftest`: what course-staff CI runs; it must pass on the project and fail loudly otherwise."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess

import pytest
from click.testing import CliRunner

import grader.judge.grading
from grader import cli
from grader.judge import spec as spec_module
from grader.judge.spec import EXAMPLES


@pytest.fixture
def examples(tmp_path, monkeypatch):
    """A pack whose default spec has a small examples folder: a correct file and the update-sign mutant,
    with their expectations (the demo pack's specs and references, linked)."""
    for part in ("specs", "reference", "support"):
        (tmp_path / part).symlink_to(spec_module.PROJECT / part)
    folder = tmp_path / "submissions_example"
    folder.mkdir()
    shutil.copy(EXAMPLES / "correct_vectorised.py", folder / "good.py")
    shutil.copy(EXAMPLES / "mutant_update_sign.py", folder / "wrong.py")
    monkeypatch.setenv(spec_module.PACK_VARIABLE, str(tmp_path))

    # the demo reference declares forward variants, and selftest wants each matched by a mutant example
    shipped = json.loads((EXAMPLES / "expectations.json").read_text())
    matched = {f"zz_{n}": e for n, e in shipped.items()  # (sorted after the test's own examples)
               if set(e["diagnoses"]) & set(spec_module.load().reference.VARIANTS)}
    for name in matched:
        shutil.copy(EXAMPLES / name[3:], folder / name)

    def expect(entries: dict) -> None:
        (folder / "expectations.json").write_text(json.dumps({**matched, **entries}))

    return expect


GOOD = {"fails": [], "diagnoses": []}
WRONG = {"fails": ["update"], "diagnoses": ["update_wrong_direction"]}


@pytest.mark.timeout(240)
def test_selftest_passes_on_the_shipped_examples():
    result = CliRunner().invoke(cli.main, ["selftest"])
    assert result.exit_code == 0, result.output
    expected = json.loads((EXAMPLES / "expectations.json").read_text())
    for name in expected:
        assert f"ok    {name}" in result.output
    assert "ok    reference rnn_seq2one.py  10/10" in result.output
    assert "graded twice: identical apart from execution_time" in result.output
    assert "selftest passed" in result.output
    for spec in spec_module.available():  # every shipped spec, each with its own examples
        assert f"== {spec.id}\n" in result.output
    assert "all passed" in result.output


def test_correct_expectations_pass(examples):
    examples({"good.py": GOOD, "wrong.py": WRONG})
    result = CliRunner().invoke(cli.main, ["selftest", "--spec", "rnn-seq2one"])
    assert result.exit_code == 0, result.output
    assert "ok    wrong.py  9/10" in result.output
    # the reference and the first example with a misconception are graded twice
    assert "ok    rnn_seq2one.py graded twice" in result.output and "ok    wrong.py graded twice" in result.output


def test_a_broken_expectation_exits_one_with_a_table_of_expected_against_got(examples):
    examples({"good.py": GOOD, "wrong.py": {"fails": ["gradient_d_W"], "diagnoses": ["truncated_bptt"]}})
    result = CliRunner().invoke(cli.main, ["selftest", "--spec", "rnn-seq2one"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "ok    good.py  10/10" in result.output
    assert "FAIL  wrong.py  9/10, expected 9.5" in lines
    table = lines[lines.index("FAIL  wrong.py  9/10, expected 9.5") + 1:]
    assert table[0].split() == ["check", "expected", "got"]
    assert table[1].split() == ["gradient_d_W", "failed", "0/0.5", "passed", "0.5/0.5"]
    assert table[2].split() == ["update", "passed", "1/1", "failed", "0/1"]
    assert "update changed" in table[3], "the unexpected failure's feedback is shown under it"
    assert "diagnosis truncated_bptt: expected, not named" in result.output
    assert "diagnosis update_wrong_direction: named, not expected" in result.output
    assert result.output.rstrip().endswith("selftest FAILED: 1 problem(s): wrong.py")


def test_unknown_check_names_and_unlisted_or_missing_files_fail(examples, tmp_path):
    shutil.copy(EXAMPLES / "correct_loops.py", tmp_path / "submissions_example" / "unlisted.py")
    examples({"good.py": {"fails": ["gradient_dW"]}, "wrong.py": WRONG, "gone.py": GOOD})
    result = CliRunner().invoke(cli.main, ["selftest", "--spec", "rnn-seq2one"])
    assert result.exit_code == 1
    assert "expectation names 'gradient_dW', which is not a check of rnn-seq2one" in result.output
    assert "FAIL  unlisted.py: no entry in expectations.json" in result.output
    assert "FAIL  gone.py: listed in expectations.json but not in" in result.output


def test_a_report_that_changes_between_runs_fails_and_names_the_field(examples, monkeypatch):
    examples({"good.py": GOOD, "wrong.py": WRONG})
    real = grader.judge.grading.grade_submission
    calls = {}

    def flaky(path, spec, **kwargs):
        report = real(path, spec, **kwargs)
        calls[path.name] = calls.get(path.name, 0) + 1
        if path.name == "wrong.py" and calls[path.name] == 2:
            report.tests[-1].output += " (a different draw)"
        return report

    monkeypatch.setattr(grader.judge.grading, "grade_submission", flaky)
    result = CliRunner().invoke(cli.main, ["selftest", "--spec", "rnn-seq2one"])
    assert result.exit_code == 1
    assert "FAIL  wrong.py graded twice: not identical apart from execution_time" in result.output
    assert "tests/numerical_gradient/output differs" in result.output


def test_a_report_off_the_schema_fails(examples, monkeypatch):
    examples({"good.py": GOOD, "wrong.py": WRONG})
    real = grader.judge.grading.grade_submission

    def off_schema(path, spec, **kwargs):
        report = real(path, spec, **kwargs)
        if path.name == "good.py":
            report.status = "great"
        return report

    monkeypatch.setattr(grader.judge.grading, "grade_submission", off_schema)
    result = CliRunner().invoke(cli.main, ["selftest", "--spec", "rnn-seq2one"])
    assert result.exit_code == 1
    assert "report does not follow report.schema.json at status: 'great' is not one of" in result.output


# ------------------------------------------------------------------ the documented GitHub workflows

WORKFLOWS = EXAMPLES.parent / "docs" / "workflows"


def load_workflow(name: str) -> dict:
    """Parse with PyYAML where some interpreter here has it (it is not a dependency of the grader)."""
    text = (WORKFLOWS / name).read_text()
    try:
        import yaml
    except ImportError:
        python = shutil.which("python3")
        probe = python and subprocess.run([python, "-c", "import sys, json, yaml; "
                                           "json.dump(yaml.safe_load(sys.stdin), sys.stdout, default=str)"],
                                          input=text, capture_output=True, text=True)
        if not probe or probe.returncode:
            pytest.skip("no YAML parser on this machine; the workflows are checked as text below")
        data = json.loads(probe.stdout)
        return {("on" if k == "true" else k): v for k, v in data.items()}
    data = yaml.safe_load(text)
    return {("on" if k is True else k): v for k, v in data.items()}  # YAML 1.1 reads `on:` as true


def run_lines(workflow: dict) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


@pytest.mark.parametrize("name", ["grader-selftest.yml", "grade-submission.yml"])
def test_workflows_are_valid_yaml_with_jobs_and_steps(name):
    workflow = load_workflow(name)
    assert workflow["on"] and workflow["jobs"]
    for job in workflow["jobs"].values():
        assert job["runs-on"] == "ubuntu-latest" and all("uses" in s or "run" in s for s in job["steps"])


def test_the_staff_workflow_runs_the_selftest_and_builds_the_bundle():
    text = (WORKFLOWS / "grader-selftest.yml").read_text()
    assert "grade selftest --spec rnn-seq2one" in text and "grade bundle --spec rnn-seq2one" in text


def test_the_student_workflows_grade_command_works_as_written(tmp_path):
    """The documented command, run on the seed student: a Markdown summary, then exit 1 below 100 %."""
    text = (WORKFLOWS / "grade-submission.yml").read_text()
    block = " ".join(text.split("run: >-", 1)[1].split("- name:")[0].split())
    command, target = block.split(" >> ")
    args = shlex.split(command)
    assert args[0].endswith("/grade") and args[1] == "rnn.py" and target == '"$GITHUB_STEP_SUMMARY"'
    args = [str(EXAMPLES / "seed_student.py") if a == "rnn.py" else a for a in args[1:]]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 1
    assert result.stdout.startswith("### seed\\_student.py: 8.5 / 10")  # Markdown: the name's `_` escaped
    report_step = text.split("run: .grader/.venv/bin/grade", 1)[1].split("\n", 1)[0].split(" > ")[0]
    args = [str(EXAMPLES / "seed_student.py") if a == "rnn.py" else str(tmp_path / a) if a == "report.json"
            else a for a in shlex.split(report_step)]
    assert CliRunner().invoke(cli.main, args).exit_code == 0
    assert json.loads((tmp_path / "report.json").read_text())["score"] == 8.5


def test_selftest_wants_every_variant_matched_and_none_that_is_the_reference(monkeypatch):
    """Issue 25 item 5: a declared forward variant judges gradients, so it must be real: a mutant names
    it, and the reference's forward is not it."""
    from grader.judge.selftest import variant_problems
    from grader.judge.spec import load

    spec = load()
    reference = spec.reference
    same = {"forward": reference.forward, "backward": reference.backward}
    monkeypatch.setattr(reference, "VARIANTS", {**reference.VARIANTS, "is_the_reference": same})
    lines = variant_problems(spec, {})
    assert any(line.startswith("variant is_the_reference: the reference's forward matches it") for line in lines)
    assert any(line.startswith("variant sigmoid_activation: no mutant example") for line in lines)
    assert not any("sigmoid_activation: the reference" in line for line in lines)
