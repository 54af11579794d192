"""The class as course staff see it, built from what OUTDIR holds (the summary and the reports), so
`grade report OUTDIR` rebuilds it without grading anything:

- OUTDIR/index.html: counts, a score histogram and each check's pass rate (inline SVG, charts.py),
  the named misconceptions ranked by how many students show them, a sortable and filterable table
  of students, what was graded with what (staff only), a link to similarity.html when it exists;
- OUTDIR/students/<id>.html and OUTDIR/feedback/<id>.md: each student's own view (`student_pages`);
- OUTDIR/gradebook.csv on request (`gradebook`).

Every score shown is the grader's, then staff's adjustments to checks (they correct the grading), then
the late policy of OUTDIR/course.toml on the total (`lateness`), then staff's `total` adjustments (their
last word: an extension or an excuse can give back what the policy took).

Pages are self-contained (inline CSS, SVG and a small script shipped in grader/course/static/) and
work from file://. Every text from a student is cleaned of control characters and HTML-escaped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from grader.course import adjustments as adjust
from grader.course import charts, course_file, gradebook, lateness, roster, student_pages
from grader.course import standing as standing_
from grader.course import summary_file
from grader.course.student_pages import esc
from grader.report import write_atomic

STATIC = Path(__file__).parent / "static"
STATUSES = ("graded", "ungradable", "error")


class NothingToShow(Exception):
    """OUTDIR holds no batch to show (no summary.json, or one naming no report)."""


@dataclass
class Student:
    id: str
    report: dict | None  # None: on the roster, nothing handed in
    standing: standing_.Standing | None = None  # the score that counts, and how it came about
    adjustments: list = field(default_factory=list)
    late: lateness.Lateness = lateness.Lateness(False)
    name: str = ""  # from the roster
    email: str = ""

    @property
    def score(self) -> float | None:
        return self.standing.score if self.standing else None

    @property
    def scores(self) -> dict[str, float]:
        return self.standing.checks if self.standing else {}

    @property
    def late_sentence(self) -> str:
        return self.standing.late_sentence if self.standing else ""

    @property
    def status(self) -> str:
        return self.report["status"] if self.report else roster.NO_HAND_IN


@dataclass
class Built:
    students: list[Student]
    summary: dict
    problems: list[str]  # adjustments left out, gradebook ids a platform will not match
    gradebook: Path | None = None


COURSE = "course.toml"  # the course file a batch or `grade report --course` was given, kept in OUTDIR
SETTINGS = "settings.json"  # what `grade FOLDER` or `grade report` was asked for (gradebook, assignment)


def load(out: Path, course: course_file.CourseFile | None = None,
         members: dict[str, roster.Member] | None = None) -> tuple[dict, list[Student], list[str]]:
    """The summary, each student with their report and the score that counts (adjusted, after the late
    policy of `course`, else of OUTDIR/course.toml), every roster student (OUTDIR/roster.csv) among
    them, and the problems staff should read. CourseFileProblem or RosterProblem if a file is wrong."""
    try:
        summary = json.loads((out / "summary.json").read_text())
        rows = {row["id"]: row for row in summary["submissions"] if row.get("status") != roster.NO_HAND_IN}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise NothingToShow(f"{out} holds no summary.json of a batch; grade a folder first: "
                            "grade FOLDER --out OUTDIR.") from None
    reports = {}
    for sid in rows:
        try:
            reports[sid] = json.loads((out / f"{sid}.json").read_text())
        except (OSError, ValueError):
            continue  # listed but gone: the summary still counts it; no page is made
    found, problems = adjust.load(out, {sid: {t["name"] for t in r["tests"]} for sid, r in reports.items()})
    if course is None:
        course = course_file.load(out / COURSE if (out / COURSE).is_file() else None)
    if members is None:  # the service passes its own roster; a batch keeps it as OUTDIR/roster.csv
        members = roster.load(out)
    students = []
    for sid, report in reports.items():
        late = lateness.assess(rows[sid], course)
        mine = found.get(sid, [])
        counted = standing_.standing(report, mine, late, course)
        if counted.capped:
            problems.append(f"{adjust.FILE}: the adjustments of {sid} would take the score outside 0 to "
                            f"{counted.max_score:g}; it is held at {counted.score:g}.")
        if sid in course.extensions and late.late and late.days is None:
            problems.append(f"{COURSE} [extensions] gives {sid} their own deadline, but the platform recorded no "
                            "time for this hand-in, only its own late mark (Canvas's _late_, which already counts "
                            "an extension given in Canvas): give the extension there, or a total row in "
                            f"{adjust.FILE}.")
        member = (members or {}).get(sid, roster.Member(sid))
        students.append(Student(sid, report, counted, mine, late, member.name, member.email))
    if members is not None:
        unknown = [s.id for s in students if s.id not in members]
        if unknown:
            problems.append(roster.unknown_line(unknown))
        students += [Student(m.id, None, name=m.name, email=m.email) for m in members.values() if m.id not in reports]
    return summary, students, problems


def settings(out: Path) -> dict:
    """What OUTDIR's pages were last built with ({"gradebook": ..., "assignment": ...}), or {}."""
    try:
        found = json.loads((out / SETTINGS).read_text())
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def build(out: Path, book: str | None = None, assignment: str | None = None,
          course: course_file.CourseFile | None = None, remember: bool = False,
          members: dict[str, roster.Member] | None = None) -> Built:
    """Write summary.csv and summary.json (the score that counts), index.html, students/, feedback/ (and
    gradebook.csv with `book`) from OUTDIR's files. With `remember`, `book` and `assignment` are kept in
    OUTDIR/settings.json, and a later build without them uses them (so `grade report` rewrites the
    gradebook it wrote before)."""
    if remember:
        kept = settings(out)
        if book is not None or assignment is not None:
            kept = {"gradebook": book or kept.get("gradebook"), "assignment": assignment or kept.get("assignment")}
            write_atomic(out / SETTINGS, json.dumps(kept, indent=2) + "\n")
        book, assignment = book or kept.get("gradebook"), assignment or kept.get("assignment")
    summary, students, problems = load(out, course, members)
    summary = summary_file.rewrite(out, summary, students)
    handed = {s.id for s in students if s.report is not None}
    for folder in ("students", "feedback"):
        (out / folder).mkdir(exist_ok=True)
        for old in (out / folder).iterdir():  # pages of students no longer in the batch
            if old.suffix in (".html", ".md") and old.stem not in handed:
                old.unlink(missing_ok=True)
    for s in students:
        if s.report is None:
            continue
        args = (s.report, s.id, s.score, s.adjustments, s.scores, s.late_sentence)
        _write(out / "students" / f"{s.id}.html", student_pages.page(*args, name=s.name))
        _write(out / "feedback" / f"{s.id}.md", student_pages.plain(*args, name=s.name))
    _write(out / "index.html", index(out, summary, students))
    built = Built(students, summary, problems)
    if book:
        rows = gradebook_rows(students)
        built.problems += gradebook.problems(book, rows)
        built.gradebook = gradebook.write(out, book, rows, assignment or summary["spec"]["id"])
    return built


def gradebook_rows(students: list[Student]) -> list[dict]:
    """A gradebook's rows: every student (a roster student with no hand-in has no score), by id."""
    return [{"id": s.id, "name": s.name, "email": s.email, "score": s.score,
             "max_score": s.standing.max_score if s.standing else None, "status": s.status,
             "feedback": " ".join(student_pages.summary_lines(s.report) + [s.late_sentence]).strip()
             if s.report else "No hand-in."} for s in sorted(students, key=lambda s: s.id)]


def _write(path: Path, text: str) -> None:
    """A page, written only when it changed (a regrade moves few of them), atomically but not flushed:
    the reports are what must survive a crash, and the pages are rebuilt from them on every run."""
    try:
        if path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    write_atomic(path, text, durable=False)


def misconceptions(students: list[Student]) -> list[dict]:
    """Each named misconception once, with the students who show it, most common first."""
    merged: dict[str, dict] = {}
    for s in students:
        for d in (s.report or {}).get("diagnoses", []):
            entry = merged.setdefault(d["id"], {"id": d["id"], "message": d["message"], "hint": d["hint"],
                                                "checks": set(), "students": []})
            entry["checks"].update(d.get("checks", []))
            entry["students"].append(s.id)
    return sorted(merged.values(), key=lambda m: (-len(m["students"]), m["id"]))


def index(out: Path, summary: dict, students: list[Student]) -> str:
    statuses = {k: sum(1 for s in students if s.status == k) for k in STATUSES}
    statuses["late"] = sum(1 for s in students if s.late.late)
    missing = sum(1 for s in students if s.report is None)
    max_score = float(summary.get("max_score", 0.0))
    scores = [s.score for s in students if s.standing is not None]
    mean = sum(scores) / len(scores) if scores else 0.0
    graders = [s.standing.grader_score for s in students if s.standing is not None]
    grader_mean = sum(graders) / len(graders) if graders else 0.0
    parts = [f"<h1>{esc(summary['spec']['id'])} {esc(summary['spec']['version'])}: the class</h1>",
             "<p class=\"counts\">" + "".join(
                 f"<span>{label} <b id=\"count-{key}\">{value}</b></span>" for key, label, value in (
                     ("students", "students", len(students)), ("graded", "graded", statuses["graded"]),
                     ("ungradable", "ungradable", statuses["ungradable"]), ("error", "grader error", statuses["error"]),
                     ("late", "late", statuses["late"]),
                     *((("missing", roster.NO_HAND_IN, missing),) if missing else ()),
                     ("mean", "mean score that counts", f"{mean:.2f} / {max_score:g}"),
                     ("grader-mean", "the grader's own mean", f"{grader_mean:.2f}"))) + "</p>",
             "<p class=\"legend\">The score that counts is the grader's score after staff's adjustments "
             "(adjustments.csv) and the late policy (course.toml); the grader's own score is beside it.</p>"]
    if (out / "similarity.html").is_file():
        parts.append("<p class=\"nav\"><a href=\"similarity.html\">Similarity between students</a></p>")
    histogram, rates = charts.histogram(scores, max_score), charts.pass_rates(summary.get("pass_rates", {}))
    parts.append("<div class=\"charts\">"
                 f"<figure><figcaption>Scores (after adjustments and late policy)</figcaption>{histogram}</figure>"
                 f"<figure><figcaption>Pass rate per check</figcaption>{rates}</figure></div>")
    parts += _misconceptions(students)
    parts += _table(students, max_score)
    parts += _staff(summary, students)
    script = (STATIC / "overview.js").read_text()
    style = (STATIC / "overview.css").read_text()
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(summary['spec']['id'])}: the class</title><style>{style}</style>"
            "</head><body>\n" + "\n".join(parts) + f"\n<script>{script}</script>\n</body></html>\n")


def _link(sid: str) -> str:
    return f"<a href=\"students/{esc(quote(sid))}.html\">{esc(sid)}</a>"  # ids are file-name safe; quoted anyway


def _misconceptions(students: list[Student]) -> list[str]:
    found = misconceptions(students)
    if not found:
        return ["<h2>Misconceptions</h2><p>No named misconception in this class.</p>"]
    parts = ["<h2>Misconceptions</h2><table id=\"misconceptions\"><thead><tr><th>students</th><th>misconception</th>"
             "<th>checks</th><th>who</th></tr></thead><tbody>"]
    for m in found:
        parts.append(f"<tr data-id=\"{esc(m['id'])}\"><td class=\"num\">{len(m['students'])}</td>"
                     f"<td><b>{esc(m['message'])}</b><br><span class=\"hint\">Hint: {esc(m['hint'])}</span></td>"
                     f"<td>{esc(', '.join(sorted(m['checks'])))}</td>"
                     f"<td>{', '.join(_link(s) for s in m['students'])}</td></tr>")
    parts.append("</tbody></table>")
    return parts


def _table(students: list[Student], max_score: float) -> list[str]:
    named = any(s.name for s in students)
    headers = [("id", ""), *((("name", ""),) if named else ()), ("score that counts", "number"),
               ("grader's score", "number"), ("status", ""), ("failed", "number"), ("failed checks or why", ""),
               ("misconceptions", "")]
    parts = ["<h2>Students</h2>",
             f"<p><input id=\"filter\" type=\"search\" placeholder=\"filter: id, name, status, check, "
             f"misconception\" aria-label=\"filter the students\"> <span id=\"shown\">{len(students)}</span> "
             "shown. Sort by a column with its header's button (click, or Enter or Space).</p>",
             "<table id=\"students\"><thead><tr>"
             + "".join(f"<th{f' data-type={chr(34)}{kind}{chr(34)}' if kind else ''} scope=\"col\">"
                       f"<button type=\"button\" class=\"sort\">{esc(label)}</button></th>" for label, kind in headers)
             + "</tr></thead><tbody>"]
    for s in sorted(students, key=lambda s: (s.report is None, s.id)):
        name = f"<td>{esc(s.name)}</td>" if named else ""
        if s.report is None:
            parts.append(f"<tr class=\"missing\" data-id=\"{esc(s.id)}\"><td>{esc(s.id)}</td>{name}"
                         "<td class=\"num\" data-sort=\"-1\"></td><td class=\"num\" data-sort=\"-1\"></td>"
                         f"<td>{roster.NO_HAND_IN}</td><td class=\"num\" data-sort=\"-1\"></td>"
                         "<td>nothing handed in</td><td></td></tr>")
            continue
        graded = s.report["status"] == "graded"
        failed = [t["name"] for t in s.report["tests"] if t["status"] != "passed"] if graded else []
        why = ", ".join(failed) if graded else _why(s.report)
        names = ", ".join(d["id"] for d in s.report.get("diagnoses", []))
        adjusted = " (adjusted)" if s.adjustments else ""
        count = f"<td class=\"num\">{len(failed)}</td>" if graded else "<td class=\"num\" data-sort=\"-1\"></td>"
        parts.append(f"<tr class=\"{esc(s.report['status'])}\" data-id=\"{esc(s.id)}\"><td>{_link(s.id)}</td>{name}"
                     f"<td class=\"num\" data-sort=\"{s.score:g}\">{s.score:g} / {max_score:g}{adjusted}</td>"
                     f"<td class=\"num\" data-sort=\"{s.standing.grader_score:g}\">{s.standing.grader_score:g}</td>"
                     f"<td>{esc(' '.join(filter(None, (s.report['status'], s.late.label()))))}</td>"
                     f"{count}<td>{esc(why)}</td><td>{esc(names)}</td></tr>")
    parts.append("</tbody></table>")
    return parts


def _why(report: dict) -> str:
    """Why a report was not graded, in its own words (its first note, else its first line)."""
    for line in [*report.get("notes", []), *str(report.get("output", "")).splitlines()]:
        if line.strip():
            return line.strip().removeprefix("Ungradable: ").removeprefix("Not graded: ")
    return report["status"]


def _staff(summary: dict, students: list[Student]) -> list[str]:
    """What was graded with what: for staff only (never on a student's page)."""
    active: dict[str, int] = {}
    missing: dict[str, int] = {}
    for s in students:
        if s.report is None:
            continue
        for layer in (s.report.get("isolation") or {}).get("active", []):
            active[layer] = active.get(layer, 0) + 1
        for layer in (s.report.get("isolation") or {}).get("missing", []):
            missing[layer] = missing.get(layer, 0) + 1
    layers = ", ".join(f"{esc(k)} ({v})" for k, v in active.items()) or "not recorded"
    gaps = ", ".join(f"{esc(k)} ({v})" for k, v in missing.items()) or "none"
    return ["<h2>For course staff</h2><p class=\"staff\" id=\"staff\">"
            f"grader {esc(summary.get('grader', {}).get('version', '?'))}; spec {esc(summary['spec']['id'])} "
            f"{esc(summary['spec']['version'])} (sha256 {esc(summary['spec'].get('sha256', '')[:12])}); "
            f"seed {esc(summary.get('seed', '?'))}; isolation layers (students): {layers}; missing: {gaps}.</p>"]


def after_batch(out: Path, result, before: dict | None, book: str | None, assignment: str | None) -> None:
    """What `grade_folder` calls at its end: the pages, the gradebook, and what moved since the last run."""
    built = build(out, book, assignment, remember=True)
    result.problems = built.problems
    result.summary = built.summary
    if before is not None:
        after = {row["id"]: row for row in built.summary["submissions"] if row.get("status") != roster.NO_HAND_IN}
        checks = list(built.summary.get("pass_rates", {}))
        result.changes = adjust.changes(before, after, checks)
        adjust.write_changes(out, result.changes)

