"""Who may sign in: a roster CSV (columns id and, optionally, name) gives each new student a random
token, which staff send as a link; only the token's sha256 is stored. A lost link is issued again
(`reissue`: a new token, the old one and every session made with it end). Staff sign in with the token
in the environment variable GRADER_STAFF_TOKEN (never in the repository, the course file or a URL).

Designed so that LTI 1.3 can come later: a platform's launch would map to a Student row the same way
(`Student.id` is the platform's user id), and sessions do not care how the student got in.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from grader import student_ids
from grader.report import clean
from grader.serve.store import Student, WebSession

STAFF_VARIABLE = "GRADER_STAFF_TOKEN"


class RosterProblem(ValueError):
    pass


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def read_roster(text: str) -> list[tuple[str, str]]:
    """(id, name) rows of a roster CSV; RosterProblem names the first bad line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if "id" not in (reader.fieldnames or []):
        raise RosterProblem("the roster needs a column named id (and may have name)")
    rows = []
    for line, row in enumerate(reader, start=2):
        sid = (row.get("id") or "").strip()
        if (why := student_ids.problem(sid)) is not None:  # the batch's rule too (grader/student_ids.py)
            raise RosterProblem(f"roster line {line}: the id {clean(sid)!r} {why}")
        rows.append((sid, clean((row.get("name") or "").strip())[:200]))
    return rows


def issue(make_session: sessionmaker, roster: list[tuple[str, str]]) -> dict[str, str]:
    """A new token for each student not yet known: {id: token}. Known students keep theirs."""
    issued = {}
    with make_session() as session, session.begin():
        known = set(session.scalars(select(Student.id)))
        for sid, name in roster:
            if sid in known:
                continue
            token = secrets.token_urlsafe(24)
            session.add(Student(id=sid, name=name, token_hash=digest(token)))
            issued[sid] = token
            known.add(sid)
    return issued


def reissue(make_session: sessionmaker, sid: str) -> str | None:
    """A new token for a known student (None for an unknown id): the old token stops working and every
    session the student has is ended."""
    token = secrets.token_urlsafe(24)
    with make_session() as session, session.begin():
        student = session.get(Student, sid)
        if student is None:
            return None
        student.token_hash = digest(token)
        session.execute(delete(WebSession).where(WebSession.student_id == sid))
    return token


def link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/signin?token={token}"


def student_for(make_session: sessionmaker, token: str | None) -> Student | None:
    if not token or len(token) > 200:
        return None
    with make_session() as session:
        return session.scalar(select(Student).where(Student.token_hash == digest(token)))


def staff_token() -> str | None:
    token = os.environ.get(STAFF_VARIABLE, "")
    return token if len(token) >= 16 else None


def is_staff(token: str | None) -> bool:
    expected = staff_token()
    return bool(expected and token) and hmac.compare_digest(digest(token), digest(expected))


def links_csv(issued: dict[str, str], base_url: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "link"])
    for sid, token in issued.items():
        writer.writerow([sid, link(base_url, token)])
    return buffer.getvalue()


def keep_links(data, issued: dict[str, str], base_url: str) -> None:
    """Add links to DATA/links.csv (0600, written whole): the ones issued before, then these (a reissued
    student's newest link is the last row with their id)."""
    from grader.report import write_atomic

    path = data / "links.csv"
    text = links_csv(issued, base_url)
    if path.is_file():
        text = path.read_text() + text.split("\n", 1)[1]
    write_atomic(path, text, private=True)
