"""Who a platform's user is here: a student id (the platform's `lis_person_sourcedid` when it is a
valid roster id, so that `--roster` ids taken from the student records match; otherwise one derived
from the issuer and the platform's user id), their Student row, where their score goes, and the
membership service's names and roles merged in."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select

from grader.report import clean
from grader.serve.lti.models import Membership, Target, User
from grader.serve.store import Student, now
from grader.serve.tokens import SAFE_ID, digest

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
REREAD = dt.timedelta(minutes=10)


def student_id(issuer: str, sub: str, sourcedid: str) -> str:
    if SAFE_ID.fullmatch(sourcedid or "") and not sourcedid.endswith(".html") and ".." not in sourcedid:
        return sourcedid
    return "lti-" + hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()[:20]


def remember(session, issuer: str, sub: str, sourcedid: str, name: str, roles: list[str], staff: bool) -> str:
    """The user's row (kept: the first id given to a user stays theirs) and their Student; their id."""
    user = session.get(User, (issuer, sub))
    name = clean(name)[:200]
    if user is None:
        sid = student_id(issuer, sub, sourcedid)
        if session.scalar(select(User).where(User.student_id == sid)) is not None:
            sid = student_id(issuer, sub, "")  # another platform user has that id: never two people in one
        user = User(issuer=issuer, sub=sub, student_id=sid, name=name)
        session.add(user)
    user.name, user.roles, user.staff = name or user.name, roles[:50], staff
    if not staff:
        student = session.get(Student, user.student_id)
        if student is None:  # a random credential no one holds: they sign in by launching
            session.add(Student(id=user.student_id, name=name, token_hash=digest(secrets.token_urlsafe(24))))
        elif name and not student.name:
            student.name = name
    session.flush()
    return user.student_id


def aim(session, issuer: str, client_id: str, lineitem: str | None, sub: str, sid: str) -> None:
    """The student's score goes to this line item."""
    if not lineitem:
        return
    found = session.scalar(select(Target).where(Target.issuer == issuer, Target.lineitem == lineitem[:1000],
                                                Target.sub == sub))
    if found is None:
        session.add(Target(issuer=issuer, client_id=client_id, lineitem=lineitem[:1000], sub=sub, student_id=sid))


def note_memberships(session, issuer: str, client_id: str, url: str | None, lineitem: str | None,
                     staff: bool) -> None:
    """A context's membership service, and the line item its launches name (its learners' scores go there);
    a staff launch has it read again now."""
    if not url:
        return
    found = session.get(Membership, url[:1000])
    if found is None:
        session.add(Membership(url=url[:1000], issuer=issuer, client_id=client_id, lineitem=(lineitem or "")[:1000]))
        return
    if lineitem and not found.lineitem:
        found.lineitem = lineitem[:1000]
    if staff:
        found.read_at = None


def read_memberships(make_session, config, tokens) -> int:
    """Each membership service not read for REREAD: its active members remembered (names, roles), and a
    learner gets the line items their context's launches named. Returns how many members were read."""
    from grader.serve.lti import services

    with make_session() as session:
        due = [m for m in session.scalars(select(Membership))
               if m.read_at is None or _aware(m.read_at) < now() - REREAD]
    count = 0
    for membership in due:
        reg = config.find(membership.issuer, membership.client_id)
        if reg is None:
            continue
        try:
            found = services.members(tokens, reg, membership.url)
        except services.PlatformError:
            found = None  # tried again after REREAD
        with make_session() as session, session.begin():
            session.get(Membership, membership.url).read_at = now()
            if found is None:
                continue
            for member in found:
                sub, roles = str(member.get("user_id") or "")[:255], member.get("roles") or []
                if not sub or member.get("status", "Active") != "Active" or not isinstance(roles, list):
                    continue
                learner = LEARNER in roles or "Learner" in roles
                name = str(member.get("name") or "")
                sid = remember(session, reg.issuer, sub, str(member.get("lis_person_sourcedid") or ""), name,
                               [str(r) for r in roles], not learner)
                if learner:
                    aim(session, reg.issuer, reg.client_id, membership.lineitem, sub, sid)
                count += 1
    return count


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
