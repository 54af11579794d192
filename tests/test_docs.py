"""The docs do what they say: every `grade ...` command shown in README.md and docs/ runs, and the claims
written next to the commands hold.

Commands are taken from fenced shell blocks, from the README's command table and from the `run:` steps of
docs/workflows/*.yml; each runs (no network needed) in a workspace where the docs' file names exist
(rnn.py, SUBMISSION.py, NOTEBOOK.ipynb: the seed student's code, 8.5 / 10; FOLDER: a small class), with
a timeout, and is checked by what its options promise (exit status, the format on stdout and in --out).
SKIPPED lists, with a reason, the few shown commands not run here. Claims in prose are in CLAIMS: the
sentence (whitespace-insensitive) must still be in the doc, and what it says must be true.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from grader.judge.spec import EXAMPLES, PROJECT, load
from grader.judge.spec import available as specs_available

DOCS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
WORKFLOWS = sorted((PROJECT / "docs" / "workflows").glob("*.yml"))
SEED_SCORE = 8.5  # what every stand-in submission of the workspace scores (seed_student.py), of 10

# shown commands that are not run, each with why (the test fails when one is no longer shown)
SKIPPED = {
    "grade serve --course course.toml --roster roster.csv --data grader-data --host 0.0.0.0 --base-url "
    "https://grader.example.edu": "a service that runs until stopped; tests/test_serve_crash.py and "
    "tests/test_serve_browser.py start it with --roster and --course",
    "grade serve --lti lti/lti.json --course course.toml --roster roster.csv --data grader-data --base-url "
    "https://grader.example.edu": "a service that runs until stopped, for a platform; tests/test_lti.py starts it "
    "with --lti against a platform of its own",
    "grade selftest": "minutes for every spec; tests/test_selftest.py and tests/test_specs_all.py run it",
    "grade selftest --spec rnn-seq2one": "tests/test_selftest.py runs it",
    "grade selftest [--spec ID]": "a synopsis: [--spec ID] is optional",
    "grade --spec NAME_OR_PATH ...": "a synopsis: ... stands for any command",
    "grade downloads/ --out reports/ [--jobs N] [--pick GLOB] [--force] [--quiet] [--seed N] [--spec S]":
        "a synopsis of the batch; `grade FOLDER --out OUTDIR` is run",
    "grade downloads/ --out reports/ --similarity": "needs a folder of students; tests/test_similarity.py runs it",
    "grade similarity reports/": "needs a graded class; tests/test_similarity.py runs it",
    "grade downloads/ --out reports/ --cluster tcp://HOST:8786 [--require-isolation landlock,seccomp]":
        "needs a Dask scheduler; tests/test_cluster.py starts one and runs it",
    "grade FOLDER --out OUTDIR --cluster tcp://HOST:8786 [--require-isolation namespaces,landlock,seccomp]":
        "a synopsis of the cluster batch; tests/test_cluster.py runs it",
    "grade downloads/ --out reports/ --cluster tcp://10.0.0.5:8786": "needs a Dask scheduler on a network",
    "grade new-pack DIR": "a synopsis; tests/test_packs.py makes packs",
    "grade ... --pack DIR": "a synopsis: ... stands for any command",
    "grade new-pack hw3": "one of a sequence that tests/test_packs.py runs in a temporary folder",
    "grade selftest --pack hw3": "one of a sequence that tests/test_packs.py runs in a temporary folder",
    "grade student.py --pack hw3 --spec hw3": "one of a sequence that tests/test_packs.py runs in a temporary folder",
    "grade bundle --pack hw3 --spec hw3": "one of a sequence that tests/test_packs.py runs in a temporary folder",
    "grade downloads/ --out reports/ --cluster tcp://ADDRESS:PORT --require-isolation landlock,seccomp":
        "needs a Dask scheduler; tests/test_cluster.py runs --require-isolation against real workers",
}

# the docs' placeholders and file names, as the workspace has them
WORDS = {"SUBMISSION.py": "rnn.py", "SUB.py": "rnn.py", "my_rnn.py": "rnn.py", "NOTEBOOK.ipynb": "notebook.ipynb",
         "FOLDER": "class", "OUTDIR": "reports", "N": "3"}


def _grade_segments(line: str) -> list[str]:
    """The `grade ...` commands of one shell line (`a && b && grade x`), comments dropped."""
    found = []
    for segment in re.split(r"&&|;", line.split(" # ")[0]):
        words = segment.split()
        if words and Path(words[0]).name == "grade":
            found.append(" ".join(["grade", *words[1:]]))
    return found


def shown_commands() -> list[tuple[str, str]]:
    """(where, command) for every `grade` command the docs show."""
    shown = []
    for doc in DOCS:
        lines = doc.read_text().splitlines()
        fence = None
        for number, line in enumerate(lines, 1):
            where = f"{doc.name}:{number}"
            if line.startswith("```"):
                fence = None if fence is not None else line[3:].strip()
                continue
            if fence in ("", "sh", "bash", "shell", "console"):
                shown += [(where, c) for c in _grade_segments(line)]
            elif fence is None and line.startswith("| `grade"):  # the README's table of commands
                shown.append((where, line.split("`")[1]))
    for flow in WORKFLOWS:
        for number, line in enumerate(flow.read_text().splitlines(), 1):
            text = line.strip().removeprefix("run:").strip()
            shown += [(f"{flow.name}:{number}", c) for c in _grade_segments(text)]
    return shown


SHOWN = shown_commands()


def test_the_docs_show_commands_and_every_skipped_one_is_still_shown():
    commands = {c for _, c in SHOWN}
    assert len(commands) >= 15, commands
    assert not set(SKIPPED) - commands, f"SKIPPED names commands the docs no longer show: {set(SKIPPED) - commands}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    here = tmp_path_factory.mktemp("docs")
    shutil.copy(EXAMPLES / "seed_student.py", here / "rnn.py")
    shutil.copy(EXAMPLES / "seed_student.ipynb", here / "notebook.ipynb")
    (here / "submissions_example").mkdir()
    shutil.copy(EXAMPLES / "seed_student.py", here / "submissions_example" / "seed_student.py")
    (here / "class").mkdir()
    for name in ("ann.py", "bob.py"):
        shutil.copy(EXAMPLES / "seed_student.py", here / "class" / name)
    with zipfile.ZipFile(here / "downloads.zip", "w") as archive:  # docs/course.md's platform download
        for name in ("ann.py", "bob.py"):
            archive.write(here / "class" / name, name)
    (here / "roster.csv").write_text("id,name,email\nann,Ann Lee,ann@example.edu\nbob,Bob Ode,\n")
    (here / "course.toml").write_text(_course_example())
    return here


def _course_example() -> str:
    """docs/course.md's course file, as shown."""
    return re.search(r"^```toml\n(.*?)^```", (PROJECT / "docs" / "course.md").read_text(), re.M | re.S).group(1)


def grade(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("grade")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "grader.cli"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def _check_view(fmt: str, text: str, what: str) -> None:
    """`text` is a report of the seed student's code in format `fmt`."""
    if fmt in ("json", "gradescope"):
        assert json.loads(text)["score"] == SEED_SCORE, what
    elif fmt == "junit":
        root = ET.fromstring(text)
        assert root.tag == "testsuites" and root.iter("failure"), what
    elif fmt == "markdown":
        assert f"{SEED_SCORE:g}" in text and "gradient_d_bs" in text, what
    else:
        assert re.search(rf": {SEED_SCORE:g} / 10\b", text), what


@pytest.mark.parametrize("where,command", [(w, c) for w, c in SHOWN if c not in SKIPPED],
                         ids=[f"{w} {c}" for w, c in SHOWN if c not in SKIPPED])
def test_a_shown_command_does_what_its_options_say(where, command, workspace):
    words = [WORDS.get(w, w) for w in shlex.split(command)[1:]]
    redirect = None
    if ">" in words or ">>" in words:  # `grade rnn.py --format junit > grader-junit.xml`
        at = words.index(">") if ">" in words else words.index(">>")
        redirect, words = workspace / Path(words[at + 1].replace("$GITHUB_STEP_SUMMARY", "summary.md")).name, \
            words[:at]
    done = grade(*words, cwd=workspace)
    what = f"{where}: `{command}` exited {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    options = dict(zip(words, words[1:]))
    fmt = options.get("--format", "text")

    if words[0] in ("bundle",):
        assert done.returncode == 0, what
        with zipfile.ZipFile(workspace / options.get("--out", "autograder.zip")) as archive:
            assert {"setup.sh", "run_autograder"} <= set(archive.namelist()), what
    elif words[0] == "lti-keys":
        assert done.returncode == 0 and '"kty": "RSA"' in done.stdout, what
        assert (workspace / words[1] / "private.key").stat().st_mode & 0o077 == 0, what
    elif words[0] == "doctor":
        assert done.returncode == 0 and "Isolation layers" in done.stdout, what
    elif words[0] == "--list-specs":
        assert done.returncode == 0 and all(s.id in done.stdout for s in specs_available())
    elif words[0] == "--help":
        assert done.returncode == 0 and "Usage: grade SUBMISSION [OPTIONS]" in done.stdout, what
    elif (workspace / words[0]).is_dir() or words[0].endswith(".zip"):  # a batch, of a folder or a zip
        assert done.returncode == 0, what
        out = workspace / options["--out"]
        rows = list(csv.DictReader((out / "summary.csv").open()))
        assert [float(r["score"]) for r in rows] == [SEED_SCORE] * len(rows) and rows, what
        assert "submissions in" in done.stdout, what
        if "--roster" in options:  # names from the roster, in the summary and the gradebook
            assert {r["name"] for r in rows} == {"Ann Lee", "Bob Ode"}, what
            if "--gradebook" in options:
                assert "Ann Lee" in (out / "gradebook.csv").read_text(), what
    elif words[0] == "report":  # rebuilt from OUTDIR alone; the gradebook the batch asked for, again
        assert done.returncode == 0 and "Wrote" in done.stdout, what
        out = workspace / words[1]
        if (out / "settings.json").is_file() and json.loads((out / "settings.json").read_text()).get("gradebook"):
            assert "gradebook.csv" in done.stdout, what
    else:  # one file
        below = "--fail-under" in options and 100 * SEED_SCORE / 10 < float(options["--fail-under"])
        assert done.returncode == (1 if below else 0), what
        assert ("below --fail-under" in done.stderr) == below, what
        _check_view(fmt, done.stdout, what)
        if "--out" in options:
            written = fmt if "--format" in options else "json"
            _check_view(written, (workspace / options["--out"]).read_text(), what + " (--out)")
        if redirect is not None:
            redirect.write_text(done.stdout)


def _prose(doc: str) -> str:
    return " ".join((PROJECT / doc).read_text().split())


def _graded(name: str, cwd: Path) -> dict:
    done = grade(name, "--format", "json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _failed(report: dict) -> set[str]:
    return {t["name"] for t in report["tests"] if t["status"] == "failed"}


def claim_seed_loses_two_checks(workspace):
    assert _failed(_graded("rnn.py", workspace)) == {"gradient_d_bs", "update"}


def claim_notebook_graded_like_py(workspace):
    notebook, script = _graded("notebook.ipynb", workspace), _graded("rnn.py", workspace)
    assert notebook["status"] == "graded" and notebook["score"] == script["score"] == SEED_SCORE


def claim_notebook_and_export_grade_like_the_py(workspace):
    reports = [_graded(str(EXAMPLES / name), workspace)
               for name in ("seed_student.py", "seed_student.ipynb", "seed_student_nbconvert.py")]
    assert len({(r["score"], frozenset(_failed(r))) for r in reports}) == 1


def claim_usage_errors_exit_2(workspace):
    assert grade("no_such_file.py", cwd=workspace).returncode == 2
    assert grade("rnn.py", "--spec", "no-such-spec", cwd=workspace).returncode == 2


def claim_checks_and_points(workspace):
    """README "The checks": every check of rnn-seq2one with its points, and the total."""
    section = _prose("README.md").split("## The checks (rnn-seq2one, ")[1]
    total, text = section.split(" points)", 1)
    points, pending = {}, []
    for name, value in re.findall(r"`(\w+)`|\(([\d.]+)(?: each)?\)", text.split(". How each")[0]):
        if name:
            pending.append(name)
        else:
            points.update({n: float(value) for n in pending})
            pending = []
    spec = load("rnn-seq2one")
    assert points == {c["name"]: c["points"] for c in spec.checks}
    assert float(total) == spec.max_score


def claim_course_file_as_shown_loads(workspace):
    from grader.course import course_file

    (workspace / "shown.toml").write_text(_course_example())
    course = course_file.load(workspace / "shown.toml")
    assert course.late.per_day == 0.10 and course.grace.total_seconds() == 15 * 60
    assert course.deadline_for("777002") > course.deadline_for("someone else") == course.deadline
    assert "ann@example.edu" in course.extensions


def claim_refused_before_grading_exit_2(workspace):
    (workspace / "nothing").mkdir(exist_ok=True)
    assert grade("nothing", "--out", "nothing-graded", cwd=workspace).returncode == 2
    assert grade("class", "--out", "class/graded", cwd=workspace).returncode == 2


CLAIMS = [
    ("docs/course.md", "`[extensions]` applies wherever the time of a hand-in is known", claim_course_file_as_shown_loads),
    ("README.md", "2 for a usage error (a missing file, an unknown spec) or input refused before grading (a folder "
                  "with no submission, `--out` inside the folder of submissions", claim_refused_before_grading_exit_2),
    ("README.md", "the seed student's own code: it loses `gradient_d_bs` and `update`", claim_seed_loses_two_checks),
    ("docs/ci.md", "A notebook is graded like a .py (see \"Notebooks\" in the README): `seed_student.ipynb` scores "
                   "8.5 / 10, as `seed_student.py` does.", claim_notebook_graded_like_py),
    ("README.md", "`submissions_example/seed_student.ipynb` (the seed student's notebook) and "
                  "`seed_student_nbconvert.py` (its export) grade exactly like `seed_student.py`",
     claim_notebook_and_export_grade_like_the_py),
    ("README.md", "2 for a usage error (a missing file, an unknown spec)", claim_usage_errors_exit_2),
    ("README.md", "## The checks (rnn-seq2one, 10 points)", claim_checks_and_points),
]


@pytest.mark.parametrize("doc,sentence,check", CLAIMS, ids=[c[2].__name__ for c in CLAIMS])
def test_a_claim_next_to_a_command_holds(doc, sentence, check, workspace):
    assert " ".join(sentence.split()) in _prose(doc), f"{doc} no longer says: {sentence}"
    check(workspace)


def test_a_report_shown_in_the_docs_is_what_grading_that_file_prints(workspace):
    """A fenced block that starts like a text report ("seed_student.py: 8.5 / 10") is checked against a
    real grading of that example: its score, its FAIL lines and the checks its misconceptions name."""
    shown = []
    for doc in DOCS:
        for block in re.findall(r"^```\n(.*?)^```", doc.read_text(), re.M | re.S):
            head = re.match(r"(\S+\.(?:py|ipynb)): ([\d.]+) / ([\d.]+)", block)
            if head:
                shown.append((doc.name, head, block))
    assert shown, "the README shows a report"
    for doc, head, block in shown:
        done = grade(str(EXAMPLES / head[1]), cwd=workspace)
        assert done.stdout.startswith(f"{head[1]}: {head[2]} / {head[3]}"), (doc, done.stdout[:200])
        for check in re.findall(r"^\s+FAIL\s+(\w+)", block, re.M) + re.findall(r"\[(\w+)\]$", block, re.M):
            assert re.search(rf"^\s+FAIL\s+{check}\b", done.stdout, re.M), (doc, check)
