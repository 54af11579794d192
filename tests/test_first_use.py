"""What a new TA meets first: the help, the usage errors, Ctrl-C, a batch's summary, the list of specs.
Each test is one thing a newcomer tripped on (help without the grading options, `grade grade` in errors,
Ctrl-C read as --fail-under, counts that did not add up, "seed 004" for an assignment)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

from click.testing import CliRunner

from grader import cli
from grader.course import batch
from grader.judge import spec
from grader.judge.spec import EXAMPLES

SEED = EXAMPLES / "seed_student.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True, timeout=120)


def test_grade_help_shows_the_grading_options_and_the_form_users_type():
    shown = run("--help")
    assert shown.returncode == 0
    assert "Usage: grade SUBMISSION [OPTIONS]" in shown.stdout
    for option in ("--format", "--seed", "--fail-under", "--out", "--spec", "--jobs", "--isolation"):
        assert re.search(rf"^\s+(-\w, )?{option}\b", shown.stdout, re.M), f"{option} missing from grade --help"
    assert not re.search(r"^\s+grade\s", shown.stdout.split("Commands:")[1], re.M), \
        "the hidden `grade` subcommand is not listed as a command"
    assert "grade grade" not in shown.stdout


def test_usage_errors_name_grade_submission_not_grade_grade(tmp_path):
    for args in (["no/such/file.py"], [str(SEED), "--format", "yaml"], [str(SEED), "--bogus"],
                 [str(SEED), "--seed", "-1"]):
        done = run(*args)
        assert done.returncode == 2, args
        assert "Usage: grade SUBMISSION [OPTIONS]" in done.stderr, done.stderr
        assert "Try 'grade --help' for help." in done.stderr
        assert "grade grade" not in done.stderr and "Traceback" not in done.stderr
    assert "Usage: grade SUBMISSION [OPTIONS]" in run("grade", "--help").stdout  # the old spelling still works


def test_ctrl_c_while_grading_one_file_exits_130_with_a_sentence(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, while forward() hangs."""
    text = (EXAMPLES / "correct_vectorised.py").read_text()
    hanging = re.sub(r"(\n(\s+)def forward\(self, x[^\n]*\n)", r"\1\2    while True:\n\2        pass\n", text, count=1)
    assert hanging != text
    path = tmp_path / "hangs.py"
    path.write_text(hanging)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", str(path), "--out", str(tmp_path / "r.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)
    time.sleep(3)  # well inside forward's 5 s call limit: the child is looping
    assert proc.poll() is None, "grading finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert "Interrupted" in stderr and "was not graded" in stderr and "Aborted!" not in stderr
    assert "Traceback" not in stderr and stdout == ""
    assert not (tmp_path / "r.json").exists()


def test_batch_summary_counts_add_up_when_identical_files_are_graded_once(tmp_path):
    folder, out = tmp_path / "class", tmp_path / "out"
    (folder / "nothing_here").mkdir(parents=True)
    (folder / "nothing_here" / "notes.txt").write_text("no code")
    for name in ("ann.py", "bob.py", "cid.py"):  # bob and cid handed in the same file
        shutil.copy(SEED, folder / name)
    shutil.copy(EXAMPLES / "mutant_update_sign.py", folder / "dan.py")

    def summary() -> tuple[str, batch.BatchResult]:
        result = batch.grade_folder(folder, out, spec.load(), jobs=1, quiet=True)
        return batch.render_summary(result, out, spec.load()), result

    text, result = summary()
    assert result.graded == 2, "identical files are graded once"
    first, second = text.splitlines()[:2]
    assert first.startswith("5 submissions in ") and "4 graded, 1 ungradable, 0 not graded" in first
    assert second == ("This run: 4 graded now (2 distinct files: identical files are graded once), 0 reports "
                      "kept from an earlier run, 1 turned away without a file to grade (their reports say why).")

    (folder / "eve.py").write_text(SEED.read_text() + "\n# my own copy\n")
    text, _ = summary()
    numbers = re.match(r"This run: (\d+) graded now.*?, (\d+) reports kept.*?, (\d+) turned away", text.splitlines()[1])
    assert numbers and sum(map(int, numbers.groups())) == 6 and numbers.groups() == ("1", "4", "1"), text
    assert "distinct" not in text.splitlines()[1]


def test_list_specs_describes_each_spec_by_what_students_implement():
    listed = CliRunner().invoke(cli.main, ["--list-specs"])
    assert listed.exit_code == 0
    for each in spec.available():
        line = next(line for line in listed.output.splitlines() if line.split()[0] == each.id)
        assert not re.search(r"\bseed\b", line, re.I), f"{each.id}: 'seed' is history or the hidden seed: {line}"
        model = each.data.get("model")
        names = [model["class"], *model["methods"]] if model else list(each.data["functions"])
        missing = [name for name in names if not re.search(rf"\b{re.escape(name)}\b", line)]
        assert not missing, f"{each.id}: the summary does not name {missing}"
