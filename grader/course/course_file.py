"""A course file (`course.toml`): what course staff decide once for an assignment, read by the batch
(`grade FOLDER --course course.toml`) and by the service (`grade serve --course course.toml`).

    [assignment]
    deadline = 2026-12-04T23:59:00Z   # a TOML date-time; without an offset it is UTC
    grace_minutes = 15                # a hand-in this close after the deadline is on time

    [late]
    per_day = 0.10                    # share of the score lost per started day late
    zero_after_days = 7               # later than this scores 0 (0 here: any late hand-in scores 0)

    [extensions]                      # per-student deadlines (extensions, accommodations): id = deadline
    777002 = 2026-12-06T23:59:00Z     # this student's own deadline (the grace still applies)

    [service]
    counts = "best"                   # or "last": the attempt that goes to the gradebook
    attempts_per_hour = 10
    upload_bytes = 2_000_000

Every key is optional. Read with the standard library's tomllib: no new dependency for a few keys.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

UNKNOWN_DAYS = 1e-6  # a `_late_` file without a time: later than the deadline, by the least there is
KNOWN = {
    "assignment": {"deadline", "grace_minutes"},
    "late": {"per_day", "zero_after_days"},
    "service": {"counts", "attempts_per_hour", "upload_bytes"},
    "extensions": None,  # any student id
}


class CourseFileProblem(ValueError):
    """Why a course file cannot be used, naming the file and the key."""


@dataclass(frozen=True)
class LatePolicy:
    """How a late hand-in's score is reduced. The default takes nothing off (lateness is still shown)."""

    per_day: float = 0.0
    zero_after_days: float | None = None

    def taken(self, score: float, max_score: float, days_late: float) -> float:
        """The points the policy takes off a score handed in `days_late` days late (0 when on time)."""
        if days_late <= 0:
            return 0.0
        if self.zero_after_days is not None and days_late > self.zero_after_days:
            return score
        share = min(1.0, self.per_day * math.ceil(days_late))  # a started day counts as a day
        return round(score - max(score - share * max_score, 0.0), 6)

    def words(self, max_score: float, days_late: float | None) -> str:
        """What the policy did, in the student's words (empty when on time); `days_late` None: late by
        an amount the platform did not record, counted as less than a day. The one place it is worded."""
        if days_late is not None and days_late <= 0:
            return ""
        late = "handed in after the deadline (how late is not recorded)" if days_late is None \
            else f"handed in {_duration(days_late)} late"
        days = UNKNOWN_DAYS if days_late is None else days_late
        if self.zero_after_days is not None and days > self.zero_after_days:
            return f"{late}; the course scores hand-ins over {_days(self.zero_after_days)} late as 0"
        if self.per_day <= 0:
            return f"{late}; no points are taken off"
        share = min(1.0, self.per_day * math.ceil(days))
        counted = "; counted as one day" if days_late is None else ""
        return f"{late}; {share:.0%} of {max_score:g} points taken off ({self.per_day:.0%} per started day{counted})"

    def apply(self, score: float, max_score: float, days_late: float) -> tuple[float, str]:
        """The score after the policy, and the sentence saying what was taken off (empty when on time)."""
        return round(score - self.taken(score, max_score, days_late), 6), self.words(max_score, days_late)


@dataclass(frozen=True)
class CourseFile:
    deadline: dt.datetime | None = None
    grace: dt.timedelta = dt.timedelta(0)
    late: LatePolicy = LatePolicy()
    counts: str = "best"
    attempts_per_hour: int = 10
    upload_bytes: int = 2_000_000
    extensions: dict = field(default_factory=dict)  # {student id: their own deadline}, from [extensions]

    def deadline_for(self, student: str | None) -> dt.datetime | None:
        """The student's deadline: their extension's, else the course's."""
        return self.extensions.get(student, self.deadline) if student is not None else self.deadline

    def days_late(self, handed_in: dt.datetime | None, student: str | None = None) -> float:
        """How many days after the student's deadline (and its grace) `handed_in` was; 0 when on time or
        unknown."""
        deadline = self.deadline_for(student)
        if deadline is None or handed_in is None:
            return 0.0
        over = _utc(handed_in) - (deadline + self.grace)
        return max(over.total_seconds() / 86400, 0.0)


def load(path: Path | None) -> CourseFile:
    """The course file at `path` (None: every default). CourseFileProblem names what is wrong."""
    if path is None:
        return CourseFile()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise CourseFileProblem(f"cannot read the course file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CourseFileProblem(f"the course file {path} is not valid TOML: {exc}") from None
    for table, value in data.items():
        if table not in KNOWN or not isinstance(value, dict):
            raise CourseFileProblem(f"{path}: unknown table [{table}]; known: "
                                    f"{', '.join(f'[{t}]' for t in KNOWN)}")
        unknown = set(value) - KNOWN[table] if KNOWN[table] is not None else set()
        if unknown:
            raise CourseFileProblem(f"{path}: [{table}] has no key {', '.join(sorted(unknown))}; "
                                    f"known: {', '.join(sorted(KNOWN[table]))}")
    assignment, late, service = data.get("assignment", {}), data.get("late", {}), data.get("service", {})
    where = f"{path}:"
    deadline = assignment.get("deadline")
    if deadline is not None:
        if not isinstance(deadline, dt.datetime):
            raise CourseFileProblem(f"{where} [assignment] deadline must be a date and time such as "
                                    f"2026-12-04T23:59:00Z, not {deadline!r}")
        deadline = _utc(deadline)
    extensions = {}
    for student, moment in data.get("extensions", {}).items():
        if not isinstance(moment, dt.datetime):
            raise CourseFileProblem(f"{where} [extensions] {student} must be a date and time such as "
                                    f"2026-12-06T23:59:00Z (that student's deadline), not {moment!r}")
        extensions[str(student)] = _utc(moment)
    default = CourseFile()
    counts = service.get("counts", default.counts)
    if counts not in ("best", "last"):
        raise CourseFileProblem(f"{where} [service] counts must be \"best\" or \"last\", not {counts!r}")
    zero_after = late.get("zero_after_days")
    return CourseFile(
        deadline=deadline,
        grace=dt.timedelta(minutes=_number(where, "assignment", "grace_minutes", assignment, 0)),
        late=LatePolicy(per_day=_number(where, "late", "per_day", late, default.late.per_day, most=1.0),
                        zero_after_days=None if zero_after is None
                        else _number(where, "late", "zero_after_days", late, 0)),
        counts=counts,
        attempts_per_hour=int(_number(where, "service", "attempts_per_hour", service, default.attempts_per_hour)),
        upload_bytes=int(_number(where, "service", "upload_bytes", service, default.upload_bytes)),
        extensions=extensions,
    )


def _number(where: str, table: str, key: str, values: dict, default: float, most: float | None = None) -> float:
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value \
            or (most is not None and value > most):
        bound = f" between 0 and {most:g}" if most is not None else " of 0 or more"
        raise CourseFileProblem(f"{where} [{table}] {key} must be a number{bound}, not {value!r}")
    return value


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)


def _duration(days: float) -> str:
    hours = days * 24
    if hours < 24:
        return f"{math.ceil(hours)} hour{'s' if math.ceil(hours) != 1 else ''}"
    return f"{days:.1f} days"


def _days(days: float) -> str:
    return f"{days:g} day{'s' if days != 1 else ''}"
