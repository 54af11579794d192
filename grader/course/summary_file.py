"""OUTDIR/summary.json and OUTDIR/summary.csv as every page build leaves them: one row per student (a
roster student with no hand-in too), `score` the score that counts (`course.standing`), and the
grader's own score beside it as `grader_score`, with what moved it (`adjusted`, `late_penalty`).

The batch writes the rows it graded first (`batch.write_summary`); the page build rewrites them with
the scores that count. An OUTDIR written before these columns existed is read the same way: only a
row's id, late and handed_in are read back, and the scores come from the reports.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from grader.course import roster
from grader.report import spreadsheet_cell, write_atomic

LEADING = ["id", "name", "score", "grader_score", "adjusted", "late_penalty", "max_score"]
TRAILING = ["status", "sha256", "file", "late", "handed_in"]


def rewrite(out: Path, summary: dict, students: list) -> dict:
    """summary.json and summary.csv with the score that counts; returns the new summary."""
    checks = list(summary.get("pass_rates", {}))
    old = {row["id"]: row for row in summary.get("submissions", [])}
    rows = []
    for s in sorted(students, key=lambda s: (s.report is None, s.id)):
        before = old.get(s.id, {})
        if s.standing is None:
            rows.append({"id": s.id, "name": s.name, "score": None, "grader_score": None, "adjusted": None,
                         "late_penalty": None, "max_score": summary.get("max_score"), **{c: None for c in checks},
                         "status": roster.NO_HAND_IN, "sha256": "", "file": "", "late": "", "handed_in": ""})
            continue
        report = s.report
        rows.append({"id": s.id, "name": s.name, **s.standing.numbers(), "max_score": s.standing.max_score,
                     **{c: s.standing.checks.get(c, 0.0) for c in checks}, "status": report["status"],
                     "sha256": report["submission"].get("sha256", before.get("sha256", "")),
                     "file": before.get("file", report["submission"].get("name", "")),
                     "late": before.get("late", ""), "handed_in": before.get("handed_in", "")})
    scored = [r for r in rows if r["score"] is not None]
    statuses = {k: sum(1 for r in rows if r["status"] == k) for k in ("graded", "ungradable", "error")}
    new = dict(summary, count=len(scored), graded=statuses["graded"], statuses=statuses,
               no_hand_in=len(rows) - len(scored),
               mean_score=round(sum(r["score"] for r in scored) / len(scored), 4) if scored else 0.0,
               grader_mean_score=round(sum(r["grader_score"] for r in scored) / len(scored), 4) if scored else 0.0,
               submissions=rows)
    text = json.dumps(new, indent=2) + "\n"
    if _read(out / "summary.json") != text:
        write_atomic(out / "summary.json", text)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*LEADING, *checks, *TRAILING], lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else f"{v:g}" if isinstance(v, float) else spreadsheet_cell(v))
                      for k, v in row.items()} for row in rows)
    if _read(out / "summary.csv") != buffer.getvalue():
        write_atomic(out / "summary.csv", buffer.getvalue())
    return new


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
