"""Done when: a class of 300 as a Canvas bulk download (several files per student, late ones, hostile
ones, hostile zip members) gives every class output in ONE command, one row per student, the late
ones marked and their gradebook score reduced by the course's policy."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from classroom import make_canvas_class, zip_class
from grader.judge.spec import EXAMPLES, SPECS

EXPECTATIONS = json.loads((EXAMPLES / "expectations.json").read_text())
HOSTILE = ["hostile_exit_get_weights.py", "hostile_segfault_backward.py", "hostile_hang_update.py",
           "hostile_flood_output.py"]


@pytest.mark.timeout(900)
def test_a_class_of_300_as_a_canvas_zip_in_one_command(tmp_path):
    data = json.loads((SPECS / "rnn-seq2one.json").read_text())
    data["limits"].update(load_seconds=4, statement_seconds=1, call_seconds=2)  # hostile ones cost seconds
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(data))
    course = tmp_path / "course.toml"
    course.write_text("[assignment]\ndeadline = 2026-12-04T23:59:00Z\n[late]\nper_day = 0.1\nzero_after_days = 7\n")
    expected, late = make_canvas_class(tmp_path / "class", 300, hostile=HOSTILE, seed=16)
    files = len(list((tmp_path / "class").iterdir()))
    assert files > 330 and 30 < len(late) < 100, "several files per student, and late ones, to group"
    archive = zip_class(tmp_path / "class", tmp_path / "class.zip")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "grader.cli", str(archive), "--out", str(out), "--spec", str(spec),
                           "--jobs", "2", "-q", "--gradebook", "canvas", "--assignment", "RNN (4711)",
                           "--course", str(course)], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "300 submissions" in proc.stdout and "Traceback" not in proc.stderr
    assert f"{out / 'index.html'}" in proc.stdout and f"{out / 'gradebook.csv'}" in proc.stdout
    assert f"{len(late)} handed in late (course.toml's late policy applied)" in proc.stdout
    assert "Left out 2 member(s)" in proc.stderr, "the zip's link and its member outside the folder"
    summary = json.loads((out / "summary.json").read_text())
    rows = {r["id"]: r for r in summary["submissions"]}
    assert sorted(rows) == sorted(expected), "one row per student, not per file"
    for sid, example in expected.items():  # the graded file is the newest upload, never a helper
        report = json.loads((out / f"{sid}.json").read_text())
        failing = sorted(t["name"] for t in report["tests"] if t["status"] != "passed")
        assert failing == sorted(EXPECTATIONS[example]["fails"]), (sid, example, report["output"][:300])
    assert {sid for sid, r in rows.items() if r["late"] == "yes"} == late
    helpers = {p.name.split("_")[-3]: p.name for p in (tmp_path / "class").glob("*_helpers.py")}
    # listed by the student's own names, never Canvas's prefixed one (issue 28, item 9)
    outputs = {sid: json.loads((out / f"{sid}.json").read_text())["output"] for sid in helpers}
    assert helpers and all("helpers.py" in outputs[sid].rsplit("not graded:", 1)[-1] and name not in outputs[sid]
                           for sid, name in helpers.items()), "a student's other files are listed"
    with open(out / "gradebook.csv", newline="") as fh:
        book = list(csv.reader(fh))
    assert book[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "RNN (4711)"]
    scores = {r[1]: float(r[5]) for r in book[1:]}
    assert sorted(scores) == sorted(expected)
    for sid, row in rows.items():  # late by an unknown amount: one started day, 10% of 10 points
        wanted = max(row["grader_score"] - 1.0, 0.0) if sid in late else row["grader_score"]
        assert abs(scores[sid] - wanted) < 1e-9, (sid, row["grader_score"], scores[sid])
        assert scores[sid] == row["score"], "one score: the summary's is the gradebook's (issue 28, item 4)"
    assert any(scores[s] < rows[s]["grader_score"] for s in late), "the policy took something off"
    index = (out / "index.html").read_text()
    assert 'id="count-students">300<' in index and f'id="count-late">{len(late)}<' in index
    assert len(list((out / "students").glob("*.html"))) == len(list((out / "feedback").glob("*.md"))) == 300
    one = sorted(late)[0]
    assert 'id="late">Late: handed in after the deadline' in (out / "students" / f"{one}.html").read_text()
    assert (out / "course.toml").read_text() == course.read_text()
