"""OUTDIR/gradebook.csv in the shape a learning platform imports, scores after staff adjustments.

- canvas: Canvas's gradebook import, the columns of its own export: Student, ID, SIS User ID,
  SIS Login ID, Section, then one column per assignment named "Assignment Name (assignment id)".
  Canvas matches rows by ID (the Canvas user id, which its bulk download puts in each file name and
  the batch takes as the student's id); a column whose name is no existing assignment becomes a new one.
- moodle: the assignment's offline grading worksheet (Identifier "Participant NNN", Full name,
  Email address, Status, Grade, Maximum Grade, Grade can be changed, Last modified (submission),
  Last modified (grade), Feedback comments). Moodle matches rows by Identifier; NNN is the participant
  number its download puts in each folder name. The timestamps are left empty.
- csv: id, name, score, max_score, status, feedback: for anything else.

Every score is the score that counts (`course.standing`); a roster student with no hand-in has a row
with an empty score (the platform's own rule for a missing hand-in then applies, and no 0 is imposed).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from grader.report import spreadsheet_cell, write_atomic

FILE = "gradebook.csv"
FORMATS = ("canvas", "moodle", "csv")
CANVAS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
          "Last modified (submission)", "Last modified (grade)", "Feedback comments"]


def _score(value, form: str, status: str = "") -> str:
    """A blank for a roster student with no hand-in (the platform's own rule for a missing hand-in then
    applies) and for a report the grader could not score (status `error`: the platform keeps the cell as
    it was, instead of importing a number nobody stands behind)."""
    return "" if value is None or status == "error" else format(value, form)


def rows(kind: str, students: list[dict], assignment: str) -> list[list[str]]:
    """The file's rows, header first. `students`: dicts with id, score (the score that counts; None for a
    roster student with no hand-in), max_score, status, feedback (a short plain-text line for the
    platform's comment box), and name and email when a roster gives them."""
    if kind == "canvas":
        return [CANVAS + [assignment]] + [[s.get("name") or s["id"], s["id"], "", "", "",
                                           _score(s["score"], "g", s["status"])] for s in students]
    if kind == "moodle":
        return [MOODLE] + [[f"Participant {s['id']}", s.get("name") or s["id"], s.get("email", ""),
                            "Submitted for grading" if s["score"] is not None else "No submission",
                            _score(s["score"], ".2f", s["status"]), _score(s["max_score"], ".2f"), "Yes", "", "",
                            s["feedback"]] for s in students]
    if kind == "csv":
        return [["id", "name", "score", "max_score", "status", "feedback"]] + [
            [s["id"], s.get("name", ""), _score(s["score"], "g", s["status"]), _score(s["max_score"], "g"), s["status"],
             s["feedback"]] for s in students]
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
    csv.writer(buffer, lineterminator="\n").writerows([spreadsheet_cell(c) for c in row]
                                                      for row in rows(kind, students, assignment))
    return buffer.getvalue()


def write(out: Path, kind: str, students: list[dict], assignment: str) -> Path:
    write_atomic(out / FILE, text(kind, students, assignment))
    return out / FILE
