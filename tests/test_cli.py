"""The command line as course staff use it: exit codes, output formats, reports on disk."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from click.testing import CliRunner

from grader import cli
from grader.report import validate
from grader.judge.spec import EXAMPLES

CORRECT = str(EXAMPLES / "correct_vectorised.py")
SEED = str(EXAMPLES / "seed_student.py")


def invoke(*args):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def test_grade_prints_a_summary_and_exits_zero_whatever_the_score():
    result = invoke(SEED)
    assert result.exit_code == 0
    assert "seed_student.py: 8.5 / 10" in result.output
    assert "FAIL  gradient_d_bs" in result.output and "Hint:" in result.output


def test_out_writes_a_valid_json_report(tmp_path):
    out = tmp_path / "reports" / "r.json"
    result = invoke(CORRECT, "--out", str(out))
    assert result.exit_code == 0
    report = json.loads(out.read_text())
    validate(report)
    assert report["score"] == 10 and report["submission"]["name"] == "correct_vectorised.py"
    assert not list(out.parent.glob(".*tmp")), "no temporary file is left behind"


def test_format_json_prints_only_the_report():
    result = invoke(SEED, "--format", "json", "--seed", "5")
    report = json.loads(result.stdout)  # stderr may name missing isolation layers, for staff
    validate(report)
    assert report["seed"] == 5 and report["score"] == 8.5


def test_fail_under_exits_one_below_the_threshold():
    assert invoke(SEED, "--fail-under", "90").exit_code == 1
    assert invoke(SEED, "--fail-under", "80").exit_code == 0


def test_usage_errors_exit_two_with_a_sentence():
    missing = CliRunner().invoke(cli.main, ["no/such/file.py"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    bad_spec = CliRunner().invoke(cli.main, [CORRECT, "--spec", "nope"])
    assert bad_spec.exit_code == 2 and "known specs: rnn-seq2one" in bad_spec.output
    bad_format = CliRunner().invoke(cli.main, [CORRECT, "--format", "yaml"])
    assert bad_format.exit_code == 2


def test_installed_console_script_grades_a_file():
    script = shutil.which("grade", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert script, "the `grade` console script is installed next to this interpreter"
    done = subprocess.run([script, CORRECT, "--format", "json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)["score"] == 10


def test_the_child_starts_before_the_grader_loads_numpy_and_is_always_closed(tmp_path, monkeypatch):
    """`grade FILE` starts the child first, so its start-up overlaps the grader's imports; a child that
    is never used (the file turns out unreadable) is closed all the same."""
    import grader.judge.grading
    from grader.sandbox.process import Sandbox

    seen = []
    real = grader.judge.grading.grade_submission

    def spy(path, spec, **kwargs):
        box = kwargs.get("sandbox")
        seen.append(box)
        report = real(path, spec, **kwargs)
        assert box is None or not box.alive, "the early child is closed when grading ends"
        return report

    monkeypatch.setattr(grader.judge.grading, "grade_submission", spy)
    assert invoke(CORRECT).exit_code == 0
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\x00\x01")
    assert "Ungradable" in invoke(str(binary)).output
    assert all(isinstance(box, Sandbox) for box in seen) and len(seen) == 2


def test_out_holds_the_format_that_format_names(tmp_path):
    """`--out FILE` writes what `--format` names; without --format, the JSON report (README, --help)."""
    import xml.etree.ElementTree as ET
    from pathlib import Path

    import xmlschema

    junit = tmp_path / "junit.xml"
    result = invoke(SEED, "--format", "junit", "--out", str(junit))
    assert result.exit_code == 0
    xmlschema.XMLSchema(str(Path(__file__).parent / "junit.xsd")).validate(str(junit))
    assert ET.parse(junit).getroot().tag == "testsuites" and junit.read_text() == result.stdout
    markdown = tmp_path / "summary.md"
    assert invoke(SEED, "--format", "markdown", "--out", str(markdown)).exit_code == 0
    assert markdown.read_text().startswith("### seed\\_student.py: 8.5 / 10")
    text = tmp_path / "r.txt"
    assert invoke(SEED, "--format", "text", "--out", str(text)).exit_code == 0
    assert text.read_text().startswith("seed_student.py: 8.5 / 10")
    default = tmp_path / "r.json"
    assert invoke(SEED, "--out", str(default)).exit_code == 0
    assert json.loads(default.read_text())["score"] == 8.5
    assert "--out holds the --format given (else JSON)" in invoke("--help").output
