"""OUTDIR/gradebook.csv in the shape a learning platform imports, scores after staff adjustments.

- canvas: Canvas's gradebook import, the columns of its own export: Student, ID, SIS User ID,
  SIS Login ID, Section, then one column per assignment named "Assignment Name (assignment id)".
  Canvas matches rows by ID (the Canvas user id, which its bulk download puts in each file name and
  the batch takes as the student's id); a column whose name is no existing assignment becomes a new one.
- moodle: the assignment's offline grading worksheet (Identifier "Participant NNN", Full name,
  Email address, Status, Grade, Maximum Grade, Grade can be changed, Last modified (submission),
  Last modified (grade), Feedback comments). Moodle matches rows by Identifier; NNN is the participant
  number its download puts in each folder name. The timestamps are left empty.
- csv: id, score, max_score, status, feedback: for anything else.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from grader.report import write_atomic

FILE = "gradebook.csv"
FORMATS = ("canvas", "moodle", "csv")
CANVAS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
          "Last modified (submission)", "Last modified (grade)", "Feedback comments"]


def _score(s: dict, fmt: str) -> str:
    """A blank for a report the grader could not score (status `error`): the platform then keeps the cell
    as it was, instead of importing a number nobody stands behind."""
    return "" if s["status"] == "error" else format(s["score"], fmt)


def rows(kind: str, students: list[dict], assignment: str) -> list[list[str]]:
    """The file's rows, header first. `students`: dicts with id, score, max_score, status, feedback
    (a short plain-text line for the platform's comment box)."""
    if kind == "canvas":
        return [CANVAS + [assignment]] + [[s["id"], s["id"], "", "", "", _score(s, "g")] for s in students]
    if kind == "moodle":
        return [MOODLE] + [[f"Participant {s['id']}", s["id"], "", "Submitted for grading", _score(s, ".2f"),
                            f"{s['max_score']:.2f}", "Yes", "", "", s["feedback"]] for s in students]
    if kind == "csv":
        return [["id", "score", "max_score", "status", "feedback"]] + [
            [s["id"], _score(s, "g"), f"{s['max_score']:g}", s["status"], s["feedback"]] for s in students]
    raise ValueError(f"no gradebook format {kind!r}: one of {', '.join(FORMATS)}")


def problems(kind: str, students: list[dict]) -> list[str]:
    """What the platform would refuse: ids it cannot match (Canvas's and Moodle's are numbers)."""
    if kind not in ("canvas", "moodle"):
        return []
    odd = [s["id"] for s in students if not s["id"].isdigit()]
    if not odd:
        return []
    return [f"{len(odd)} id(s) are not {kind.title()} ids (a number from its bulk download's names), so "
            f"{kind.title()} will not match them: {', '.join(odd[:5])}{' ...' if len(odd) > 5 else ''}."]


def text(kind: str, students: list[dict], assignment: str) -> str:
    """The gradebook file's text (the batch writes it to OUTDIR, the service sends it)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows(kind, students, assignment))
    return buffer.getvalue()


def write(out: Path, kind: str, students: list[dict], assignment: str) -> Path:
    write_atomic(out / FILE, text(kind, students, assignment))
    return out / FILE
