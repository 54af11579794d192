"""Batch grading a folder (`grade FOLDER --out OUTDIR`): discovery, reports, summary, parallelism,
resuming after an interruption, and hostile submissions that must not cost anyone else's report."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import grader.judge.grading
from classroom import make_class
from grader import cli
from grader.course import batch, discovery
from grader.report import validate
from grader.judge.spec import EXAMPLES, SPECS, load

EXPECTATIONS = json.loads((EXAMPLES / "expectations.json").read_text())
CORRECT = (EXAMPLES / "correct_vectorised.py").read_text()
HOSTILE_QUICK = ["hostile_exit_get_weights.py", "hostile_segfault_backward.py", "hostile_hang_update.py",
                 "hostile_memory_hog_update.py", "hostile_flood_output.py"]


@pytest.fixture
def quick_spec(tmp_path) -> Path:
    """The default spec with short time limits, so that hostile submissions cost seconds, not tens."""
    data = json.loads((SPECS / "rnn-seq2one.json").read_text())
    data["limits"].update(load_seconds=4, statement_seconds=1, call_seconds=2)
    path = tmp_path / "quick-spec.json"
    path.write_text(json.dumps(data))
    return path


def run_cli(*args, env_tmp: Path | None = None, **popen) -> subprocess.Popen:
    """The real command in its own process; TMPDIR marks every process it starts (see `leftovers`)."""
    env = dict(os.environ)
    if env_tmp is not None:
        env_tmp.mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(env_tmp)
    return subprocess.Popen([sys.executable, "-m", "grader.cli", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def leftovers(marker: Path) -> list[int]:
    """Processes still running whose environment names the batch's TMPDIR (or a scratch under it)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(marker).encode() in environ and state != "Z":
            found.append(int(name))
    return found


def wait_gone(marker: Path, seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := leftovers(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def reports_in(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json") if not p.name.startswith("summary")}


def failing(report: dict) -> list[str]:
    return sorted(t["name"] for t in report["tests"] if t["status"] != "passed")


def assert_as_expected(reports: dict[str, dict], expected: dict[str, str]) -> None:
    assert sorted(reports) == sorted(expected)
    for sid, example in expected.items():
        report = reports[sid]
        validate(report)
        assert report["submission"]["id"] == sid
        assert failing(report) == sorted(EXPECTATIONS[example]["fails"]), (sid, example, report["output"])


# ------------------------------------------------------------------ discovery

def test_discovery_reads_the_names_course_platforms_give(tmp_path):
    (tmp_path / "alice.py").write_text("x = 1")
    (tmp_path / "leealice_12345_67890_rnn.py").write_text("x = 2")  # Canvas
    (tmp_path / "smithbob_LATE_23456_78901_rnn.ipynb").write_text("{}")  # Canvas, late
    moodle = tmp_path / "Carol Doe_34567_assignsubmission_file_"
    moodle.mkdir()
    (moodle / "my_rnn.py").write_text("x = 3")
    (tmp_path / "submission_111").mkdir()
    (tmp_path / "submission_111" / "rnn.py").write_text("x = 4")
    (tmp_path / "submission_metadata.yml").write_text(
        "submission_111:\n  :submitters:\n  - :name: Dan\n    :sid: 'S-42'\n    :email: dan@example.com\n")
    (tmp_path / "README.txt").write_text("not a submission")
    found, ignored = discovery.discover(tmp_path)
    by_id = {s.id: s for s in found}
    assert sorted(by_id) == ["12345", "23456", "34567", "S-42", "alice"]
    assert by_id["12345"].name == "rnn.py", "feedback uses the name the student gave the file"
    assert by_id["34567"].path == moodle / "my_rnn.py"
    assert [p.name for p in ignored] == ["README.txt"]


def test_a_folder_with_several_files_grades_the_one_the_rule_chooses_and_lists_the_others(tmp_path):
    sub = tmp_path / "erin"
    (sub / "scratch").mkdir(parents=True)
    (sub / "rnn.py").write_text("x = 1")
    (sub / "scratch" / "old_rnn.py").write_text("x = 2")
    (sub / ".ipynb_checkpoints").mkdir()
    (sub / ".ipynb_checkpoints" / "rnn-checkpoint.py").write_text("x = 3")
    (tmp_path / "empty").mkdir()
    found = {s.id: s for s in discovery.discover(tmp_path, marker="class RNN")[0]}
    # the one rule (discovery.choose, also gradescope-run's): shallower first, the others listed
    assert found["erin"].path == sub / "rnn.py" and found["erin"].others == ["scratch/old_rnn.py"]
    assert found["empty"].path is None and "no .py or .ipynb" in found["empty"].problem
    (sub / "scratch" / "old_rnn.py").write_text("class RNN:\n    pass\n")  # the file that defines the class
    assert {s.id: s for s in discovery.discover(tmp_path, marker="class RNN")[0]}["erin"].path == sub / "scratch" / "old_rnn.py"
    picked = {s.id: s for s in discovery.discover(tmp_path, pick="rnn.py", marker="class RNN")[0]}
    assert picked["erin"].path == sub / "rnn.py"


def test_ids_never_collide_and_are_safe_file_names(tmp_path):
    (tmp_path / "lee_12345_1_rnn.py").write_text("x = 1")
    (tmp_path / "lee_12345_2_rnn.py").write_text("x = 2")  # the same student twice: one submission
    (tmp_path / "12345.py").write_text("x = 3")  # another student, whose file name is that id
    (tmp_path / "we ird?name.py").write_text("x = 4")
    ids = [s.id for s in discovery.discover(tmp_path)[0]]
    assert len(set(ids)) == len(ids) == 3
    assert all(all(c.isalnum() or c in "._-" for c in i) for i in ids), ids


# ------------------------------------------------------------------ one batch, end to end

def test_a_batch_writes_a_valid_report_per_submission_and_a_summary(tmp_path, quick_spec):
    expected = make_class(tmp_path / "class", 14, hostile_share=0.3, duplicates=2, hostile=HOSTILE_QUICK)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.main, [str(tmp_path / "class"), "--out", str(out), "--spec", str(quick_spec),
                                           "--jobs", "2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "14 submissions" in result.output and "Reports and summary.csv are in" in result.output
    reports = reports_in(out)
    assert_as_expected(reports, expected)
    with open(out / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    checks = [c["name"] for c in load(quick_spec).checks]
    # the score that counts first, the grader's own beside it (issue 28, item 4): no adjustment, no policy here
    assert list(rows[0]) == ["id", "name", "score", "grader_score", "adjusted", "late_penalty", "max_score", *checks,
                             "status", "sha256", "file", "late", "handed_in"]
    assert {r["id"]: float(r["score"]) for r in rows} == {i: r["score"] for i, r in reports.items()}
    assert {r["id"]: float(r["grader_score"]) for r in rows} == {i: r["score"] for i, r in reports.items()}
    for row in rows:
        report = reports[row["id"]]
        assert {c: float(row[c]) for c in checks} == {t["name"]: t["score"] for t in report["tests"]}
        assert row["sha256"] == report["submission"]["sha256"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["count"] == 14 and len(summary["submissions"]) == 14
    for check in checks:
        passed = sum(any(t["name"] == check and t["status"] == "passed" for t in r["tests"]) for r in reports.values())
        assert summary["pass_rates"][check] == round(passed / 14, 4)


def test_identical_files_are_graded_once_and_reported_for_each_id(tmp_path, monkeypatch):
    for name in ("ann.py", "bob.py", "cat.py"):
        (tmp_path / "class").mkdir(exist_ok=True)
        (tmp_path / "class" / name).write_text(CORRECT)
    result = batch.grade_folder(tmp_path / "class", tmp_path / "out", load(), quiet=True, jobs=1)
    assert result.graded == 1
    reports = reports_in(tmp_path / "out")
    assert sorted(reports) == ["ann", "bob", "cat"]
    assert {r["submission"]["name"] for r in reports.values()} == {"ann.py", "bob.py", "cat.py"}
    assert {r["score"] for r in reports.values()} == {10.0}


# ------------------------------------------------------------------ resuming

def test_a_second_run_grades_only_what_changed(tmp_path):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    (folder / "ann.py").write_text(CORRECT)
    (folder / "bob.py").write_text(CORRECT.replace("self.lr * ", "- self.lr * ", 1) if "self.lr * " in CORRECT
                                   else CORRECT + "\n# bob\n")
    spec = load()
    assert batch.grade_folder(folder, out, spec, quiet=True, jobs=1).graded == 2
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    again = batch.grade_folder(folder, out, spec, quiet=True, jobs=1)
    assert again.graded == 0 and again.reused == 2
    assert (out / "ann.json").stat().st_mtime_ns == first["ann.json"], "an up-to-date report is not rewritten"
    (folder / "bob.py").write_text(CORRECT + "\n# bob changed his file\n")
    assert batch.grade_folder(folder, out, spec, quiet=True, jobs=1).graded == 1
    assert batch.grade_folder(folder, out, spec, seed=7, quiet=True, jobs=1).graded == 2, "a new seed re-grades"
    assert batch.grade_folder(folder, out, spec, seed=7, force=True, quiet=True, jobs=1).graded == 2


def test_a_worker_that_dies_costs_one_report_which_the_next_run_redoes(tmp_path, monkeypatch):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    (folder / "ann.py").write_text(CORRECT)
    (folder / "boom.py").write_text(CORRECT + "\n# boom\n")
    real = grader.judge.grading.grade_submission

    def dies_on_boom(path, *args, **kwargs):  # workers are forked, so they see this patch
        if Path(path).name == "boom.py":
            os._exit(3)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(grader.judge.grading, "grade_submission", dies_on_boom)
    first = batch.grade_folder(folder, out, load(), quiet=True, jobs=1)
    assert first.reports["ann"]["score"] == 10
    boom = json.loads((out / "boom.json").read_text())
    validate(boom)
    assert boom["status"] == "error" and "worker died (exit code 3)" in boom["output"]
    monkeypatch.setattr(grader.judge.grading, "grade_submission", real)
    second = batch.grade_folder(folder, out, load(), quiet=True, jobs=1)
    assert second.graded == 1 and second.reports["boom"]["score"] == 10


def test_kill_9_in_the_middle_loses_nothing_and_the_rerun_finishes(tmp_path, quick_spec):
    folder, out, marker = tmp_path / "class", tmp_path / "out", tmp_path / "marker"
    expected = make_class(folder, 40, hostile_share=0.1, hostile=HOSTILE_QUICK, seed=5)
    proc = run_cli(folder, "--out", out, "--spec", quick_spec, "--jobs", "2", env_tmp=marker)
    deadline = time.monotonic() + 120
    while len(reports_in(out)) < 12 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the batch finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not wait_gone(marker), "workers and children die with the grader"
    done = reports_in(out)  # every report on disk is whole: parsing would fail on a torn one
    assert 12 <= len(done) < 40
    for report in done.values():
        validate(report)
    proc = run_cli(folder, "--out", out, "--spec", quick_spec, "--jobs", "2", env_tmp=marker)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr
    assert f"{len(done)} reports kept from an earlier run" in stdout
    assert_as_expected(reports_in(out), expected)
    assert not list(out.glob(".*.tmp"))
    assert not wait_gone(marker)


def test_ctrl_c_keeps_finished_reports_and_says_how_to_go_on(tmp_path, quick_spec):
    folder, out = tmp_path / "class", tmp_path / "out"
    make_class(folder, 12, hostile_share=0, seed=9)
    proc = run_cli(folder, "--out", out, "--jobs", "1", "--spec", quick_spec, env_tmp=tmp_path / "marker")
    deadline = time.monotonic() + 60
    while len(reports_in(out)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Interrupted" in stderr and "run the same command again" in stderr
    assert "Traceback" not in stderr
    assert not wait_gone(tmp_path / "marker")


# ------------------------------------------------------------------ the class of 500

@pytest.mark.timeout(1800)  # two runs of 500 (each bounded at 900 s below), on a machine that may be busy
def test_a_class_of_500_with_10_percent_hostile(tmp_path, quick_spec):
    folder, out, marker = tmp_path / "class", tmp_path / "out", tmp_path / "marker"
    expected = make_class(folder, 500, hostile_share=0.1, duplicates=10, seed=1)
    hostile = [i for i, e in expected.items() if e.startswith("hostile")]
    hostile_examples = {n for n in EXPECTATIONS if n.startswith("hostile") and n.endswith(".py")}
    assert len(hostile) == 50 and {expected[i] for i in hostile} == hostile_examples
    proc = run_cli(folder, "--out", out, "--spec", quick_spec, "--jobs", "2", "--quiet", env_tmp=marker)
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stderr
    assert stderr == "", "--quiet prints nothing on stderr"
    assert "500 submissions" in stdout
    assert_as_expected(reports_in(out), expected)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["count"] == 500 and summary["statuses"]["graded"] == 500
    with open(out / "summary.csv", newline="") as fh:
        assert sorted(r["id"] for r in csv.DictReader(fh)) == sorted(expected)
    assert not wait_gone(marker), "no process outlives the batch"
    # the same class with one worker: the same report for every id, whatever the number of workers
    serial = run_cli(folder, "--out", tmp_path / "serial", "--spec", quick_spec, "--jobs", "1", "--quiet",
                     env_tmp=marker)
    stdout, stderr = serial.communicate(timeout=900)
    assert serial.returncode == 0, stderr
    assert without_timings(reports_in(tmp_path / "serial")) == without_timings(reports_in(out))
    assert not wait_gone(marker)


def without_timings(reports: dict[str, dict]) -> dict[str, dict]:
    return {i: dict(r, execution_time=0) for i, r in reports.items()}


# ------------------------------------------------------------------ the command line

def test_folder_usage_errors_say_what_to_do(tmp_path):
    (tmp_path / "class").mkdir()
    no_out = CliRunner().invoke(cli.main, [str(tmp_path / "class")])
    assert no_out.exit_code == 2 and "--out OUTDIR" in no_out.output
    file_out = tmp_path / "file.json"
    file_out.write_text("{}")
    clash = CliRunner().invoke(cli.main, [str(tmp_path / "class"), "--out", str(file_out)])
    assert clash.exit_code == 2 and "is a file" in clash.output
    jobs_on_file = CliRunner().invoke(cli.main, [str(EXAMPLES / "correct_vectorised.py"), "--jobs", "2"])
    assert jobs_on_file.exit_code == 2 and "applies to a folder" in jobs_on_file.output


def test_progress_shows_counts_and_time_left(tmp_path):
    (tmp_path / "class").mkdir()
    for name in ("a.py", "b.py"):
        (tmp_path / "class" / name).write_text(CORRECT + f"\n# {name}\n")
    proc = run_cli(tmp_path / "class", "--out", tmp_path / "out", "--jobs", "1")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "graded 1/2 (50%)" in stderr and "graded 2/2 (100%)" in stderr and "left" in stderr
