"""What every route shares: the data folder, the database, the spec and course file, the secret that
signs forms, and the dispatcher process (started by exec, never forked from the web server's threads)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader.report import write_atomic
from grader.serve.guessing import Throttle
from grader.serve import store


@dataclass
class Settings:
    data: Path
    url: str | None = None  # SQLAlchemy URL; None: SQLite in the data folder
    spec: str = ""  # a spec id or path (the pack comes from GRADER_PACK)
    course_file: Path | None = None
    jobs: int = 2
    dispatcher: bool = True  # start the grading process (tests of pages alone may not)
    base_url: str | None = None  # the address students open: links, and the origin forms come from


@dataclass
class Service:
    settings: Settings
    spec: object = None
    course: object = None
    make_session: object = None
    engine: object = None
    secret: bytes = b""  # signs form tokens: GRADER_SECRET, else one kept in the data folder (`open`)
    process: subprocess.Popen | None = None
    uploads: object = None  # the upload checks' process pool (uploads.Checker)
    uploading: dict = field(default_factory=dict)  # students whose upload is being checked now
    reading: dict = field(default_factory=dict)  # student: uploads of theirs being read (at most 2)
    staff_guesses: Throttle = field(default_factory=Throttle)  # wrong staff tokens, per address (guessing.py)
    refused: dict = field(default_factory=dict)  # student: monotonic times of uploads refused by their checks

    @property
    def data(self) -> Path:
        return self.settings.data

    @property
    def url(self) -> str:
        return store.url_for(self.settings.data, self.settings.url)

    @property
    def out(self) -> Path:
        return self.settings.data / "class"

    def open(self) -> None:
        from grader.course import course_file
        from grader.judge import spec as specs

        self.course = course_file.load(self.settings.course_file)
        self.spec = specs.load(self.settings.spec or specs.DEFAULT_SPEC)
        self.engine, self.make_session = store.open_store(self.settings.data, self.settings.url)
        self.secret = os.environ.get("GRADER_SECRET", "").encode() or self._kept_secret()
        from grader.serve.uploads import Checker

        self.uploads = Checker()  # its processes start at the first notebook
        if self.settings.dispatcher:
            self.start_dispatcher()

    def _kept_secret(self) -> bytes:
        """A random secret made once and kept in the data folder (0600), so that a restart (or a crash)
        leaves the forms students have open valid. Never in the repository or the course file."""
        path = self.settings.data / "secret.key"
        if not path.is_file() or len(path.read_bytes()) < 32:  # (shorter: an empty file an older version's crash left)
            write_atomic(path, secrets.token_hex(32), private=True)
        return path.read_bytes()

    def start_dispatcher(self) -> None:
        # the URL (which may hold a password) goes by the environment, not the command line others can read
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.serve.dispatcher", "--data", str(self.data),
             "--spec", str(self.spec.path), "--jobs", str(self.settings.jobs), "--parent", str(os.getpid())],
            env=dict(os.environ, GRADER_DATABASE_URL=self.url))

    def ensure_dispatcher(self) -> None:
        """Start the dispatcher again if it ended on its own (the queue it left is re-claimed)."""
        if self.settings.dispatcher and self.process is not None and self.process.poll() is not None:
            self.start_dispatcher()

    def stop_dispatcher(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def reload(self) -> None:
        """After a pack change: the spec read again, a new dispatcher grading with it."""
        from grader.judge import spec as specs

        self.stop_dispatcher()
        self.spec = specs.load(self.settings.spec or specs.DEFAULT_SPEC)
        if self.settings.dispatcher:
            self.start_dispatcher()

    def close(self) -> None:
        self.stop_dispatcher()
        if self.uploads is not None:
            self.uploads.close()
        if self.engine is not None:
            self.engine.dispose()

    def csrf(self, credential: str) -> str:
        """The form token of a signed-in browser: bound to its session id, signed with the server's secret."""
        return hmac.new(self.secret, b"csrf:" + hashlib.sha256(credential.encode()).digest(), "sha256").hexdigest()

    def csrf_ok(self, credential: str | None, given: str | None) -> bool:
        return bool(credential and given) and hmac.compare_digest(self.csrf(credential), given)
