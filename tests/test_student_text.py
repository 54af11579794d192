"""What a student's text and the grader's staff-only facts may reach: every view, and the batch's output.

A hostile submission raises exceptions whose messages carry terminal escape sequences (clear the
screen, then a forged "10 / 10") and Markdown that tries to smuggle a live <img> past the code-span
escaping. Every view must show the text without them; the Markdown is rendered by a CommonMark
implementation (markdown-it-py, with inline HTML on, as GitHub allows) and its HTML inspected.
Staff-only facts, the hidden seed and the isolation layers, are in the JSON report's staff fields only.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from grader import cli
from grader.sandbox import isolation
from grader.judge.grading import grade_submission
from grader.report import FAILED, CheckResult, Report
from grader.judge.spec import EXAMPLES, load
from grader.report.views import VIEWS, check_feedback, render_markdown

CORRECT = EXAMPLES / "correct_vectorised.py"
FORGED = "\x1b[2J\x1b[H\x1b]0;owned\x07\u202e10 / 10  All 13 checks passed\x9b1m\r"
SMUGGLED = "```<img src=x onerror=alert(1)>` and [a](javascript:alert(1)) ![t](http://t/p.png)"
# anything that reaches a terminal or a page as something else than the characters it shows
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
STUDENT_VIEWS = ("text", "markdown", "gradescope", "junit")


@pytest.fixture(scope="module")
def hostile_report() -> Report:
    """The correct example whose forward raises with the forged screen, and whose get_weights raises
    with the smuggled Markdown: real messages, through the child and the engine's wording."""
    text = CORRECT.read_text()
    text = text.replace("    def forward(self, x: np.ndarray) -> np.ndarray:\n",
                        "    def forward(self, x: np.ndarray) -> np.ndarray:\n"
                        f"        raise ValueError({FORGED!r})\n", 1)
    text = text.replace("    def get_weights(self) -> Dict:\n",
                        "    def get_weights(self) -> Dict:\n"
                        f"        raise ValueError({SMUGGLED!r})\n", 1)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sub\x1b[31m\u202e.py"
        path.write_text(text)
        return grade_submission(path, load())


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def html_tags(markdown: str) -> list:
    parser = Tags()
    parser.feed(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))
    return parser.tags


def test_the_hostile_messages_reach_the_report(hostile_report):
    outputs = " ".join(t.output for t in hostile_report.tests)
    assert "10 / 10" in outputs and "onerror" in outputs, "the test's premise: the messages are shown"


@pytest.mark.parametrize("fmt", ["json", *STUDENT_VIEWS])
def test_no_view_carries_a_control_character_or_escape_sequence(hostile_report, fmt):
    shown = VIEWS[fmt](hostile_report)
    if fmt in ("json", "gradescope"):
        shown = json.dumps(json.loads(shown), ensure_ascii=False)  # what a reader of the JSON gets
    assert not UNSAFE.search(shown), repr(UNSAFE.search(shown))
    assert "10 / 10  All 13 checks passed" in shown, "the text itself is kept, only the controls go"


def test_markdown_has_no_live_html_or_links_of_the_students(hostile_report):
    markdown = render_markdown(hostile_report)
    tags = html_tags(markdown)
    assert {tag for tag, _ in tags} <= {"h3", "p", "table", "thead", "tbody", "tr", "th", "td", "code", "br",
                                        "strong", "ul", "li"}, tags
    assert "onerror" in markdown and "<img" not in markdown


@pytest.mark.parametrize("message", [
    "```<img src=x>`", "`<img src=x>```", "``a`<img src=x>``", "`a` <img src=x> `b`", "<img src=x>",
    "``` x ``` <script>alert(1)</script>", "a | b\n<b>x</b>", "\\`<img src=x>\\`", "&lt;img src=x&gt;`<i>`",
])
def test_markdown_escapes_whatever_the_backticks(message):
    report = Report(spec_id="rnn-seq2one", spec_version="1", submission_name="s.py", sha256="0" * 64,
                    grader_version="0", seed=1, tests=[CheckResult("forward_values", 1.5, FAILED, message)])
    markdown = render_markdown(report)
    row = [line for line in markdown.splitlines() if "forward_values" in line][0]
    assert len(re.split(r"(?<!\\)\|", row)) == 6, "four cells, whatever the feedback holds"
    tags = {tag for tag, _ in html_tags(markdown)}
    assert not tags & {"img", "script", "b", "i", "a"}, (message, tags)


def test_markdown_still_shows_code_as_code():
    report = Report(spec_id="rnn-seq2one", spec_version="1", submission_name="s.py", sha256="0" * 64,
                    grader_version="0", seed=1,
                    tests=[CheckResult("forward_values", 1.5, FAILED, "skipped line 3 (`x = a[0] * b_c | d`)")])
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(render_markdown(report))
    assert "<code>x = a[0] * b_c | d</code>" in rendered


def test_check_feedback_is_clean_for_any_caller(hostile_report):
    for test in hostile_report.tests:
        assert not UNSAFE.search(check_feedback(hostile_report, test))


# ------------------------------------------------------------------ staff-only facts

@pytest.fixture(scope="module")
def minimal_report():
    """Graded with resource limits only, and a seed of its own that must stay hidden."""
    import os

    old = os.environ.get("GRADER_ISOLATION")
    os.environ["GRADER_ISOLATION"] = "minimal"
    try:
        return grade_submission(EXAMPLES / "seed_student.py", load(), seed=987654321)
    finally:
        os.environ.pop("GRADER_ISOLATION") if old is None else os.environ.__setitem__("GRADER_ISOLATION", old)


STAFF_WORDS = re.compile(r"987654321|isolation|namespace|landlock|seccomp|sandbox|grade doctor", re.IGNORECASE)


@pytest.mark.parametrize("fmt", STUDENT_VIEWS)
def test_no_student_view_names_the_seed_or_the_isolation(minimal_report, fmt):
    shown = VIEWS[fmt](minimal_report)
    assert not STAFF_WORDS.search(shown), STAFF_WORDS.search(shown)
    for test in minimal_report.tests:
        assert not STAFF_WORDS.search(check_feedback(minimal_report, test))


def test_the_json_report_keeps_them_in_staff_fields_only(minimal_report):
    data = json.loads(VIEWS["json"](minimal_report))
    assert data["seed"] == 987654321 and data["isolation"]["missing"] == list(isolation.DEEP_LAYERS)
    student_text = json.dumps([data["output"], data["tests"], data["diagnoses"]])
    assert not STAFF_WORDS.search(student_text)
    assert minimal_report.isolation_note().startswith("Graded without these isolation layers: namespaces")


def test_grade_file_says_missing_layers_on_stderr_only(monkeypatch):
    monkeypatch.setenv("GRADER_ISOLATION", "full")  # --isolation sets it in this process: undone after the test
    result = CliRunner().invoke(cli.main, [str(EXAMPLES / "seed_student.py"), "--isolation", "minimal"])
    assert result.exit_code == 0
    assert "Graded without these isolation layers" in result.stderr
    assert not STAFF_WORDS.search(result.stdout), result.stdout


def test_a_batch_says_missing_layers_once_on_stderr_and_its_summary_is_clean(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_ISOLATION", "minimal")
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ann.py", "bob.py"):
        (folder / name).write_text(CORRECT.read_text() + f"\n# {name}\n")
    (folder / "\x1b[2J\x1b[Hnotes\u202e.txt").write_text("not a submission")
    result = CliRunner().invoke(cli.main, [str(folder), "--out", str(tmp_path / "out"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Graded without these isolation layers: namespaces, landlock, seccomp, uid") == 1
    assert "Ignored 1 file(s)" in result.stdout and not UNSAFE.search(result.stdout), repr(result.stdout)
    for name in ("ann", "bob"):
        report = json.loads((tmp_path / "out" / f"{name}.json").read_text())
        assert report["isolation"]["missing"] and not STAFF_WORDS.search(report["output"])
