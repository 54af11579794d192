"""The red team's findings against `grade serve` (issue 27), each against a real uvicorn on 127.0.0.1 as
the command starts it, here with small limits (60 connections, 15 per address, 3 s to take an answer):
connections that never read their answers (F1), a slow-body flood and honest clients (F3), roster ids
that name the class folder's own files (F4), the 500 page's headers (F5), staff bodies read before the
session is checked (F6). F2 (X-Forwarded-For, guessing) is in test_serve_attacks.py."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
from serve_support import STAFF, free_port, staff_client, start_server, stop_server

pytestmark = pytest.mark.slow
LIMITS = {"GRADER_MAX_CONNECTIONS": "60", "GRADER_MAX_PER_ADDRESS": "15", "GRADER_SEND_SECONDS": "3",
          "GRADER_HEAD_SECONDS": "3", "GRADER_BODY_SECONDS": "8"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("fastapi", reason="the [serve] extra is part of [test]: pip install -e '.[test]'")
    folder = tmp_path_factory.mktemp("serve-redteam")
    (folder / "roster.csv").write_text("id,name\nalice,Alice\n")
    port = free_port()
    kept = {name: os.environ.get(name) for name in LIMITS}
    os.environ.update(LIMITS)
    try:
        process = start_server(folder / "data", port, "--roster", str(folder / "roster.csv"), "--jobs", "1")
    finally:
        for name, value in kept.items():
            os.environ.pop(name) if value is None else os.environ.update({name: value})
    yield f"http://127.0.0.1:{port}", port, process, folder / "data"
    stop_server(process)


def api(base: str, method: str, path: str, **options):
    import httpx

    return httpx.request(method, base + path, headers={"Authorization": f"Bearer {STAFF}"}, timeout=30, **options)


def sockets_of(pid: int) -> int:
    folder = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in os.listdir(folder):
        try:
            count += os.readlink(folder / fd).startswith("socket:")
        except OSError:
            pass
    return count


def test_connections_that_never_read_their_answers_cannot_fill_the_server(server):
    """F1: 80 connections (more than the 60 the server keeps), each pipelining 3,000 requests and reading
    no answer: /healthz still answers, and the server lets go of them (they are closed, not held)."""
    import httpx

    base, port, process, _ = server
    if not Path(f"/proc/{process.pid}/fd").is_dir():
        pytest.skip("counts the server's sockets in /proc")
    before = sockets_of(process.pid)
    requests = f"GET /nope HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode() * 3000
    held = []
    try:
        for _ in range(80):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            try:
                s.send(requests)
            except BlockingIOError:
                pass
            held.append(s)
        for _ in range(6):
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
            time.sleep(0.5)
        deadline = time.monotonic() + 3 + 15
        while sockets_of(process.pid) > before + 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert sockets_of(process.pid) <= before + 2, "connections that read nothing are still held"
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    finally:
        for s in held:
            s.close()


def test_a_slow_body_flood_never_closes_an_honest_quick_request(server):
    """F3: one client keeps opening connections that send a whole head and then a body byte by byte; a
    client that sends its request at once is never the one closed (no 408, no 503)."""
    import httpx

    base, port, _, _ = server
    stop, opened = threading.Event(), []

    def flood():
        while not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"POST /staff/roster HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nx")
                opened.append(s)
            except OSError:
                pass
            time.sleep(0.005)

    attacker = threading.Thread(target=flood)
    attacker.start()
    answers = []
    try:
        time.sleep(1.5)
        for _ in range(40):
            try:
                answers.append(httpx.get(f"{base}/healthz", timeout=5).status_code)
            except httpx.HTTPError as exc:
                answers.append(type(exc).__name__)
            time.sleep(0.05)
    finally:
        stop.set()
        attacker.join()
        for s in opened:
            s.close()
    assert len(opened) > 100 and answers == [200] * 40, (len(opened), answers)


@pytest.mark.parametrize("sid", ["summary", "index", "before-regrade", "Summary", "adjustments"])
def test_a_roster_id_that_names_a_class_file_is_refused(server, sid):
    """F4: an id that is a name the class folder uses itself (summary.json, index.html, ...) is refused
    with a plain 400 by the API and the staff page, as the batch never gives one; the overview stays up."""
    base, _, _, _ = server
    answer = api(base, "POST", "/api/roster", content=f"id,name\n{sid},S\n".encode())
    assert answer.status_code == 400 and "class folder uses itself" in answer.json()["error"]
    staff = staff_client(base)
    import re

    csrf = re.search(r'name="csrf" value="([^"]+)"', staff.get("/staff/").text).group(1)
    page = staff.post("/staff/roster", data={"csrf": csrf, "roster": f"id,name\n{sid},S\n"})
    assert page.status_code == 400 and "class folder uses itself" in page.text and "Traceback" not in page.text
    assert sid not in api(base, "GET", "/api/submissions").text
    assert staff.get("/staff/").status_code == 200 and api(base, "GET", "/api/gradebook.csv").status_code == 200


def test_a_server_error_page_has_the_security_headers_and_no_stack_trace(server):
    """F5: a route that fails (here: the class folder is a file, so the gradebook cannot be written) is the
    short 500 page, with the same headers as every other response."""
    base, _, _, data = server
    (data / "class").mkdir(exist_ok=True)
    (data / "class").rename(data / "class.kept")
    (data / "class").write_text("not a folder")
    try:
        answer = api(base, "GET", "/api/gradebook.csv")
    finally:
        (data / "class").unlink()
        (data / "class.kept").rename(data / "class")
    assert answer.status_code == 500 and "went wrong on the server" in answer.text
    for name in ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy",
                 "cache-control"):
        assert name in answer.headers, name
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert "Traceback" not in answer.text and 'File "' not in answer.text
    assert api(base, "GET", "/api/gradebook.csv").status_code == 200  # it was the folder, not the server


@pytest.mark.parametrize("path", ["/staff/adjustments", "/staff/roster", "/api/roster", "/staff/regrade"])
def test_a_staff_body_without_a_session_is_never_read(server, path):
    """F6: a body sent to a staff route without a staff session is refused (403) once its head is read:
    the server answers before the body comes, and keeps no temporary file for it."""
    base, port, process, _ = server
    boundary = "b0undary"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {base}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 1050000\r\n\r\n").encode()
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + part + b"x" * 100_000)  # not all of it: the answer must come without the rest
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < 20:
            if not (chunk := s.recv(65536)):
                break
            answer += chunk
        temp = [os.readlink(f"/proc/{process.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{process.pid}/fd")
                if Path(f"/proc/{process.pid}/fd/{fd}").exists()]
    assert answer.startswith(b"HTTP/1.1 403 "), answer[:200]
    assert b"Staff only" in answer or b"Course staff only" in answer
    assert not [t for t in temp if "(deleted)" in t], temp  # no spooled upload


def test_roster_ids_are_one_rule_for_the_batch_and_the_service():
    from grader import student_ids
    from grader.course import discovery
    from grader.serve import tokens

    assert discovery.RESERVED_IDS is student_ids.RESERVED and "before-regrade" in student_ids.RESERVED
    for sid in ("summary", "INDEX", "before-regrade", "a b", "../x", "x.html"):
        assert student_ids.problem(sid), sid
        with pytest.raises(tokens.RosterProblem):
            tokens.read_roster(f"id,name\n{sid},X\n")
    assert student_ids.problem("alice.b@uni-x_1") is None
