"""`grade serve` on PostgreSQL (by URL) instead of SQLite: a real server started here as an unprivileged
user on a Unix socket; the schema is made by the same Alembic migration, a hand-in is graded, identical
bytes once. Skipped, with the reason, where PostgreSQL's programs or psycopg are missing."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from serve_support import EXAMPLES, client_for, feedback, hand_in, score_on

pytestmark = pytest.mark.slow


def _program(name: str) -> str | None:
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)


@pytest.fixture(scope="module")
def postgres():
    initdb, server = _program("initdb"), _program("postgres")
    if not (initdb and server):
        pytest.skip("no PostgreSQL server programs (Debian: apt-get install postgresql)")
    pytest.importorskip("psycopg", reason="psycopg is part of the [test] extra")
    root = Path(tempfile.mkdtemp(prefix="grader-pg-"))  # not under pytest's folder: it is private to root
    as_user = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(root, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    subprocess.run([*as_user, initdb, "-D", str(root / "db"), "-A", "trust", "-U", "grader"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    process = subprocess.Popen([*as_user, server, "-D", str(root / "db"), "-k", str(root), "-c", "listen_addresses=",
                                "-c", "fsync=off"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not list(root.glob(".s.PGSQL.*")):
        assert process.poll() is None and time.monotonic() < deadline, "postgres did not start"
        time.sleep(0.1)
    time.sleep(0.5)
    yield f"postgresql+psycopg://grader@/postgres?host={root}"
    process.terminate()
    process.wait(timeout=30)
    shutil.rmtree(root, ignore_errors=True)


def test_the_service_grades_on_postgresql(postgres, tmp_path):
    from sqlalchemy import inspect, select

    os.environ.setdefault("GRADER_STAFF_TOKEN", "staff-token-for-tests-0123456789")
    from grader.serve import tokens
    from grader.serve.app import create_app
    from grader.serve.service import Settings
    from grader.serve.store import Grading

    app = create_app(Settings(data=tmp_path / "data", url=postgres, jobs=1))
    try:
        service = app.state.service
        assert {"students", "submissions", "gradings", "alembic_version"} <= set(inspect(service.engine).get_table_names())
        issued = tokens.issue(service.make_session, [("ana", ""), ("ben", "")])
        same = (EXAMPLES / "correct_loops.py").read_bytes()
        ana, ben = client_for(app, issued["ana"]), client_for(app, issued["ben"])
        assert score_on(feedback(ana, str(hand_in(ana, "a.py", same).url))) == "10 / 10"
        assert score_on(feedback(ben, str(hand_in(ben, "b.py", same).url))) == "10 / 10"
        with service.make_session() as session:
            rows = list(session.scalars(select(Grading)))
        assert len(rows) == 1 and rows[0].graded == 1
        assert not list((tmp_path / "data").glob("*.sqlite3"))  # the URL was used, not the default
    finally:
        app.state.service.close()
