"""Grading a folder: find the submissions, grade each once in parallel workers, write a report per
submission and a summary for the class.

A batch is built to be interrupted. Every report is written atomically and records what it graded
(the submission's sha256, the spec's fingerprint, the grader's version and the seed), so running the
same command again reuses every report that still matches and grades only the rest. Files with the
same content are graded once and reported under each id.

Workers are forked from this process after the spec is loaded; each grades one submission at a time
through the engine (whose children are started fresh, never forked from a worker's memory). A worker
that dies costs only the submission it was grading, which gets an `error` report and is graded again
on the next run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader import __version__
from grader import source
from grader.report import ERROR, CheckResult, Report, clean, spreadsheet_cell, write_atomic
from grader.sandbox.reaping import become_subreaper, our_children, sweep_orphans
from grader.course.discovery import Submission, discover, files_line
from grader.course.pool import Pool
from grader.judge.spec import Spec

# ------------------------------------------------------------------ reports on disk

def reusable(path: Path, sub: Submission, spec: Spec, seed: int) -> dict | None:
    """The report already on disk for this submission, if it graded exactly what would be graded now."""
    try:
        report = json.loads(path.read_text())
        same = (report["submission"]["sha256"] == sub.sha256 and report["spec"].get("sha256") == spec.fingerprint
                and report["grader"]["version"] == __version__ and report["seed"] == seed
                and report["status"] != "error" and report["submission"].get("id") == sub.id)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return report if same else None


def placeholder_report(spec: Spec, seed: int, name: str, sha256: str, why: str, status: str) -> Report:
    """A report for a submission that was not graded: every check is listed, none is scored."""
    tests = [CheckResult(c["name"], float(c["points"]), ERROR, f"Not run: {why}") for c in spec.checks]
    report = Report(spec_id=spec.id, spec_version=spec.version, submission_name=name, sha256=sha256,
                    grader_version=__version__, seed=seed, tests=tests, status=status,
                    spec_sha256=spec.fingerprint)
    report.notes.append(f"{'Ungradable' if status == 'ungradable' else 'Not graded'}: {why}")
    return report


# ------------------------------------------------------------------ progress

class Progress:
    """Counts and an estimate of the time left, on stderr: redrawn in place on a terminal, a line
    every tenth of the way (and at least every 10 s) otherwise."""

    def __init__(self, total: int, reused: int, quiet: bool, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.done, self.quiet = total, reused, quiet
        self.started = time.monotonic()
        self.graded = 0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_line, self.last_tenth = 0.0, -1
        if not quiet and reused:
            self.stream.write(f"{reused} of {total} reports are up to date and were kept.\n")

    def advance(self, count: int = 1) -> None:
        self.done += count
        self.graded += count
        if self.quiet:
            return
        elapsed = time.monotonic() - self.started
        rate = self.graded / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate else 0.0
        line = (f"graded {self.done}/{self.total} ({100 * self.done / max(self.total, 1):.0f}%), "
                f"{rate:.1f}/s, about {_duration(left)} left")
        tenth = 10 * self.done // max(self.total, 1)
        if self.tty:
            self.stream.write(f"\r{line}   ")
        elif tenth != self.last_tenth or elapsed - self.last_line >= 10 or self.done == self.total:
            self.stream.write(line + "\n")
            self.last_tenth, self.last_line = tenth, elapsed
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


# ------------------------------------------------------------------ the batch

@dataclass
class BatchResult:
    submissions: list[Submission]
    reports: dict[str, dict]  # id -> report
    reused: int = 0  # submissions whose report was kept from an earlier run
    graded: int = 0  # distinct files graded by this run (identical files are graded once)
    graded_submissions: int = 0  # submissions whose report this run's grading gave (graded + their copies)
    ignored: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    similarity: tuple | None = None  # (listed pairs, submissions compared) when --similarity ran
    changes: list[dict] | None = None  # who moved since the reports on disk before this run (a regrade)
    problems: list[str] = field(default_factory=list)  # adjustments left out, gradebook ids not matched
    summary: dict | None = None  # summary.json as the page build left it: the scores that count
    pick_missed: list[str] = field(default_factory=list)  # ids none of whose files matched --pick


def grade_folder(folder: Path, out: Path, spec: Spec, seed: int | None = None, jobs: int | None = None,
                 pick: str | None = None, force: bool = False, quiet: bool = False,
                 stream=None, similarity: bool = False, make_pool=None, gradebook: str | None = None,
                 assignment: str | None = None, course: Path | None = None,
                 roster: Path | None = None) -> BatchResult:
    """Grade every submission in `folder` into `out`; reuse reports that still match (unless force).
    With `similarity`, also rank pairs of students by similarity (grader/course/similarity.py).
    `make_pool(workers, spec, seed)` makes what grades the distinct files (default: forked local workers,
    `Pool`; a Dask cluster's is `grader.course.cluster.ClusterPool`, with the same interface).
    `course` (a course file, checked by the caller) is kept as OUTDIR/course.toml, and `roster` (checked too)
    as OUTDIR/roster.csv, which every page build reads."""
    started = time.monotonic()
    seed = spec.seed if seed is None else seed
    out.mkdir(parents=True, exist_ok=True)
    if course is not None:
        write_atomic(out / "course.toml", Path(course).read_text(encoding="utf-8-sig"))
    if roster is not None:
        write_atomic(out / "roster.csv", Path(roster).read_text(encoding="utf-8-sig"))
    for stale in out.glob(".*.tmp"):  # what a killed run was writing: never a report
        stale.unlink(missing_ok=True)
    submissions, ignored = discover(folder, pick, exclude=out, marker=spec.marker)
    from grader.course import adjustments
    last_run = adjustments.earlier(out)  # the summary of the last run, to say who moved on a regrade
    reports: dict[str, dict] = {}
    todo: dict[str, list[Submission]] = {}  # one grading per distinct content
    for sub in submissions:
        if sub.path is None:
            sub.sha256 = hashlib.sha256(sub.problem.encode()).hexdigest()
            report = placeholder_report(spec, seed, sub.name, sub.sha256, sub.problem, "ungradable")
            reports[sub.id] = _for(sub, report.to_dict())
            continue
        sub.sha256 = source.read(sub.path).sha256  # as the engine hashes it: once, never through a link
        kept = None if force else reusable(out / f"{sub.id}.json", sub, spec, seed)
        if kept is not None:
            reports[sub.id] = kept
        else:
            todo.setdefault(f"{sub.sha256}{sub.path.suffix}", []).append(sub)
    for key in list(todo):  # same content as a report kept from an earlier run
        kept = next((reports[s.id] for s in submissions if s.id in reports and s.path is not None
                     and f"{s.sha256}{s.path.suffix}" == key), None)
        if kept is not None:
            for sub in todo.pop(key):
                reports[sub.id] = _for(sub, kept)
                _write_report(out, sub, reports[sub.id])
    reused = len(reports) - sum(1 for s in submissions if s.path is None)
    for sub in submissions:
        if sub.path is None:
            _write_report(out, sub, reports[sub.id])

    progress = Progress(len(submissions), len(submissions) - sum(map(len, todo.values())), quiet, stream)
    jobs_list = [(key, str(subs[0].path), subs[0].name) for key, subs in todo.items()]
    become_subreaper()  # what a killed worker's sandbox leaves behind lands here, and is swept below
    before = our_children()
    workers = min(jobs or os.cpu_count() or 1, max(1, len(jobs_list)))
    pool = (make_pool or Pool)(workers, spec, seed) if jobs_list else None
    try:
        for key, result in (pool.run(jobs_list) if pool else ()):
            for sub in todo[key]:
                if "error" in result:
                    result = placeholder_report(spec, seed, sub.name, sub.sha256,
                                                f"the grader failed on this submission ({result['error']}); "
                                                "this is not the student's fault: run the batch again",
                                                "error").to_dict()
                reports[sub.id] = _for(sub, result)
                _write_report(out, sub, reports[sub.id])
            progress.advance(len(todo[key]))
    finally:
        if pool:
            pool.close()
        sweep_orphans(before)
        progress.finish()
    result = BatchResult(submissions, reports, reused=reused, graded=len(jobs_list), ignored=ignored,
                         graded_submissions=sum(map(len, todo.values())), seconds=time.monotonic() - started,
                         pick_missed=[s.id for s in submissions if s.pick_missed])
    write_summary(out, spec, seed, result)
    _course(out, spec, result, similarity)
    _pages(out, result, last_run, gradebook, assignment)
    return result


def _course(out: Path, spec: Spec, result: BatchResult, similarity: bool) -> None:
    """Class-level work after grading (grader/course/): the submissions' code is recorded in OUTDIR
    for `grade similarity OUTDIR`, and compared now with --similarity."""
    from grader.course import similarity as course_similarity

    try:
        result.similarity = course_similarity.after_batch(out, spec, result.submissions, similarity)
    except OSError as exc:  # the reports are written; this must not undo the batch
        print(f"Could not write the similarity files in {out}: {exc.strerror or exc}.", file=sys.stderr)


def _pages(out: Path, result: BatchResult, before, gradebook: str | None, assignment: str | None) -> None:
    """The class overview, each student's page and feedback, the gradebook (grader/course/overview.py)."""
    if not result.submissions:
        return
    from grader.course import overview

    try:
        overview.after_batch(out, result, before, gradebook, assignment)
    except OSError as exc:  # the reports are written; this must not undo the batch
        print(f"Could not write the class pages in {out}: {exc.strerror or exc}.", file=sys.stderr)
    except ValueError as exc:  # OUTDIR/course.toml edited into a wrong one since it was copied there
        print(f"Could not write the class pages: {exc}. Fix it, then run `grade report {out}`.", file=sys.stderr)


def _for(sub: Submission, report: dict) -> dict:
    """A report (possibly of an identical file) as this student's: their id and their file's name, and the
    other files of their folder that the rule did not choose."""
    rest = {k: v for k, v in report["submission"].items() if k not in ("id", "name")}
    output = report["output"]
    if sub.others:
        output += "\n" + files_line(sub.name, sub.others)
    return dict(report, output=output, submission={"id": sub.id, "name": sub.name, **rest})


def _write_report(out: Path, sub: Submission, report: dict) -> None:
    write_atomic(out / f"{sub.id}.json", json.dumps(report, indent=2) + "\n")


# ------------------------------------------------------------------ summary

def summary_rows(spec: Spec, result: BatchResult) -> list[dict]:
    rows = []
    for sub in result.submissions:
        report = result.reports[sub.id]
        scores = {t["name"]: t["score"] for t in report["tests"]}
        # the grader's record; the page build (course/summary_file.py) rewrites `score` as the score that counts
        rows.append({"id": sub.id, "score": report["score"], "grader_score": report["score"],
                     "max_score": report["max_score"],
                     **{c["name"]: scores.get(c["name"], 0.0) for c in spec.checks},
                     "status": report["status"], "sha256": report["submission"]["sha256"],
                     "file": str(sub.path.name) if sub.path else "",
                     "late": "yes" if sub.late else "", "handed_in": sub.handed_in})  # the platform's word
    return rows


def _statuses(rows: list[dict]) -> dict[str, int]:
    return {s: sum(1 for r in rows if r["status"] == s) for s in ("graded", "ungradable", "error")}


def write_summary(out: Path, spec: Spec, seed: int, result: BatchResult) -> dict:
    """summary.csv for a spreadsheet or gradebook, summary.json with the same and the class's pass rates."""
    rows = summary_rows(spec, result)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["id", "score", "grader_score", "max_score",
                                                *(c["name"] for c in spec.checks),
                                                "status", "sha256", "file", "late", "handed_in"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: (f"{v:g}" if isinstance(v, float) else spreadsheet_cell(v)) for k, v in row.items()}
                     for row in rows)
    write_atomic(out / "summary.csv", buffer.getvalue())
    statuses = _statuses(rows)
    pass_rates = {}
    for check in spec.checks:
        passed = sum(1 for sub in result.submissions
                     if any(t["name"] == check["name"] and t["status"] == "passed"
                            for t in result.reports[sub.id]["tests"]))
        pass_rates[check["name"]] = round(passed / len(rows), 4) if rows else 0.0
    summary = {
        "spec": {"id": spec.id, "version": spec.version, "sha256": spec.fingerprint},
        "grader": {"version": __version__}, "seed": seed,
        "count": len(rows), "graded": statuses["graded"], "statuses": statuses,
        "mean_score": round(sum(r["score"] for r in rows) / len(rows), 4) if rows else 0.0,
        "max_score": spec.max_score, "pass_rates": pass_rates, "submissions": rows,
    }
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def render_summary(result: BatchResult, out: Path, spec: Spec) -> str:
    """What course staff read at the end of a batch: counts, the class's mean, where things are."""
    rows = summary_rows(spec, result)
    statuses = _statuses(rows)
    grader_mean = sum(r["score"] for r in rows) / len(rows) if rows else 0.0
    mean = result.summary["mean_score"] if result.summary else grader_mean
    missing = (result.summary or {}).get("no_hand_in", 0)
    # two partitions of the same submissions, each adding up to the total: by status, and by where the
    # report came from (graded now, kept, or turned away without a file to grade)
    refused = sum(1 for sub in result.submissions if sub.path is None)
    copies = result.graded_submissions - result.graded
    lines = [f"{len(rows)} submissions in {_duration(result.seconds)}: {statuses['graded']} graded, "
             f"{statuses['ungradable']} ungradable, {statuses['error']} not graded because of a grader error.",
             f"This run: {result.graded_submissions} graded now"
             + (f" ({result.graded} distinct files: identical files are graded once)" if copies else "")
             + f", {result.reused} reports kept from an earlier run"
             + (f", {refused} turned away without a file to grade (their reports say why)" if refused else "")
             + ".",
             f"Mean score that counts {mean:.2f} / {spec.max_score:g} (after adjustments and the late policy; "
             f"the grader's own: {grader_mean:.2f}). Reports and summary.csv are in {out}."]
    if missing:
        lines.append(f"{missing} student(s) of the roster handed in nothing (status \"no hand-in\").")
    if result.ignored:
        names = clean(", ".join(p.name for p in result.ignored[:5]) + (" ..." if len(result.ignored) > 5 else ""))
        lines.append(f"Ignored {len(result.ignored)} file(s) that are not .py or .ipynb: {names}.")
    if statuses["error"]:
        lines.append("Run the same command again to retry the submissions the grader failed on.")
    return "\n".join(lines) + "\n"
