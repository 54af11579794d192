"""Symbolic links and the batch's own file names: what a student hands in is the file itself, and a
student's id never takes a name the batch writes.

A link could name any file the grader can read: a root-only file (whose first line a syntax error
would quote), a classmate's file (their marks), the reference (full marks). Every way in refuses it:
`grade FILE`, a batch (a linked file, a link inside a student's folder, a student's folder that is a
link, a link to a folder inside it) and `grade gradescope-run`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli
from grader.course import batch
from grader.course.bundle import autograde, find_submission
from grader.judge.spec import EXAMPLES, REFERENCES, load

CORRECT = (EXAMPLES / "correct_vectorised.py").read_text()
SECRET = "staff only: the answer key is 42"
LINK_SAYS = "is a symbolic link; hand in the file itself"


@pytest.fixture
def secret(tmp_path) -> Path:
    """A file only its owner may read, whose first line is not Python (a syntax error quotes it)."""
    path = tmp_path / "staff" / "secret.py"
    path.parent.mkdir()
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    return path


def test_grade_refuses_a_link_to_a_file_that_would_score(tmp_path):
    (tmp_path / "ann.py").write_text(CORRECT)
    link = tmp_path / "copy.py"
    link.symlink_to(tmp_path / "ann.py")
    result = CliRunner().invoke(cli.main, [str(link), "--format", "json"], catch_exceptions=False)
    report = json.loads(result.stdout)
    assert report["score"] == 0 and report["status"] == "ungradable", report["output"]
    assert LINK_SAYS in report["output"]


def test_grade_refuses_a_link_to_the_reference_and_to_a_secret(tmp_path, secret):
    for name, target in (("ref.py", REFERENCES / "rnn_seq2one.py"), ("leak.py", secret)):
        link = tmp_path / name
        link.symlink_to(target)
        result = CliRunner().invoke(cli.main, [str(link)], catch_exceptions=False)
        assert "0 / 10" in result.stdout and LINK_SAYS in result.stdout, result.stdout
        assert SECRET not in result.stdout


def test_grade_does_not_hang_on_a_fifo(tmp_path):
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "grader.cli", str(fifo)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "not a regular file" in done.stdout


def test_a_batch_refuses_every_kind_of_link(tmp_path, secret):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    (folder / "ann.py").write_text(CORRECT)
    (folder / "copycat.py").symlink_to(folder / "ann.py")  # a classmate's 10/10
    (folder / "leak.py").symlink_to(secret)  # a root-only file's first line
    (folder / "ref.py").symlink_to(REFERENCES / "rnn_seq2one.py")
    (folder / "bob").mkdir()
    (folder / "bob" / "rnn.py").symlink_to(folder / "ann.py")  # a link inside a student's folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "rnn.py").write_text(CORRECT + "\n# elsewhere\n")
    (folder / "carl").symlink_to(elsewhere)  # a student's folder that is a link
    (folder / "dan").mkdir()
    (folder / "dan" / "code").symlink_to(elsewhere)  # a linked folder inside a student's folder
    result = batch.grade_folder(folder, out, load(), quiet=True, jobs=1)
    reports = result.reports
    assert set(reports) == {"ann", "copycat", "leak", "ref", "bob", "carl", "dan"}
    assert reports["ann"]["score"] == 10
    for sid in ("copycat", "leak", "ref", "bob", "carl", "dan"):
        report = reports[sid]
        assert (report["score"], report["status"]) == (0, "ungradable"), (sid, report["output"])
        assert LINK_SAYS in report["output"], (sid, report["output"])
    on_disk = "".join(p.read_text() for p in out.rglob("*") if p.is_file())  # reports and pages
    assert SECRET not in on_disk
    assert result.graded == 1, "only ann's file was graded"


def test_gradescope_run_refuses_a_link_to_the_reference(tmp_path):
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "rnn.py").symlink_to(REFERENCES / "rnn_seq2one.py")
    results, report = autograde(root, load())
    assert results["score"] == 0 and LINK_SAYS in results["output"]
    (root / "submission" / "mine.py").write_text(CORRECT)  # a real file beside a link is the one graded
    assert find_submission(root / "submission", load().marker).name == "mine.py"
    results, _ = autograde(root, load())
    assert results["score"] == 10


# ------------------------------------------------------------------ ids

def test_ids_never_take_the_batchs_own_names_and_a_second_run_regrades_nothing(tmp_path):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    names = ["summary", "Index", "changes", "ADJUSTMENTS", "similarity", "gradebook", "students", "feedback"]
    for number, name in enumerate(names):
        (folder / f"{name}.py").write_text(f"x = {number}\n")  # distinct files: each is graded
    (folder / "summary-2.py").write_text("x = 99\n")  # a suffix must not collide either
    first = batch.grade_folder(folder, out, load(), quiet=True, jobs=1)
    ids = {sub.id for sub in first.submissions}
    assert len(ids) == len(names) + 1
    reserved = {"summary", "index", "changes", "adjustments", "similarity", "gradebook", "students", "feedback"}
    assert not {i.lower() for i in ids} & reserved, ids
    for sub in first.submissions:
        report = json.loads((out / f"{sub.id}.json").read_text())
        assert report["submission"]["id"] == sub.id and report["submission"]["name"] == sub.path.name
    assert json.loads((out / "summary.json").read_text())["count"] == len(names) + 1
    again = batch.grade_folder(folder, out, load(), quiet=True, jobs=1)
    assert (again.graded, again.reused) == (0, len(names) + 1)
