"""When a student handed in, and what the course's late policy makes of it.

What the platforms write, never a file's mtime (a zip, a copy or a checkout sets it):
- Canvas: `_late_` in a bulk download's file name (`name_late_USERID_NUMBER_file.py`). Canvas judged it
  against its own due date (and the student's extension, if any); how late is not in the name.
- Moodle: its download's names carry no time. Its grading worksheet (the assignment's "Download grading
  worksheet", a CSV) gives "Last modified (submission)" per "Participant NNN"; saved in the class
  folder (any name ending in .csv), it is read. Moodle writes that time in the downloading user's zone
  without naming it: it is read as UTC, so write the course file's deadline the same way (a TOML local
  date-time without an offset is UTC too, so the deadline as Moodle shows it compares right).
- Gradescope: `:created_at:` of each submission in submission_metadata.yml (with its offset).

A time is compared with the course file's deadline (and grace). A Canvas `_late_` without a time is late
by an unknown amount: the policy counts it as late by less than a day (the least it can be: one started
day with `per_day`, zero only when `zero_after_days = 0`), and index.html flags it for staff to check.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from grader.course.course_file import UNKNOWN_DAYS, CourseFile  # noqa: F401 (UNKNOWN_DAYS: its old home)

WORKSHEET_COLUMNS = ("Identifier", "Last modified (submission)")
MOODLE_FORMATS = ("%A, %d %B %Y, %I:%M %p", "%A, %d %B %Y, %H:%M", "%d %B %Y, %I:%M %p", "%d %B %Y, %H:%M")


@dataclass(frozen=True)
class Lateness:
    late: bool
    days: float | None = None  # how late, when known (None: the platform says late, not by how much)
    handed_in: str = ""  # ISO 8601, when known

    def label(self) -> str:
        """For staff, in index.html's table."""
        if not self.late:
            return ""
        return f"late ({self.days:.1f} days)" if self.days is not None else "late (how late unknown)"


def parse_moment(text: str) -> dt.datetime | None:
    """A platform's time: ISO 8601, Gradescope's `2026-12-04 23:10:05.123456000 -0800`, or Moodle's
    `Friday, 4 December 2026, 11:59 PM` (English). Without an offset it is UTC. None when unreadable."""
    text = text.strip()
    if not text or text in ("-", "0"):
        return None
    fixed = re.sub(r"(\.\d{6})\d+", r"\1", text)  # nanoseconds: Python reads microseconds
    fixed = re.sub(r"\s([+-]\d{2}):?(\d{2})$", r"\1\2", fixed)
    for attempt in (fixed, fixed.replace(" ", "T", 1)):
        try:
            moment = dt.datetime.fromisoformat(attempt)
            break
        except ValueError:
            moment = None
    if moment is None:
        for form in ("%Y-%m-%d %H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z", *MOODLE_FORMATS):
            try:
                moment = dt.datetime.strptime(fixed, form)
                break
            except ValueError:
                continue
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)


def read_worksheet(path: Path) -> dict[str, str] | None:
    """Moodle's grading worksheet: {participant number: when they handed in, ISO 8601}; None when the
    file is not one (another CSV in the folder is left alone)."""
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.DictReader(fh)
            if not set(WORKSHEET_COLUMNS) <= set(reader.fieldnames or []):
                return None
            times = {}
            for row in reader:
                number = re.fullmatch(r"\s*\S+\s+(\d+)\s*", row.get("Identifier") or "")  # "Participant 123"
                moment = parse_moment(row.get("Last modified (submission)") or "")
                if number and moment is not None:
                    times[number[1]] = moment.isoformat()
            return times
    except (OSError, csv.Error):
        return None


def assess(row: dict, course: CourseFile) -> Lateness:
    """A summary row's lateness under the course file: a known time against the student's deadline (their
    extension's, else the course's; with grace); else the platform's own mark (Canvas's `_late_`, which
    already counts an extension given in Canvas); on time when neither says otherwise."""
    handed_in = str(row.get("handed_in") or "")
    moment = parse_moment(handed_in) if handed_in else None
    sid = str(row.get("id", "")) or None
    if moment is not None and course.deadline_for(sid) is not None:
        days = course.days_late(moment, sid)
        return Lateness(days > 0, days if days > 0 else None, handed_in)
    if str(row.get("late", "")).lower() in ("yes", "true", "1"):
        return Lateness(True, None, handed_in)
    return Lateness(False, None, handed_in)


def apply(score: float, max_score: float, lateness: Lateness, course: CourseFile) -> tuple[float, str]:
    """The score after the course's late policy, and the sentence the student reads (empty when on time);
    the late policy's part of `course.standing.standing`, alone."""
    if not lateness.late:
        return score, ""
    days = UNKNOWN_DAYS if lateness.days is None else lateness.days
    kept = round(score - course.late.taken(score, max_score, days), 6)
    return kept, course.late.words(max_score, lateness.days)
