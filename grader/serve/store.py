"""The service's storage: SQLite in the data folder by default (embedded), PostgreSQL by URL
(SQLAlchemy 2), its schema made and upgraded by Alembic at every start (migrations/).

Tables: `students` (roster id, name, the sha256 of their sign-in token, never the token),
`submissions` (who, when, which content, how late), `gradings` (one row per distinct content and
spec: its state accepted -> grading -> graded, its report and the report's status), `sessions` (the
sha256 of each signed-in browser's random id: who, since when) and `audit` (every staff action). A
submission's bytes are stored under the data folder by their sha256 (`files/ab/abcd....py`), never
under a name a user gave.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

from sqlalchemy import (JSON, DateTime, Float, ForeignKey, Integer, String, create_engine, event)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

KINDS = (".py", ".ipynb")  # what may be stored; the suffix comes from this tuple, never from the upload


class Base(DeclarativeBase):
    pass


class Student(Base):
    __tablename__ = "students"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the roster's id, file-name safe
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)


class Submission(Base):
    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.id"), index=True)
    key: Mapped[str] = mapped_column(String(80), index=True)  # sha256 + suffix: what is graded
    filename: Mapped[str] = mapped_column(String(200))  # shown to people only, cleaned; never a path
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    days_late: Mapped[float] = mapped_column(Float, default=0.0)


class Grading(Base):
    """One grading of one content by one spec: the unique key is what makes "graded exactly once"."""
    __tablename__ = "gradings"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    spec: Mapped[str] = mapped_column(String(64), primary_key=True)  # the spec's fingerprint
    state: Mapped[str] = mapped_column(String(16), index=True)  # accepted, grading, graded
    claims: Mapped[int] = mapped_column(Integer, default=0)  # times a dispatcher took it (a restart re-queues)
    graded: Mapped[int] = mapped_column(Integer, default=0)  # times a result was recorded: must end at 1
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    report: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    accepted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    graded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the report's: graded, ungradable, error


class WebSession(Base):
    """A signed-in browser: the cookie holds a random id, this row only its sha256 (migration 0002)."""
    __tablename__ = "sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # student or staff
    student_id: Mapped[str | None] = mapped_column(ForeignKey("students.id"), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One staff action: who (staff's session or the API), what, on what, from where."""
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(2000), default="")
    client: Mapped[str] = mapped_column(String(64), default="")


def url_for(data: Path, url: str | None) -> str:
    return url or f"sqlite:///{(data / 'grader.sqlite3').resolve()}"


def engine_for(url: str) -> Engine:
    """An engine; SQLite in WAL mode with a busy timeout (the web process and the dispatcher both write)
    and synchronous=FULL, so a commit is on disk before the student is told."""
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    return engine


def migrate(url: str) -> None:
    """Bring the schema to the newest migration (Alembic, migrations/ in this package)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def open_store(data: Path, url: str | None = None):
    """(engine, sessionmaker) for the data folder, its schema up to date."""
    data.mkdir(parents=True, exist_ok=True)
    (data / "files").mkdir(exist_ok=True)
    url = url_for(data, url)
    migrate(url)
    engine = engine_for(url)
    return engine, sessionmaker(engine, expire_on_commit=False)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def file_path(data: Path, key: str) -> Path:
    """Where a content's bytes are: built from its sha256 and a known suffix only."""
    sha, dot, suffix = key.partition(".")
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha) or f".{suffix}" not in KINDS:
        raise ValueError(f"not a stored file's key: {key!r}")
    return data / "files" / sha[:2] / f"{sha}.{suffix}"


def save_bytes(data: Path, content: bytes, suffix: str, sha256: str | None = None) -> str:
    """Store the bytes (durably: written, flushed, renamed) and return their key; the same bytes once.
    `sha256`: the bytes' digest when the caller has it (the upload check made it off the event loop)."""
    if suffix not in KINDS:
        raise ValueError(suffix)
    key = (sha256 or hashlib.sha256(content).hexdigest()) + suffix
    path = file_path(data, key)
    if path.is_file() and path.stat().st_size == len(content):
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself is on disk
    finally:
        os.close(fd)
    return key
