"""Issue 28, "a TA's whole day", item by item against the real command line: one score per student
(the score that counts, with the grader's own beside it), a roster (names, a row for every student, ids
it does not know), a PDF-only hand-in, why an ungradable student was not graded, plain-text feedback,
`grade report` remembering the gradebook, `--out` inside the folder refused, a zip that honours
`--cluster`, the silent cases made loud, per-student deadlines and Gradescope groups, the single-spec
default and what Gradescope's results.json says about the files handed in."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli
from grader.judge.spec import EXAMPLES, SPECS

CORRECT = (EXAMPLES / "correct_vectorised.py").read_text()
MUTANT = (EXAMPLES / "mutant_last_step_only.py").read_text()
ROSTER = "id,name,email\n777001,Ann Lee,ann@example.edu\n777002,Bob Ode,\n777003,Cy Pa,\n777004,Dee Quinn,\n" \
         "777006,Fay Roe,fay@example.edu\n"
COURSE = '[assignment]\ndeadline = 2026-12-04T23:59:00Z\n\n[late]\nper_day = 0.10\n'


def grade(*args) -> object:
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def rows_of(path: Path) -> dict[str, dict]:
    with open(path, newline="") as fh:
        return {r.get("id") or r.get("ID"): r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> dict:
    """A Canvas class of five ids graded once with a roster and a course file: a correct file, a late
    buggy one, a PDF alone, a syntax error, a correct file with a helper (an id the roster does not know),
    and a roster student who handed in nothing."""
    root = tmp_path_factory.mktemp("day")
    data = json.loads((SPECS / "rnn-seq2one.json").read_text())
    data["limits"].update(load_seconds=4, statement_seconds=1, call_seconds=2)
    spec = root / "spec.json"
    spec.write_text(json.dumps(data))
    folder = root / "class"
    folder.mkdir()
    (folder / "leeann_777001_11_rnn.py").write_text(CORRECT)
    (folder / "odebob_late_777002_12_rnn.py").write_text(MUTANT)
    (folder / "pacy_777003_13_essay.pdf").write_bytes(b"%PDF-1.4 not code")
    (folder / "quinndee_777004_14_rnn.py").write_text("import numpy as np\n\ndef forward(:\n    pass\n")
    (folder / "stranger_777005_15_rnn_student.py").write_text((EXAMPLES / "correct_loops.py").read_text())
    (folder / "stranger_777005_15_my_helpers.py").write_text("def clip(x):\n    return x\n")
    (root / "roster.csv").write_text(ROSTER)
    (root / "course.toml").write_text(COURSE + "\n[extensions]\n777002 = 2026-12-09T23:59:00Z\n")
    out = root / "out"
    result = grade(folder, "--out", out, "--spec", spec, "--jobs", "2", "-q", "--roster", root / "roster.csv",
                   "--course", root / "course.toml", "--gradebook", "canvas", "--assignment", "RNN (4711)")
    assert result.exit_code == 0, result.output
    return {"root": root, "out": out, "spec": spec, "folder": folder, "output": result.output}


def test_item_4_one_score_the_score_that_counts_with_the_graders_beside_it(day):
    out = day["out"]
    summary = rows_of(out / "summary.csv")
    assert list(next(iter(summary.values())))[:7] == ["id", "name", "score", "grader_score", "adjusted",
                                                      "late_penalty", "max_score"]
    bob = summary["777002"]
    assert float(bob["score"]) == float(bob["grader_score"]) - 1.0 == float(bob["grader_score"]) - float(bob["late_penalty"])
    on_json = {r["id"]: r for r in json.loads((out / "summary.json").read_text())["submissions"]}
    book = rows_of(out / "gradebook.csv")
    for sid, row in summary.items():
        if row["score"]:
            assert float(row["score"]) == on_json[sid]["score"] == float(book[sid]["RNN (4711)"]), sid
    scored = [float(r["score"]) for r in summary.values() if r["score"]]
    mean = sum(scored) / len(scored)
    assert f"Mean score that counts {mean:.2f} / 10" in day["output"]  # stdout says the same number
    index = (out / "index.html").read_text()
    assert "score that counts" in index and "grader&#x27;s score" in index
    assert f'{float(bob["score"]):g} / 10' in (out / "students" / "777002.html").read_text()


def test_items_5_and_11_the_roster_gives_names_and_a_row_to_every_student(day):
    out = day["out"]
    summary = rows_of(out / "summary.csv")
    assert summary["777001"]["name"] == "Ann Lee"
    assert summary["777006"]["status"] == "no hand-in" and summary["777006"]["score"] == ""
    book = list(csv.reader(open(out / "gradebook.csv", newline="")))
    by_id = {r[1]: r for r in book[1:]}
    assert by_id["777001"][0] == "Ann Lee" and by_id["777006"][0] == "Fay Roe" and by_id["777006"][5] == ""
    index = (out / "index.html").read_text()
    assert "Ann Lee" in index and 'data-id="777006"' in index and 'id="count-missing">1<' in index
    assert "Feedback for Ann Lee (777001)" in (out / "students" / "777001.html").read_text()
    assert "777005" in day["output"] and "not on the roster" in day["output"]


def test_item_12_an_extension_over_a_canvas_late_mark_is_said_not_silently_ignored(day):
    assert "[extensions] gives 777002 their own deadline, but the platform recorded no time" in day["output"]


def test_item_6_a_pdf_alone_has_a_row_and_an_ungradable_student_says_why(day):
    out = day["out"]
    report = json.loads((out / "777003.json").read_text())
    assert report["status"] == "ungradable" and "essay.pdf" in report["output"]
    index = (out / "index.html").read_text()
    row = index[index.index('data-id="777004"'):]
    row = row[:row.index("</tr>")]
    assert "line 3" in row and "init_shapes" not in row, row  # why, not 13 failed checks


def test_item_9_feedback_is_plain_text_with_the_students_own_file_names(day):
    text = (day["out"] / "feedback" / "777005.md").read_text()
    for escaped in ("\\_", "&#x27;", "<br>", "**"):
        assert escaped not in text, escaped
    assert "my_helpers.py" in text and "stranger_777005_15_my_helpers.py" not in text
    assert "rnn_student.py" in text


def test_items_2_and_10_grade_report_remembers_the_gradebook_and_says_a_score_was_held(day):
    out = day["out"]
    (out / "adjustments.csv").write_text("id,check,points,comment\n777001,total,47,generous\n"
                                         "777002,total,-1.5,copied the update\n")
    result = grade("report", out)  # no --gradebook: the batch's canvas one, with its assignment column
    assert result.exit_code == 0, result.output
    book = rows_of(out / "gradebook.csv")
    summary = rows_of(out / "summary.csv")
    assert float(book["777002"]["RNN (4711)"]) == float(summary["777002"]["score"]) \
        == float(summary["777002"]["grader_score"]) - 2.5
    assert book["777001"]["RNN (4711)"] == "10", "held at the maximum, never 57 of 10"
    assert "777001" in result.output and "held at 10" in result.output
    (out / "adjustments.csv").write_text("id,points,comment\n777001,1,no check column\n")
    result = grade("report", out)
    assert result.exit_code == 2 and "check" in result.output and "nothing was graded or rebuilt" in result.output
    (out / "adjustments.csv").unlink()


def test_item_10_a_pick_that_matches_nothing_is_said(day, tmp_path):
    result = grade(day["folder"], "--out", tmp_path / "out", "--spec", day["spec"], "-q", "--jobs", "2",
                   "--pick", "nothing*.py")
    assert result.exit_code == 0, result.output
    assert "--pick 'nothing*.py' matched none of the files" in result.output


def test_item_3_out_inside_the_folder_is_refused(day):
    for inside in (day["folder"], day["folder"] / "graded"):
        result = grade(day["folder"], "--out", inside, "--spec", day["spec"], "-q")
        assert result.exit_code == 2 and "inside the folder of submissions" in result.output
    assert not (day["folder"] / "graded").exists() and not (day["folder"] / "summary.json").exists()


def test_item_1_a_zip_honours_cluster_and_require_isolation_as_a_folder_does(day, tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(day["folder"] / "leeann_777001_11_rnn.py", "leeann_777001_11_rnn.py")
    refused = grade(archive, "--out", tmp_path / "z", "-q", "--cluster", "tcp://127.0.0.1:9")  # no scheduler there
    assert refused.exit_code == 2 and "Dask scheduler" in refused.output, refused.output
    assert not list((tmp_path / "z").glob("*.json")), "nothing graded locally behind the user's back"
    from_zip = grade(archive, "--out", tmp_path / "z", "-q", "--require-isolation", "no-such-layer")
    from_folder = grade(day["folder"], "--out", tmp_path / "f", "-q", "--require-isolation", "no-such-layer")
    assert from_zip.exit_code == from_folder.exit_code == 2, (from_zip.output, from_folder.output)


def test_item_10_an_empty_folder_is_refused_with_2_not_1(tmp_path):
    (tmp_path / "class").mkdir()
    result = grade(tmp_path / "class", "--out", tmp_path / "out", "-q")
    assert result.exit_code == 2 and "no submission" in result.output


def test_items_12_and_13_gradescope_groups_and_per_student_deadlines(tmp_path):
    """Every member of a group hand-in has a row and a gradebook line; an extension in [extensions]
    moves that student's deadline (Gradescope's :created_at: against it), and no one else's."""
    folder = tmp_path / "export"
    for n, text in ((1, CORRECT), (2, CORRECT + "\n# the group's\n")):
        (folder / f"submission_{n}").mkdir(parents=True)
        (folder / f"submission_{n}" / "rnn.py").write_text(text)
    (folder / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Solo\n    :sid: 'S1'\n    :email: s1@example.edu\n"
        "  :created_at: 2026-12-05 10:00:00.000000000 +0000\n"
        "submission_2:\n  :submitters:\n  - :name: Gee\n    :sid: 'G1'\n    :email: g1@example.edu\n"
        "  - :name: Gus\n    :sid: 'G2'\n    :email: g2@example.edu\n"
        "  :created_at: 2026-12-05 10:00:00.000000000 +0000\n")
    course = tmp_path / "course.toml"
    course.write_text(COURSE + "\n[extensions]\nG2 = 2026-12-06T23:59:00Z\n")
    out = tmp_path / "out"
    result = grade(folder, "--out", out, "-q", "--jobs", "2", "--course", course, "--gradebook", "csv")
    assert result.exit_code == 0, result.output
    summary = rows_of(out / "summary.csv")
    assert set(summary) == {"S1", "G1", "G2"}
    assert float(summary["S1"]["score"]) == float(summary["G1"]["score"]) == 9.0, "a day late: 10 % off"
    assert float(summary["G2"]["score"]) == 10.0 and summary["G2"]["late_penalty"] == "0", "G2's own deadline"
    assert set(rows_of(out / "gradebook.csv")) == {"S1", "G1", "G2"}


def test_item_8_a_pack_with_one_spec_needs_no_spec_option(tmp_path, monkeypatch):
    pack = tmp_path / "hw3"
    monkeypatch.setenv("GRADER_PACK", "")  # --pack sets it for the workers: undone after this test
    monkeypatch.delenv("GRADER_PACK")
    assert grade("new-pack", pack).exit_code == 0
    example = next(p for p in (pack / "submissions_example").rglob("correct*.py"))
    result = grade(example, "--pack", pack)
    assert result.exit_code == 0, result.output
    assert "rnn-seq2one" not in result.output


def test_item_7_gradescope_results_say_which_file_was_graded_and_which_not(tmp_path):
    from grader.course.bundle import autograde
    from grader.judge.spec import load

    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "rnn.py").write_text(CORRECT)
    (root / "submission" / "notes.py").write_text("x = 1\n")
    (root / "submission" / "report.pdf").write_bytes(b"%PDF")
    results, _ = autograde(root, load())
    first = results["output"].splitlines()[0]
    assert re.match(r"Graded rnn\.py; also handed in, not graded: .*notes\.py", first), first
    assert results["score"] == 10
