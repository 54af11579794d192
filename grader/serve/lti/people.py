"""Who a platform's user is here. A launch binds one thing: the identity (issuer, deployment, sub),
unique in `lti_identities`. A learner's identity gets a student id made here (`lti-` and 20 random hex
digits: a roster may not use the prefix, and nothing in a claim chooses it), so no claim can join a
person to another's account: the platform's `lis_person_sourcedid` is kept and shown to staff, never
used as an id or a path. Where a student's score goes is the line item of the resource link they
launched from (`aim`); the membership service (NRPS) adds names and learners to the class, never a
line item."""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from grader.report import clean
from grader.serve.lti.launch import LEARNER, is_staff
from grader.serve.lti.models import Identity, Membership, Target
from grader.serve.store import Student, now
from grader.serve.tokens import digest
from grader.student_ids import LTI_PREFIX

REREAD = dt.timedelta(minutes=10)
log = logging.getLogger("grader.lti")


def new_student_id() -> str:
    return LTI_PREFIX + secrets.token_hex(10)


def remember(make_session, issuer: str, deployment: str, sub: str, name: str, roles: list[str], staff: bool,
             sourcedid: str = "") -> Identity:
    """The identity's row (made at its first launch or membership read), its name and roles now, and for a
    learner their own Student. Two first launches at once: the unique constraint lets one insert win and
    the other reads what it wrote."""
    for _ in range(3):
        try:
            with make_session() as session, session.begin():
                return _remember(session, issuer, deployment, sub, clean(name)[:200], roles, staff, sourcedid)
        except IntegrityError:
            continue  # another request made this identity (or, one in 2^80, this student id): read it again
    raise RuntimeError(f"the LTI identity of {issuer} {sub} could not be stored")


def _remember(session, issuer, deployment, sub, name, roles, staff, sourcedid) -> Identity:
    found = session.scalar(select(Identity).where(Identity.issuer == issuer, Identity.deployment_id == deployment,
                                                  Identity.sub == sub))
    if found is None:
        found = Identity(issuer=issuer, deployment_id=deployment, sub=sub, name=name, staff=staff)
        session.add(found)
        session.flush()  # the unique constraint decides here if two launches race
    found.name, found.roles, found.staff = name or found.name, list(roles)[:50], staff
    sourcedid = clean(sourcedid)[:255]  # as the name: no control characters, bidi overrides or NUL
    if sourcedid:
        found.sourcedid = sourcedid
    if not staff and found.student_id is None:
        sid = new_student_id()
        # a random credential no one holds: an LTI student signs in by launching
        session.add(Student(id=sid, name=name, token_hash=digest(secrets.token_urlsafe(24))))
        session.flush()
        found.student_id = sid
    elif not staff and name:
        student = session.get(Student, found.student_id)
        if student is not None and student.name != name:
            student.name = name
    session.flush()
    session.expunge(found)
    return found


def aim(make_session, identity: Identity, client_id: str, lineitem: str | None, resource_link: str) -> None:
    """The student's score goes to the line item of the link they launched from (a URL, or nothing)."""
    if not lineitem or identity.student_id is None or not usable_url(lineitem):
        if lineitem:
            log.warning("LTI launch from %s names a line item that is not a URL: %r", identity.issuer, lineitem[:200])
        return
    try:
        with make_session() as session, session.begin():
            found = session.scalar(select(Target).where(Target.identity_id == identity.id,
                                                        Target.lineitem == lineitem))
            if found is None:
                session.add(Target(identity_id=identity.id, issuer=identity.issuer, client_id=client_id,
                                   lineitem=lineitem, resource_link=resource_link, sub=identity.sub,
                                   student_id=identity.student_id))
    except IntegrityError:
        pass  # the same launch twice at once: the other made it


def usable_url(url: str) -> bool:
    """An http(s) URL with a host, that httpx can send to (at most 1000 characters)."""
    import httpx

    if len(url) > 1000:
        return False
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)


def note_memberships(make_session, issuer: str, client_id: str, deployment: str, url: str | None,
                     staff: bool) -> None:
    """A context's membership service; a staff launch has it read again now."""
    if not url or not usable_url(url):
        return
    try:
        with make_session() as session, session.begin():
            found = session.get(Membership, url)
            if found is None:
                session.add(Membership(url=url, issuer=issuer, client_id=client_id, deployment_id=deployment))
            elif staff:
                found.read_at = None
    except IntegrityError:
        pass


def read_memberships(make_session, config, tokens) -> int:
    """Each membership service not read for REREAD: its active learners become students of the class
    with their names (a line item only when they launch). A malformed or failed answer is logged and kept
    as that service's error; the others are read all the same. Returns how many members were read."""
    from grader.serve.lti import services

    with make_session() as session:
        due = [m for m in session.scalars(select(Membership))
               if m.read_at is None or _aware(m.read_at) < now() - REREAD]
    count = 0
    for membership in due:
        reg = config.find(membership.issuer, membership.client_id)
        error = ""
        try:
            if reg is None:
                raise services.PlatformError(f"{membership.issuer} ({membership.client_id}) is not in lti.json")
            found = services.members(tokens, reg, membership.url)
        except services.PlatformError as exc:
            found, error = [], str(exc)[:300]
            log.error("the LTI membership service %s was not read: %s", membership.url, error)
        for member in found:
            if member["status"] != "Active" or LEARNER not in member["roles"] or is_staff(member["roles"]):
                continue
            remember(make_session, membership.issuer, membership.deployment_id, member["user_id"], member["name"],
                     member["roles"], False, member["lis_person_sourcedid"])
            count += 1
        with make_session() as session, session.begin():
            row = session.get(Membership, membership.url)
            row.read_at, row.error = now(), error
    return count


def listing(make_session, most: int = 5000) -> list[dict]:
    with make_session() as session:
        rows = session.scalars(select(Identity).order_by(Identity.id).limit(most))
        return [{"issuer": r.issuer, "deployment": r.deployment_id, "sub": r.sub, "student": r.student_id,
                 "name": r.name, "sourcedid": r.sourcedid, "staff": r.staff} for r in rows]


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
