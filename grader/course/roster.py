"""The class list (`--roster roster.csv`: columns id, name and optionally email): who should hand in.

With a roster every staff page and gradebook shows names, every student on it has a row (a student
with no hand-in too), and the ids the roster does not know are listed for staff. The batch keeps it as
OUTDIR/roster.csv, so `grade report OUTDIR` and later runs use it; the service writes its own roster
(from the database) there. Ids are compared as written, after the file-name cleaning ids get
(`discovery.safe_id`), so a roster made from Canvas's or Moodle's export matches the batch's ids.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from grader.report import clean

FILE = "roster.csv"
NO_HAND_IN = "no hand-in"  # the status of a roster student of whom nothing was handed in


class RosterProblem(ValueError):
    """Why a roster cannot be used, naming the file and the line."""


@dataclass(frozen=True)
class Member:
    id: str
    name: str = ""
    email: str = ""


def parse(text: str, where: str = FILE) -> dict[str, Member]:
    """{id: Member}, in the file's order. RosterProblem names what is wrong."""
    from grader.course.discovery import safe_id

    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "id" not in fields:
        raise RosterProblem(f"{where}: the first line must name the columns id, name (and optionally email); "
                            f"it has {', '.join(reader.fieldnames or []) or 'nothing'}")
    members: dict[str, Member] = {}
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(v, str)}
        if not row.get("id"):
            if any(row.values()):
                raise RosterProblem(f"{where} line {line}: no id")
            continue
        sid = safe_id(row["id"])
        if sid in members:
            raise RosterProblem(f"{where} line {line}: the id {clean(sid)} is listed twice")
        members[sid] = Member(sid, clean(row.get("name", "")), clean(row.get("email", "")))
    return members


def read(path: Path) -> dict[str, Member]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterProblem(f"cannot read the roster {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse(text, str(path))


def load(out: Path) -> dict[str, Member] | None:
    """OUTDIR's roster, or None when it has none."""
    return read(out / FILE) if (out / FILE).is_file() else None


def text(members: list[Member]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "name", "email"])
    writer.writerows([m.id, m.name, m.email] for m in members)
    return buffer.getvalue()


def unknown_line(ids: list[str]) -> str:
    """For staff: the ids that handed in but are not on the roster."""
    shown = ", ".join(clean(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
    return (f"{len(ids)} id(s) handed in but are not on the roster ({FILE}): {shown}. "
            "Their rows are kept; add them to the roster to give them a name.")
