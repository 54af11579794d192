"""The class pages: index.html, each student's page and feedback, the gradebook, adjustments and what a
regrade moved, outputs that honour the umask, and an empty folder refused (grader/course/overview.py)."""

from __future__ import annotations

import csv
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from classroom import make_class
from grader import cli
from grader.course import student_pages
from grader.judge.spec import EXAMPLES, SPECS
from grader.report import write_atomic

HIDDEN = "numerical_gradient"  # made after_due_date in the class's spec
NASTY = 'x_123456_1_<img src=x onerror=alert(1)>\x1b[31m.py'


def grade(*args) -> object:
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """A small class graded once: correct and buggy files, an empty (ungradable) one, a file name
    carrying HTML and an escape sequence, and one check the students see only after the due date."""
    root = tmp_path_factory.mktemp("overview")
    data = json.loads((SPECS / "rnn-seq2one.json").read_text())
    data["limits"].update(load_seconds=4, statement_seconds=1, call_seconds=2)
    for check in data["checks"]:
        if check["name"] == HIDDEN:
            check["visibility"] = "after_due_date"
    spec = root / "spec.json"
    spec.write_text(json.dumps(data))
    make_class(root / "class", 8, hostile_share=0.0, seed=3)
    (root / "class" / "x_777001_1_empty.py").write_text("")
    (root / "class" / NASTY).write_text((EXAMPLES / "mutant_last_step_only.py").read_text())
    (root / "class" / "kim_late_777002_5_rnn.py").write_text((EXAMPLES / "correct_loops.py").read_text())
    (root / "class" / "kim_late_777002_4_helpers.py").write_text("def clip(x):\n    return x\n")  # one student
    out = root / "out"
    result = grade(root / "class", "--out", out, "--spec", spec, "--jobs", "2", "-q", "--gradebook", "canvas")
    assert result.exit_code == 0, result.output
    (root / "spec_path").write_text(str(spec))
    return out


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.scripts = [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        if tag in ("script", "img", "link", "iframe"):
            self.scripts += 1
            assert tag == "script" and "src" not in attrs, f"{tag} {attrs}: nothing may be fetched or injected"


def parsed(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text())
    return parser


def test_the_overview_says_what_the_summary_says_and_every_link_resolves(graded):
    summary = json.loads((graded / "summary.json").read_text())
    page = (graded / "index.html").read_text()
    assert summary["count"] == 11
    for key in ("graded", "ungradable", "error"):
        assert f'id="count-{key}">{summary["statuses"][key]}<' in page
    late = [r["id"] for r in summary["submissions"] if r["late"] == "yes"]
    assert late == ["777002"] and 'id="count-late">1<' in page, "late is counted once per student"
    assert summary["statuses"]["ungradable"] == 1
    links = parsed(graded / "index.html")
    assert links.scripts == 1  # the table's own inline script
    assert {link for link in links.links if link.startswith("students/")} == {
        f"students/{row['id']}.html" for row in summary["submissions"]}
    for link in links.links:
        assert (graded / link).is_file(), link
    assert page.count("<svg") == 2 and "<metadata>" not in page
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page)  # nothing outside the page and OUTDIR
    assert references and all(r.startswith(("#", "students/", "similarity.html")) for r in references), references
    # the misconception of the planted last-step-only file, with its student and its hint
    row = re.search(r'<tr data-id="last_step_only">.*?</tr>', page, re.S).group()
    assert "students/123456.html" in row and "Hint:" in row
    # staff facts are on the overview, never on a student's page
    assert str(summary["seed"]) in page and "isolation layers" in page


def test_a_students_page_and_feedback_show_their_view_only(graded):
    summary = json.loads((graded / "summary.json").read_text())
    for row in summary["submissions"]:
        html_page = (graded / "students" / f"{row['id']}.html").read_text()
        markdown = (graded / "feedback" / f"{row['id']}.md").read_text()
        report = json.loads((graded / f"{row['id']}.json").read_text())
        for text in (html_page, markdown):
            assert str(summary["seed"]) not in text and "isolation" not in text and "namespaces" not in text
            assert summary["spec"]["sha256"][:12] not in text
            assert "\x1b" not in text and "<img" not in text
        assert f'id="score">{row["score"]:g} / {row["max_score"]:g}<' in html_page
        hidden = next(t for t in report["tests"] if t["name"] == HIDDEN)
        if report["status"] == "graded":  # (an ungradable file's checks all say the same "Not run")
            assert hidden["visibility"] == "after_due_date" and hidden["output"]
            assert hidden["output"] not in html_page and hidden["output"] not in markdown
        assert "@media print" in html_page
    nasty = (graded / "students" / "123456.html").read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in nasty and "forward only uses the last element" in nasty


def test_student_views_hide_what_is_not_shown_yet_and_escape_everything():
    report = {"score": 1.0, "max_score": 2.0, "status": "graded", "output": "1 of 2 checks did not pass: secret.",
              "spec": {"id": "s", "version": "1"}, "submission": {"name": "a<b>.py"}, "seed": 4242,
              "tests": [{"name": "shown", "score": 1.0, "max_score": 1.0, "status": "passed",
                         "output": "ok <script>alert(1)</script>\x1b]0;title\x07 *bold* [x](http://e)", "visibility": "visible"},
                        {"name": "secret", "score": 0.0, "max_score": 1.0, "status": "failed",
                         "output": "HIDDEN DETAIL", "visibility": "hidden"}],
              "diagnoses": [{"id": "d1", "message": "only hidden", "hint": "HIDDEN HINT", "checks": ["secret"]}],
              "isolation": {"active": ["seccomp"], "missing": []}}
    page = student_pages.page(report, "s1", 1.0, [], {"shown": 1.0, "secret": 0.0})
    markdown = student_pages.markdown(report, "s1", 1.0, [], {"shown": 1.0, "secret": 0.0})
    for text in (page, markdown):
        assert "HIDDEN" not in text and "4242" not in text and "seccomp" not in text
        assert "<script>" not in text and "\x1b" not in text and "\x07" not in text
        assert "did not pass: secret" not in text and "1 more checks are shown later" in text
    assert "&lt;script&gt;" in page
    # plain text for a comment box (issue 28, item 9): what the student wrote reads as it is, no escape
    assert "*bold* [x](http://e)" in markdown and "\\" not in markdown and "&#" not in markdown


def test_adjustments_reach_every_view_and_a_regrade_says_who_moved(graded, tmp_path):
    out = tmp_path / "out"
    spec = Path((graded.parent / "spec_path").read_text())
    folder = tmp_path / "class"
    folder.mkdir()
    for i, example in enumerate(["correct_vectorised.py", "mutant_last_step_only.py", "correct_loops.py"]):
        (folder / f"s_{900 + i}_1_rnn.py").write_text((EXAMPLES / example).read_text())
    assert grade(folder, "--out", out, "--spec", spec, "-q").exit_code == 0
    assert not (out / "changes.csv").exists()
    (out / "adjustments.csv").write_text("id,check,points,comment\n900,total,-1,late by a day\n"
                                         "901,forward_values,1.5,hand-checked: <b>fine</b>\n902,nope,1,x\n")
    # 901 fixes its bug, 902 breaks: both move on the regrade, 900 only by its adjustment (not a change)
    (folder / "s_901_1_rnn.py").write_text((EXAMPLES / "correct_vectorised.py").read_text())
    (folder / "s_902_1_rnn.py").write_text((EXAMPLES / "mutant_last_step_only.py").read_text())
    result = grade(folder, "--out", out, "--spec", spec, "-q", "--gradebook", "moodle")
    assert result.exit_code == 0, result.output
    assert "Regrade: 2 student(s) changed (1 up, 1 down)" in result.output
    with open(out / "changes.csv", newline="") as fh:
        moved = {r["id"]: r for r in csv.DictReader(fh)}
    assert set(moved) == {"901", "902"}
    assert moved["901"]["change"] == "+2" and "forward_values +1.5" in moved["901"]["checks"]
    assert moved["902"]["change"] == "-2" and "gradient_d_R -0.5" in moved["902"]["checks"]
    assert "902 has no check 'nope'" in result.output  # the row left out is said (stderr, mixed in here)
    with open(out / "gradebook.csv", newline="") as fh:
        book = {r["Identifier"]: r for r in csv.DictReader(fh)}
    assert book["Participant 900"]["Grade"] == "9.00" and book["Participant 901"]["Grade"] == "10.00"
    page = (out / "students" / "900.html").read_text()
    assert 'id="score">9 / 10<' in page and "late by a day" in page
    assert "&lt;b&gt;fine&lt;/b&gt;" in (out / "students" / "901.html").read_text()
    assert "9 / 10 (adjusted)" in (out / "index.html").read_text()


def test_gradebooks_have_the_columns_the_platforms_document(graded):
    out = graded
    with open(out / "gradebook.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "rnn-seq2one"]
    summary = {r["id"]: r for r in json.loads((out / "summary.json").read_text())["submissions"]}
    assert {r[1]: float(r[5]) for r in rows[1:]} == {i: r["score"] for i, r in summary.items()}
    result = grade("report", out, "--gradebook", "moodle")
    assert result.exit_code == 0, result.output
    with open(out / "gradebook.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                       "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                       "Feedback comments"]
    # the class mixes plain file names with platform names: those ids cannot match, and the run says so
    assert "Moodle will not match them: student" in result.output
    assert all(re.fullmatch(r"Participant \d+", r[0]) for r in rows[1:] if not r[0].startswith("Participant student"))
    assert {r[0] for r in rows[1:]} == {f"Participant {i}" for i in summary}
    grade("report", out, "--gradebook", "canvas", "--assignment", "RNN (4711)")
    assert (out / "gradebook.csv").read_text().splitlines()[0].endswith(",RNN (4711)")


def test_grade_report_rebuilds_the_pages_without_grading(graded, monkeypatch):
    import grader.judge.grading

    monkeypatch.setattr(grader.judge.grading, "grade_submission", lambda *a, **k: pytest.fail("graded"))
    (graded / "index.html").unlink()
    (graded / "students" / "123456.html").unlink()
    stamps = {p: p.stat().st_mtime_ns for p in graded.glob("*.json")}
    result = grade("report", graded)
    assert result.exit_code == 0, result.output
    assert (graded / "index.html").is_file() and (graded / "students" / "123456.html").is_file()
    assert stamps == {p: p.stat().st_mtime_ns for p in graded.glob("*.json")}
    assert 'href="similarity.html"' not in (graded / "index.html").read_text()
    assert grade("similarity", graded).exit_code == 0
    assert grade("report", graded).exit_code == 0
    assert 'href="similarity.html"' in (graded / "index.html").read_text()
    empty = graded.parent / "nothing"
    empty.mkdir()
    result = grade("report", empty)
    assert result.exit_code == 2 and "grade FOLDER --out OUTDIR" in result.output


def test_outputs_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "r.json", "{}")
        assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        write_atomic(tmp_path / "s.json", "{}")
        assert (tmp_path / "s.json").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_a_folder_with_no_submission_warns_and_exits_non_zero(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "notes.txt").write_text("no code here")
    result = grade(tmp_path / "class", "--out", tmp_path / "out", "-q")
    assert result.exit_code == 2, "1 is --fail-under's alone (issue 28, item 10)"
    assert "no submission" in result.output and "nothing was graded" in result.output


def test_the_charts_count_what_they_are_given_and_escape_check_names():
    """The histogram has one bar per score that occurs, as tall as its count; the pass-rate chart one bar
    per check, as long as its share; a check name is text, never markup; the same data, the same bytes."""
    from grader.course import charts

    svg = charts.histogram([10, 8.5, 7, 10, 10, 0], 10.0)
    bars = re.findall(r'<rect [^>]*height="([0-9.]+)"[^>]*><title>(\d+) at ([0-9.]+)</title>', svg)
    assert sorted((at, int(n)) for _, n, at in bars) == [("0", 1), ("10", 3), ("7", 1), ("9", 1)]  # bins are [k-0.5, k+0.5)
    heights = {at: float(h) for h, _, at in bars}
    assert heights["10"] == pytest.approx(3 * heights["7"], abs=0.2)
    assert svg == charts.histogram([10, 8.5, 7, 10, 10, 0], 10.0)
    rates = charts.pass_rates({"forward_values": 0.5, "<b>x</b>": 1.0, "update": 0.0})
    widths = {name: width for width, name in re.findall(r'<rect [^>]*width="([0-9.]+)"[^>]*><title>([^:<]+):', rates)}
    assert float(widths["&lt;b&gt;x&lt;/b&gt;"]) == 2 * float(widths["forward_values"])
    assert "<b>" not in rates and rates.count("<rect") == 2  # a share of 0 draws no bar

