"""Students, not files: one Canvas/Moodle id is one submission; lateness from what the platforms write;
the course file's late policy in every score shown (grader/course/discovery.py, lateness.py, overview.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from grader import cli
from grader.course import batch, course_file, discovery, lateness
from grader.judge.spec import load

RNN = "class RNN:\n    pass\n"


def test_all_files_of_one_canvas_id_are_one_student_graded_by_the_one_rule(tmp_path):
    (tmp_path / "smith_late_1234_5678_rnn.py").write_text(RNN)  # the first hand-in, late
    (tmp_path / "smith_late_1234_5679_rnn_helpers.py").write_text("def helper():\n    return 1\n")
    (tmp_path / "smith_late_1234_5680_rnn-1.py").write_text(RNN + "# again\n")  # Canvas's resubmission
    (tmp_path / "jones_2345_6001_rnn.ipynb").write_text("{}")
    (tmp_path / "jones_2345_6002_rnn.py").write_text(RNN)
    (tmp_path / "Ann Lee_3456_assignsubmission_file_rnn.py").write_text(RNN)  # Moodle, without folders
    (tmp_path / "Ann Lee_3456_assignsubmission_file_notes.py").write_text("x = 1\n")
    (tmp_path / "lee_1234.py").write_text(RNN)  # not a platform's name: another student, id kept apart
    found = {s.id: s for s in discovery.discover(tmp_path, marker="class RNN")[0]}
    assert sorted(found) == ["1234", "2345", "3456", "lee_1234"], "one row per student, not per file"
    smith = found["1234"]
    assert smith.path.name == "smith_late_1234_5680_rnn-1.py", "the newest submission number"
    assert smith.name == "rnn-1.py" and smith.late
    # by the names the student gave them, not Canvas's (issue 28, item 9: one kind of name in the feedback)
    assert smith.others == ["rnn.py", "rnn_helpers.py"]
    assert found["2345"].path.suffix == ".py" and not found["2345"].late, ".py before .ipynb"
    assert found["3456"].path.name.endswith("_rnn.py"), "the file defining the marker first"
    picked = {s.id: s for s in discovery.discover(tmp_path, pick="*helpers*", marker="class RNN")[0]}
    assert picked["1234"].path.name == "smith_late_1234_5679_rnn_helpers.py", "--pick comes first"
    # a linked file is never the choice while a real one is there
    (tmp_path / "jones_2345_6003_rnn.py").symlink_to(tmp_path / "lee_1234.py")
    again = {s.id: s for s in discovery.discover(tmp_path, marker="class RNN")[0]}
    assert again["2345"].path.name == "jones_2345_6002_rnn.py"


def test_moodle_worksheet_and_gradescope_metadata_give_when_each_handed_in(tmp_path):
    for number in ("111", "222"):
        folder = tmp_path / f"Stu {number}_{number}_assignsubmission_file_"
        folder.mkdir()
        (folder / "rnn.py").write_text(RNN)
    with open(tmp_path / "Grades-RNN-42.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                         "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                         "Feedback comments"])
        writer.writerow(["Participant 111", "Stu 111", "", "Submitted for grading", "", "10.00", "Yes",
                         "Friday, 4 December 2026, 11:30 PM", "-", ""])
        writer.writerow(["Participant 222", "Stu 222", "", "Submitted for grading", "", "10.00", "Yes",
                         "Sunday, 6 December 2026, 10:15 AM", "-", ""])
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    found, ignored = discovery.discover(tmp_path)
    times = {s.id: s.handed_in for s in found}
    assert times == {"111": "2026-12-04T23:30:00+00:00", "222": "2026-12-06T10:15:00+00:00"}
    assert [p.name for p in ignored] == ["other.csv"], "the worksheet is read, not ignored"

    gs = tmp_path / "gradescope"
    (gs / "submission_7").mkdir(parents=True)
    (gs / "submission_7" / "rnn.py").write_text(RNN)
    (gs / "submission_metadata.yml").write_text(
        "submission_7:\n  :submitters:\n  - :name: Dan\n    :sid: '42'\n    :email: d@example.com\n"
        "  :created_at: 2026-12-05 01:10:05.123456789 -0800\n  :score: 0.0\n"
        "  :history:\n  - :id: 6\n    :created_at: 2026-12-01 10:00:00.000000000 -0800\n")  # an earlier try
    (sub,) = discovery.discover(gs)[0]
    assert sub.id == "42" and sub.handed_in == "2026-12-05T09:10:05.123456+00:00"


def test_lateness_against_the_deadline_and_the_policy(tmp_path):
    course = tmp_path / "course.toml"
    course.write_text("[assignment]\ndeadline = 2026-12-04T23:59:00\ngrace_minutes = 15\n[late]\nper_day = 0.1\n")
    rules = course_file.load(course)
    on_time = lateness.assess({"handed_in": "2026-12-05T00:10:00+00:00"}, rules)  # within the grace
    assert not on_time.late and lateness.apply(8.0, 10.0, on_time, rules) == (8.0, "")
    two_days = lateness.assess({"handed_in": "2026-12-06T10:15:00+00:00"}, rules)
    assert two_days.late and 1 < two_days.days < 2
    assert lateness.apply(8.0, 10.0, two_days, rules)[0] == 6.0, "10% of the points per started day"
    canvas = lateness.assess({"late": "yes", "handed_in": ""}, rules)  # Canvas: late, not by how much
    assert canvas.late and canvas.days is None and canvas.label() == "late (how late unknown)"
    score, sentence = lateness.apply(8.0, 10.0, canvas, rules)
    assert score == 7.0 and "how late is not recorded" in sentence and "counted as one day" in sentence
    zero = tmp_path / "zero.toml"
    zero.write_text("[late]\nzero_after_days = 0\n")
    assert lateness.apply(8.0, 10.0, canvas, course_file.load(zero))[0] == 0.0
    assert lateness.apply(8.0, 10.0, canvas, course_file.load(None))[0] == 8.0, "no course file: nothing off"
    assert not lateness.assess({"late": "", "handed_in": ""}, rules).late


def fake_outdir(out: Path, rows: list[dict]) -> Path:
    """OUTDIR as a batch leaves it, without grading: a report and a summary row per student."""
    spec = load("rnn-seq2one")
    out.mkdir()
    submissions = []
    for row in rows:
        report = batch.placeholder_report(spec, spec.seed, "rnn.py", "0" * 64, "x", "ungradable").to_dict()
        report.update(status="graded", output="Checks that did not pass are listed below.", notes=[])
        for test in report["tests"]:
            test.update(status="passed", score=test["max_score"], output="ok")
        next(t for t in report["tests"] if t["max_score"] >= 1).update(status="failed", score=0.0)
        report["score"] = sum(t["score"] for t in report["tests"])
        report["submission"]["id"] = row["id"]
        (out / f"{row['id']}.json").write_text(json.dumps(report))
        submissions.append({"id": row["id"], "score": report["score"], "max_score": report["max_score"],
                            "status": "graded", "late": row.get("late", ""), "handed_in": row.get("handed_in", "")})
    (out / "summary.json").write_text(json.dumps({
        "spec": {"id": spec.id, "version": spec.version, "sha256": spec.fingerprint}, "grader": {"version": "x"},
        "seed": spec.seed, "count": len(rows), "max_score": spec.max_score, "pass_rates": {},
        "submissions": submissions}))
    return out


def test_scores_are_checks_adjusted_then_late_policy_then_total_adjustments(tmp_path):
    out = fake_outdir(tmp_path / "out", [{"id": "1", "late": "yes"}, {"id": "2", "handed_in": "2026-12-06T10:00:00Z"},
                                         {"id": "3"}])
    first = next(t for t in json.loads((out / "1.json").read_text())["tests"] if t["status"] == "failed")
    raw = json.loads((out / "1.json").read_text())["score"]
    (out / "adjustments.csv").write_text(f"id,check,points,comment\n1,{first['name']},1,regraded by hand\n"
                                         "1,total,0.5,extension for half the penalty\n")
    (tmp_path / "course.toml").write_text("[assignment]\ndeadline = 2026-12-04T23:59:00Z\n[late]\nper_day = 0.1\n")
    runner = CliRunner()
    result = runner.invoke(cli.main, ["report", str(out), "--gradebook", "canvas", "--assignment", "RNN (9)",
                                      "--course", str(tmp_path / "course.toml")])
    assert result.exit_code == 0, result.output
    assert (out / "course.toml").is_file(), "kept in OUTDIR for every rebuild"
    with open(out / "gradebook.csv", newline="") as fh:
        book = {r["ID"]: float(r["RNN (9)"]) for r in csv.DictReader(fh)}
    # 1: its check +1, then one (unknown) day late: -1, then the total +0.5
    assert book == {"1": raw + 1 - 1 + 0.5, "2": raw - 2, "3": raw}
    page = (out / "students" / "1.html").read_text()
    assert f'id="score">{raw + 0.5:g} / 10<' in page and 'id="late">Late: handed in after the deadline' in page
    assert "handed in 1.4 days late; 20% of 10 points taken off" in (out / "feedback" / "2.md").read_text()
    assert "id=\"late\"" not in (out / "students" / "3.html").read_text()
    index = (out / "index.html").read_text()
    assert 'id="count-late">2<' in index and "late (how late unknown)" in index and "late (1.4 days)" in index
    for student in ("1", "2"):  # the time handed in and the deadline are for staff only
        assert "2026-12" not in (out / "students" / f"{student}.html").read_text()
    # a rebuild without --course keeps the policy; a course file that is wrong is said, not half applied
    assert runner.invoke(cli.main, ["report", str(out), "--gradebook", "csv"]).exit_code == 0
    with open(out / "gradebook.csv", newline="") as fh:
        assert {r["id"]: float(r["score"]) for r in csv.DictReader(fh)}["2"] == raw - 2
    (tmp_path / "bad.toml").write_text("[late]\nper_day = 3\n")
    bad = runner.invoke(cli.main, ["report", str(out), "--course", str(tmp_path / "bad.toml")])
    assert bad.exit_code == 2 and "per_day must be a number between 0 and 1" in bad.output
    assert "per_day = 0.1" in (out / "course.toml").read_text(), "a wrong file replaces nothing"
    (out / "course.toml").write_text("[late]\nper_day = 3\n")  # edited by hand into a wrong one
    bad = runner.invoke(cli.main, ["report", str(out)])
    assert bad.exit_code == 2 and "OUTDIR's copy of the course file" in bad.output and "Traceback" not in bad.output
