"""The LTI tables (migration 0004): logins in flight (state and nonce, each used once), who a
platform's user is here, where their score goes (a line item), the outbox of scores to send, and the
platforms' membership services."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from grader.serve.store import Base


class Login(Base):
    """An OIDC login started by /lti/login: deleted when its launch arrives, so a state (and its nonce)
    opens at most one session."""
    __tablename__ = "lti_logins"
    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    target: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class User(Base):
    """A platform's user (issuer, sub) and the student id they are graded under."""
    __tablename__ = "lti_users"
    issuer: Mapped[str] = mapped_column(String(255), primary_key=True)
    sub: Mapped[str] = mapped_column(String(255), primary_key=True)
    student_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    staff: Mapped[bool] = mapped_column(Boolean, default=False)
    roles: Mapped[list] = mapped_column(JSON, default=list)


class Target(Base):
    """Where one student's score goes: a line item of a registration, for a platform user."""
    __tablename__ = "lti_targets"
    __table_args__ = (UniqueConstraint("issuer", "lineitem", "sub"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    lineitem: Mapped[str] = mapped_column(String(1000))
    sub: Mapped[str] = mapped_column(String(255))
    student_id: Mapped[str] = mapped_column(String(64), index=True)


class Score(Base):
    """One score decided for a target (the outbox). The newest row of a target is the one to send; an
    older unsent one is `superseded`, never sent after it. `timestamp` is fixed when the row is
    written, so a retry sends the same value with the same time (the platform keeps the latest)."""
    __tablename__ = "lti_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target_id: Mapped[int] = mapped_column(Integer, index=True)
    score_given: Mapped[float] = mapped_column(Float)
    score_maximum: Mapped[float] = mapped_column(Float)
    timestamp: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending, sent, superseded
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Membership(Base):
    """A context's membership service (NRPS), learnt from a launch; read in the background."""
    __tablename__ = "lti_memberships"
    url: Mapped[str] = mapped_column(String(1000), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    lineitem: Mapped[str] = mapped_column(String(1000), default="")  # where its learners' scores go
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
