"""What a student's id may be, one rule for every way ids come in: the batch's folders and exports
(`course/discovery.py` renames one that breaks it), the service's roster (`grade serve --roster`, the
staff page, `POST /api/roster`; these refuse it, with `problem`'s words). LTI launches make their own
random ids in the `lti-` namespace, which nothing else may claim.

An id names the student's files in a class folder (`ID.json`, `students/ID.html`), so it is file-name
safe and never a name the batch or the service writes there itself, whatever its case."""

from __future__ import annotations

import re

SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
# names written in a class folder by the batch and by `grade serve` (summary.json, index.html,
# before-regrade.json, adjustments.csv, changes, similarity, gradebook, students/, feedback/, course.toml)
# (and the service's route names and OUTDIR's roster.csv and settings.json)
RESERVED = frozenset({"summary", "index", "changes", "adjustments", "similarity", "gradebook", "students",
                      "feedback", "course", "before-regrade", "roster", "settings", "class", "staff", "api"})
LTI_PREFIX = "lti-"  # ids only LTI launches make (random): a roster or a folder cannot claim one in advance


def reserved(sid: str) -> bool:
    """The id is a name of the folder's own (its files are ID.json, so `summary` would be summary.json)."""
    return sid.lower() in RESERVED


def problem(sid: str) -> str | None:
    """None for a valid id; else why not, in a sentence for the person who typed it."""
    if not SAFE.fullmatch(sid) or sid.lower().endswith(".html") or ".." in sid:
        return "must be 1 to 64 letters, digits, or _ . @ - (it names the student's pages)"
    if reserved(sid):
        return (f"is a name the class folder uses itself ({', '.join(sorted(RESERVED))}, whatever the case): "
                "give this student another id")
    if sid.lower().startswith(LTI_PREFIX):
        return f"starts with {LTI_PREFIX}, which only LTI launches give: give this student another id"
    return None
