"""The class as the service knows it: each attempt with its result and its standing (`course.standing`:
the late policy against the student's own deadline, `[extensions]` included, and for the attempt that
counts staff's adjustments too), the attempt that counts (best or last, from the course file), and the
live class folder (DATA/class/: a report per student and summary.json, the batch's OUTDIR shape) from
which `course.overview.build` makes the same index.html, student pages and gradebook as a batch's, every
student of the roster among them. So the home page's "Score that counts", /api/submissions, the
feedback page, the overview and the gradebook show one number, computed by one function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from grader import __version__
from grader.course import adjustments as adjust
from grader.course import roster as roster_file
from grader.course.lateness import Lateness
from grader.course.standing import Standing, standing
from grader.report import write_atomic
from grader.serve.store import Grading, Student, Submission


@dataclass
class Attempt:
    id: int
    student: str
    filename: str
    received_at: object
    days_late: float
    state: str  # accepted, grading, graded
    report: dict | None
    standing: Standing | None = None  # its score: the late policy, and staff's adjustments if it counts
    ranked: float | None = None  # its score after the late policy alone: what "best" compares
    counts: bool = False  # the attempt that goes to the gradebook (set when adjustments were applied)
    adjustments: list = field(default_factory=list)  # staff's, for the attempt that counts

    @property
    def score(self) -> float | None:
        """The score that counts for this attempt (course.standing)."""
        return self.standing.score if self.standing else None

    @property
    def late(self) -> str:
        """The late policy's sentence, empty when on time."""
        return self.standing.late_sentence if self.standing else ""

    @property
    def lateness(self) -> Lateness:
        return Lateness(self.days_late > 0, self.days_late if self.days_late > 0 else None)


def shown_attempts(service, student: str | None = None) -> list[Attempt]:
    """Every attempt (of one student, or of all) as a person reads it: staff's adjustments (the service's
    adjustments.csv) applied to each student's attempt that counts."""
    return attempts(service.make_session, service.spec.fingerprint, service.course, student, service.out)


def attempts(make_session: sessionmaker, spec: str, course, student: str | None = None,
             out: Path | None = None) -> list[Attempt]:
    """Every attempt (of one student, or of all), oldest first, with its result if any; with `out` (the
    class folder), OUTDIR/adjustments.csv applied to each student's attempt that counts."""
    query = (select(Submission, Grading).join(Grading, (Grading.key == Submission.key) & (Grading.spec == spec),
                                              isouter=True).order_by(Submission.id))
    if student is not None:
        query = query.where(Submission.student_id == student)
    found = []
    with make_session() as session:
        for sub, grading in session.execute(query):
            report = None
            if grading is not None and grading.state == "graded":
                report = relabel(grading.report, sub.student_id, sub.filename)
            # judged against the course file in force now, as the overview judges it (the stored
            # days_late is what it was at hand-in, kept as a record)
            days_late = course.days_late(sub.received_at, sub.student_id)  # their extension's deadline, if any
            attempt = Attempt(sub.id, sub.student_id, sub.filename, sub.received_at, days_late,
                              grading.state if grading else "accepted", report)
            if report is not None:
                attempt.standing = standing(report, [], attempt.lateness, course)
                attempt.ranked = attempt.standing.score
            found.append(attempt)
    if out is not None:
        _adjusted(found, out, course)
    return found


def _adjusted(found: list[Attempt], out: Path, course) -> None:
    """Staff's adjustments on each student's attempt that counts, by the batch's one rule."""
    chosen = {sid: counting(tries, course.counts) for sid, tries in by_student(found).items()}
    chosen = {sid: a for sid, a in chosen.items() if a is not None}
    rows = adjust.load(out, {sid: {t["name"] for t in a.report["tests"]} for sid, a in chosen.items()})[0]
    for sid, attempt in chosen.items():
        attempt.counts = True
        attempt.adjustments = rows.get(sid, [])
        if attempt.adjustments:
            attempt.standing = standing(attempt.report, attempt.adjustments, attempt.lateness, course)


def relabel(report: dict, sid: str, filename: str) -> dict:
    """A shared grading (identical bytes) as this student's: their id and their own file's name."""
    return dict(report, submission=dict(report["submission"], id=sid, name=filename))


def counting(tries: list[Attempt], counts: str) -> Attempt | None:
    """The attempt that goes to the gradebook: the best score (the latest among equals), or the last graded."""
    graded = [a for a in tries if a.report is not None]
    if not graded:
        return None
    if counts == "last":
        return graded[-1]
    return max(reversed(graded), key=lambda a: a.ranked)  # before adjustments: they follow the choice


def by_student(tries: list[Attempt]) -> dict[str, list[Attempt]]:
    found: dict[str, list[Attempt]] = {}
    for a in tries:
        found.setdefault(a.student, []).append(a)
    return found


def refresh(out: Path, make_session: sessionmaker, spec, course) -> dict[str, Attempt]:
    """Write the class folder from the database: each student's counting report and summary.json.
    Returns {id: counting attempt}."""
    out.mkdir(parents=True, exist_ok=True)
    chosen = {}
    for sid, tries in by_student(attempts(make_session, spec.fingerprint, course)).items():
        attempt = counting(tries, course.counts)
        if attempt is not None:
            chosen[sid] = attempt
    rows = []
    for sid, attempt in sorted(chosen.items()):
        report = attempt.report
        path = out / f"{sid}.json"
        text = json.dumps(report, indent=2) + "\n"
        if not path.is_file() or path.read_text() != text:
            write_atomic(path, text, durable=False)  # rebuilt from the database at will
        scores = {t["name"]: t["score"] for t in report["tests"]}
        # the grader's score and when it came: the overview applies adjustments and the late policy to it,
        # in the batch's order (course/overview.py), so that every page and the gradebook agree
        rows.append({"id": sid, "score": report["score"], "max_score": report["max_score"],
                     **{c["name"]: scores.get(c["name"], 0.0) for c in spec.checks},
                     "status": report["status"], "sha256": report["submission"]["sha256"], "file": attempt.filename,
                     "late": "yes" if attempt.days_late > 0 else "", "handed_in": _iso(attempt.received_at)})
    pass_rates = {c["name"]: round(sum(1 for a in chosen.values() for t in a.report["tests"]
                                       if t["name"] == c["name"] and t["status"] == "passed") / len(rows), 4)
                  if rows else 0.0 for c in spec.checks}
    summary = {"spec": {"id": spec.id, "version": spec.version, "sha256": spec.fingerprint},
               "grader": {"version": __version__}, "seed": spec.seed, "count": len(rows),
               "graded": sum(1 for r in rows if r["status"] == "graded"),
               "mean_score": round(sum(r["score"] for r in rows) / len(rows), 4) if rows else 0.0,
               "max_score": spec.max_score, "pass_rates": pass_rates, "submissions": rows}
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n", durable=False)
    return chosen


def members(make_session: sessionmaker) -> dict[str, roster_file.Member]:
    """The service's roster as the batch's pages take one: every student, with a hand-in or not."""
    return {sid: roster_file.Member(sid, name) for sid, name in roster(make_session)}


def build_pages(out: Path, make_session: sessionmaker, spec, course, book: str | None = None):
    """The class overview (and the gradebook with `book`), live: refreshed from the database, then built
    by the batch's own page code, every roster student counted (a student with no hand-in too). The
    scores are the ones that count (course.standing). None before anyone is on the roster."""
    from grader.course import overview

    refresh(out, make_session, spec, course)
    everyone = members(make_session)
    if not everyone:
        return None
    return overview.build(out, book, spec.id, course, members=everyone)


def _iso(moment) -> str:
    """A stored time (naive ones are UTC) as ISO 8601 with its offset."""
    import datetime as dt

    if moment is None:
        return ""
    return (moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment).isoformat()


def roster(make_session: sessionmaker) -> list[tuple[str, str]]:
    with make_session() as session:
        return [(s.id, s.name) for s in session.scalars(select(Student).order_by(Student.id))]
