"""The LTI tables (migration 0003_lti): who a platform's user is here (an identity: issuer, deployment
and sub, unique, bound to at most one student id that this tool made), where their score goes (the
line item of the resource link they launched from), the outbox of scores to send, and the platforms'
membership services. Logins in flight are kept in memory (`launch.Logins`), not here."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from grader.serve.store import Base


class Identity(Base):
    """A platform's user: (issuer, deployment, sub) is unique, and is the only thing a launch binds.
    `student_id` is made by this tool (`lti-` and random hex; a roster may not use the prefix), never
    taken from a claim, and belongs to one identity at most (unique). Staff have none."""
    __tablename__ = "lti_identities"
    __table_args__ = (UniqueConstraint("issuer", "deployment_id", "sub"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer: Mapped[str] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(String(255))
    sub: Mapped[str] = mapped_column(String(255))
    student_id: Mapped[str | None] = mapped_column(ForeignKey("students.id"), nullable=True, unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    sourcedid: Mapped[str] = mapped_column(String(255), default="")  # the platform's, shown to staff only
    staff: Mapped[bool] = mapped_column(Boolean, default=False)
    roles: Mapped[list] = mapped_column(JSON, default=list)


class Target(Base):
    """Where one student's score goes: the line item of a resource link they launched from."""
    __tablename__ = "lti_targets"
    __table_args__ = (UniqueConstraint("identity_id", "lineitem"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("lti_identities.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    lineitem: Mapped[str] = mapped_column(String(1000))
    resource_link: Mapped[str] = mapped_column(String(255), default="")
    sub: Mapped[str] = mapped_column(String(255))
    student_id: Mapped[str] = mapped_column(String(64), index=True)


class Score(Base):
    """One score decided for a target (the outbox). The newest row of a target is the one to send; an
    older unsent one is `superseded`, never sent after it. `timestamp` is fixed when the row is
    written, so a retry sends the same value with the same time (the platform keeps the latest).
    A row that can never be sent (its line item is not a URL) is `failed`, with the reason."""
    __tablename__ = "lti_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target_id: Mapped[int] = mapped_column(Integer, index=True)
    score_given: Mapped[float] = mapped_column(Float)
    score_maximum: Mapped[float] = mapped_column(Float)
    timestamp: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending, sent, superseded, failed
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Membership(Base):
    """A context's membership service (NRPS), learnt from a launch; read in the background. `error` is
    why the last read failed (a malformed answer), shown in staff's outbox view."""
    __tablename__ = "lti_memberships"
    url: Mapped[str] = mapped_column(String(1000), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(String(255))
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str] = mapped_column(String(300), default="")
