"""Who a request comes from: a signed-in browser holds a random session id in a cookie (a new one at
every sign-in; the database keeps only its sha256, so a stolen database opens no session), form tokens
are an HMAC of that id, and a state-changing request made with a cookie must come from this site's own
pages (`same_origin`). Sign-out, a reissued link and age end a session on the server, not only in the
browser."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from grader.serve.store import Student, WebSession, now
from grader.serve.tokens import digest

STUDENT_COOKIE = "grader_session"
STAFF_COOKIE = "grader_staff"
LIFETIME = {"student": dt.timedelta(days=180), "staff": dt.timedelta(hours=12)}


def start(make_session: sessionmaker, kind: str, student: str | None = None, ending: str | None = None) -> str:
    """A new session (and the end of `ending`, the one this browser had): returns the cookie's value."""
    raw = secrets.token_urlsafe(32)
    with make_session() as session, session.begin():
        if ending:
            session.execute(delete(WebSession).where(WebSession.id_hash == digest(ending)))
        session.add(WebSession(id_hash=digest(raw), kind=kind, student_id=student, created_at=now()))
    return raw


def end(make_session: sessionmaker, raw: str | None) -> None:
    if raw:
        with make_session() as session, session.begin():
            session.execute(delete(WebSession).where(WebSession.id_hash == digest(raw)))


def find(make_session: sessionmaker, raw: str | None, kind: str) -> WebSession | None:
    if not raw or len(raw) > 100:
        return None
    with make_session() as session:
        row = session.get(WebSession, digest(raw))
    if row is None or row.kind != kind:
        return None
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.timezone.utc)
    return row if now() - created < LIFETIME[kind] else None


def student_of(make_session: sessionmaker, raw: str | None) -> Student | None:
    row = find(make_session, raw, "student")
    if row is None:
        return None
    with make_session() as session:
        return session.scalar(select(Student).where(Student.id == row.student_id))


def same_origin(request, base_url: str | None = None) -> bool:
    """The request was sent by one of this site's pages: its Origin (or, without one, its Referer) is this
    site's. A browser sends one of them with every cross-site POST ("null" from a sandboxed or
    no-referrer page: refused); a script without either is judged by its form token alone."""
    allowed = {f"{request.url.scheme}://{request.url.netloc}".lower()}
    if base_url:
        allowed.add(origin_of(base_url))
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower().rstrip("/") in allowed
    referer = request.headers.get("referer")
    return referer is None or origin_of(referer) in allowed


def origin_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def cookie(response, name: str, raw: str, secure: bool, max_age: dt.timedelta, path: str = "/") -> None:
    response.set_cookie(name, raw, httponly=True, samesite="lax", secure=secure, path=path,
                        max_age=int(max_age.total_seconds()))
