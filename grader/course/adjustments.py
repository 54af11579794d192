"""Course staff's own word on a score, and what moved on a regrade.

`OUTDIR/adjustments.csv` (columns id, check, points, comment) is read on every run and applied to the
score every page and gradebook shows: `check` names a check (its score moves by `points`, kept within
0 and that check's points) or is `total` (the total moves, never below 0). The reports on disk stay the
grader's own. `changes.csv` compares the summary that was on disk before a run with the new one.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from grader.report import clean, write_atomic

FILE = "adjustments.csv"
CHANGES = "changes.csv"
COLUMNS = ("id", "check", "points", "comment")


@dataclass
class Adjustment:
    id: str
    check: str  # a check's name, or "total"
    points: float
    comment: str


def problem_with_columns(out: Path) -> str | None:
    """What is wrong with OUTDIR/adjustments.csv's columns, in a sentence (None: nothing, or no file)."""
    path = out / FILE
    if not path.is_file():
        return None
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            fields = csv.DictReader(fh).fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
    missing = [c for c in COLUMNS[:3] if c not in fields]
    if missing:
        return (f"{path} needs the columns {', '.join(COLUMNS)} (check: a check's name, or total); it has no "
                f"{', '.join(missing)}. Fix its first line; nothing was graded or rebuilt.")
    return None


def load(out: Path, checks: dict[str, set[str]]) -> tuple[dict[str, list[Adjustment]], list[str]]:
    """The adjustments of OUTDIR by student id, and a line for each row left out (and why).
    `checks` is {id: names of that student's checks}: a row naming an unknown id or check is left out."""
    path = out / FILE
    if not path.is_file():
        return {}, []
    problems: list[str] = []
    found: dict[str, list[Adjustment]] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS[:3] if c not in (reader.fieldnames or [])]
        if missing:
            return {}, [f"{FILE} needs the columns {', '.join(COLUMNS)}; it has no {', '.join(missing)}: ignored."]
        for line, row in enumerate(reader, start=2):
            who, check = (row.get("id") or "").strip(), (row.get("check") or "").strip() or "total"
            try:
                points = float((row.get("points") or "").strip())
                if points != points or abs(points) == float("inf"):
                    raise ValueError
            except ValueError:
                problems.append(f"{FILE} line {line}: points {clean(row.get('points') or '')!r} is not a number.")
                continue
            if who not in checks:
                problems.append(f"{FILE} line {line}: no submission has the id {clean(who)!r}.")
            elif check != "total" and check not in checks[who]:
                problems.append(f"{FILE} line {line}: {clean(who)} has no check {clean(check)!r} "
                                "(a check's name, or total).")
            else:
                found.setdefault(who, []).append(Adjustment(who, check, points, clean(row.get("comment") or "")))
    return found, problems


def adjusted(report: dict, adjustments: list[Adjustment], policy=None) -> tuple[float, dict[str, float]]:
    """The report's total and each check's score once the adjustments are applied: to checks first
    (they correct the grading), then `policy(total) -> total` (the late policy), then to the total, kept
    within 0 and the maximum. `course.standing.standing` is the same rule, with its numbers apart."""
    scores = {t["name"]: float(t["score"]) for t in report["tests"]}
    limits = {t["name"]: float(t["max_score"]) for t in report["tests"]}
    bonus = 0.0
    for a in adjustments:
        if a.check == "total":
            bonus += a.points
        else:
            scores[a.check] = min(max(scores[a.check] + a.points, 0.0), limits[a.check])
    total = sum(scores.values())
    total = policy(total) if policy else total
    return round(min(max(total + bonus, 0.0), float(report["max_score"])), 6), scores


# ------------------------------------------------------------------ what moved on a regrade

def earlier(out: Path) -> dict[str, dict] | None:
    """The summary rows on disk before a run ({id: row}), or None on a first run."""
    try:
        return {row["id"]: row for row in json.loads((out / "summary.json").read_text())["submissions"]
                if row.get("score") is not None}  # a roster student with no hand-in has no score
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _grader(row: dict) -> float:
    """A summary row's grader score (an OUTDIR from before `grader_score` has it as `score`)."""
    value = row.get("grader_score")
    return float(row["score"] if value is None else value)


def changes(before: dict[str, dict], after: dict[str, dict], checks: list[str]) -> list[dict]:
    """One row per student whose grader score or any check's score moved, came or went (a regrade's
    work; staff's adjustments are theirs, not a change)."""
    rows = []
    before = {k: v for k, v in before.items() if v.get("score") is not None}
    after = {k: v for k, v in after.items() if v.get("score") is not None}
    for who in sorted(set(before) | set(after)):
        old, new = before.get(who), after.get(who)
        if old is None or new is None:
            rows.append({"id": who, "before": "" if old is None else f"{_grader(old):g}",
                         "after": "" if new is None else f"{_grader(new):g}", "change": "",
                         "checks": "new submission" if old is None else "no longer in the folder"})
            continue
        moved = [(c, float(new.get(c) or 0.0) - float(old.get(c) or 0.0)) for c in checks]
        moved = [f"{c} {d:+g}" for c, d in moved if abs(d) > 1e-9]
        delta = _grader(new) - _grader(old)
        if moved or abs(delta) > 1e-9:
            rows.append({"id": who, "before": f"{_grader(old):g}", "after": f"{_grader(new):g}",
                         "change": f"{delta:+g}", "checks": "; ".join(moved)})
    return rows


def write_changes(out: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["id", "before", "after", "change", "checks"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out / CHANGES, buffer.getvalue())


def changes_line(out: Path, rows: list[dict]) -> str:
    """What a regrade prints: how many moved, which way, where the details are."""
    if not rows:
        return "Regrade: no score moved since the last run."
    up = sum(1 for r in rows if r["change"].startswith("+"))
    down = sum(1 for r in rows if r["change"].startswith("-"))
    other = len(rows) - up - down
    shown = ", ".join(f"{r['id']} {r['change'] or r['checks']}" for r in rows[:5]) + (" ..." if len(rows) > 5 else "")
    return (f"Regrade: {len(rows)} student(s) changed ({up} up, {down} down"
            + (f", {other} new or gone" if other else "") + f"): {shown}; see {out / CHANGES}.")
