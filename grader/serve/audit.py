"""The staff audit log (table `audit`): every staff action, who did it (a staff session, by the first
characters of its id's hash, or the API), what, on what, and from which address. Read at /staff/audit
and /api/audit; never shown to a student."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from grader.report import clean
from grader.serve.store import AuditEntry, now


def record(make_session: sessionmaker, actor: str, action: str, detail: str = "", client: str = "") -> None:
    with make_session() as session, session.begin():
        session.add(AuditEntry(at=now(), actor=actor[:64], action=action[:40], detail=clean(detail)[:2000],
                               client=client[:64]))


def recent(make_session: sessionmaker, count: int = 500) -> list[dict]:
    with make_session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(count))
        return [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action, "detail": r.detail,
                 "client": r.client} for r in rows]
