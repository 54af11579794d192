"""Nothing lost: a real `grade serve` (uvicorn, dispatcher, worker pool) is killed with SIGKILL while it
grades; once started again, every accepted submission has exactly one result, and nothing was graded
twice into the gradebook."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from serve_support import EXAMPLES, STAFF, CSRF, free_port, links, sign_in, start_server, stop_server

pytestmark = pytest.mark.slow
CORRECT = (EXAMPLES / "correct_vectorised.py").read_bytes()
STUDENTS = 4
EACH = 4


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def status(base: str) -> dict:
    import httpx

    return httpx.get(f"{base}/api/status", headers={"Authorization": f"Bearer {STAFF}"}, timeout=10).json()


def test_a_kill_9_mid_grading_loses_nothing_and_grades_nothing_twice(tmp_path):
    httpx = pytest.importorskip("httpx")
    data, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    (tmp_path / "roster.csv").write_text("id,name\n" + "".join(f"s{i},Student {i}\n" for i in range(STUDENTS)))
    (tmp_path / "course.toml").write_text("[service]\nattempts_per_hour = 1000\n")
    args = ("--roster", str(tmp_path / "roster.csv"), "--course", str(tmp_path / "course.toml"), "--jobs", "2")
    server = start_server(data, port, *args)
    try:
        accepted = 0
        forms = []
        for sid, token in links(data).items():
            client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
            sign_in(client, token)
            csrf = CSRF.search(client.get("/").text).group(1)
            forms.append((client, csrf))
            for n in range(EACH):
                response = client.post("/submit", params={"csrf": csrf},
                                       files={"file": ("rnn.py", CORRECT + f"\n# {sid} {n}\n".encode())})
                assert response.status_code == 303, response.text[-500:]
                accepted += 1
        # kill mid-grading: something graded, something still to grade
        deadline = time.monotonic() + 120
        while not (0 < status(base)["gradings"].get("graded", 0) < accepted):
            assert time.monotonic() < deadline, status(base)
            time.sleep(0.05)
        dispatchers = [c for c in children(server.pid) if b"grader.serve.dispatcher" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert len(dispatchers) == 1
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        deadline = time.monotonic() + 20
        while alive(dispatchers[0]):  # the dispatcher dies with its server (and its workers with it)
            assert time.monotonic() < deadline, "the dispatcher outlived its server"
            time.sleep(0.1)
        server = start_server(data, port, *args)
        # a page a student opened before the crash still hands in (its form token outlives the server)
        client, csrf = forms[0]
        response = client.post("/submit", params={"csrf": csrf}, files={"file": ("rnn.py", CORRECT + b"\n# after\n")})
        assert response.status_code == 303, response.text[-500:]
        accepted += 1
        deadline = time.monotonic() + 180
        while status(base)["gradings"].get("graded", 0) < accepted:
            assert time.monotonic() < deadline, status(base)
            time.sleep(0.2)
        final = status(base)
        assert final["submissions"] == accepted and final["graded_twice"] == 0
        assert final["gradings"] == {"graded": accepted}
    finally:
        stop_server(server)
    from sqlalchemy import select

    from grader.serve.store import Grading, Submission, open_store

    engine, make_session = open_store(data)
    with make_session() as session:
        subs = list(session.scalars(select(Submission)))
        gradings = {g.key: g for g in session.scalars(select(Grading))}
    engine.dispose()
    assert len(subs) == accepted
    assert all(gradings[s.key].state == "graded" and gradings[s.key].graded == 1 for s in subs)
    assert all(gradings[s.key].report["score"] == 10 for s in subs)
    assert any(g.claims == 2 for g in gradings.values())  # what was being graded at the kill was graded again, once
