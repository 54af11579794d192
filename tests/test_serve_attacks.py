"""Issue 27's attacks against a real `grade serve` (uvicorn as the command starts it) on 127.0.0.1, as a
student or an outsider would make them: login CSRF, the staff API with a cookie, refused uploads that
stay on disk, a notebook read on the event loop, slowloris; and the sessions, staff, limits and headers
that stop them."""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import pytest
from serve_support import EXAMPLES, STAFF, free_port, links, sign_in, staff_client, start_server, stop_server

pytestmark = pytest.mark.slow
CORRECT = (EXAMPLES / "correct_vectorised.py").read_bytes()
STUDENTS = ["alice", "bob", "mallory", "carol", "dan", "erin", "frank", "gina", "zoe"]
HEAD_SECONDS, BODY_SECONDS = 3, 8  # the server's deadlines in these tests (GRADER_HEAD_SECONDS, _BODY_SECONDS)
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("fastapi", reason="the [serve] extra is part of [test]: pip install -e '.[test]'")
    import os

    folder = tmp_path_factory.mktemp("serve-attacks")
    (folder / "roster.csv").write_text("id,name\n" + "".join(f"{s},{s.title()}\n" for s in STUDENTS))
    (folder / "course.toml").write_text("[service]\nattempts_per_hour = 2\n")
    port = free_port()
    os.environ.update(GRADER_HEAD_SECONDS=str(HEAD_SECONDS), GRADER_BODY_SECONDS=str(BODY_SECONDS))
    try:
        process = start_server(folder / "data", port, "--roster", str(folder / "roster.csv"), "--course",
                               str(folder / "course.toml"), "--jobs", "1")
    finally:
        del os.environ["GRADER_HEAD_SECONDS"], os.environ["GRADER_BODY_SECONDS"]
    yield f"http://127.0.0.1:{port}", links(folder / "data"), folder / "data"
    stop_server(process)


def browser(base: str):
    import httpx

    return httpx.Client(base_url=base, follow_redirects=True, timeout=60)


def student(base: str, token: str):
    client = browser(base)
    sign_in(client, token)
    return client


def csrf(client, page: str = "/") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(page).text).group(1)


def api(base: str, method: str, path: str, **options):
    import httpx

    return httpx.request(method, base + path, headers={"Authorization": f"Bearer {STAFF}"}, timeout=60, **options)


def submissions_of(base: str, sid: str) -> list[dict]:
    return [s for s in api(base, "GET", "/api/submissions").json()["submissions"] if s["student"] == sid]


def files_in(data) -> list:
    return sorted(p for p in (data / "files").rglob("*") if p.is_file())


def test_a_link_never_switches_a_signed_in_session(server):
    """Login CSRF: alice, signed in, opens mallory's link; her next hand-in must still be hers."""
    base, tokens, _ = server
    alice = student(base, tokens["alice"])
    kept = dict(alice.cookies)
    page = alice.get("/signin", params={"token": tokens["mallory"]})
    assert page.status_code == 200 and 'id="signed-in"' in page.text and "signed in as Alice" in page.text
    assert dict(alice.cookies) == kept  # nothing switched by opening the link
    assert alice.post("/submit", params={"csrf": csrf(alice)}, files={"file": ("a.py", CORRECT + b"\n# alice\n")}
                      ).status_code == 200
    assert [s["file"] for s in submissions_of(base, "alice")] == ["a.py"] and submissions_of(base, "mallory") == []
    # the link's button, sent from another site (or without the page's form token), switches nothing
    for headers, data in (({"Origin": EVIL}, {"token": tokens["mallory"], "csrf": csrf(alice)}),
                          ({}, {"token": tokens["mallory"]})):
        assert alice.post("/signin", data=data, headers=headers).status_code == 403
        assert "Alice" in alice.get("/").text
    # pressed on the page itself, it does (the person chose to)
    assert alice.post("/signin", data={"token": tokens["mallory"], "csrf": csrf(alice)}).status_code == 200
    assert "Mallory" in alice.get("/").text


def test_a_session_cookie_is_new_at_each_sign_in_httponly_lax_and_ends_at_sign_out(server):
    base, tokens, _ = server
    seen = []
    for _ in range(2):
        client = browser(base)
        page = client.get("/signin", params={"token": tokens["bob"]})
        response = client.post("/signin", data={"token": tokens["bob"], "csrf": ""}, follow_redirects=False)
        assert 'id="signin"' in page.text and response.status_code == 303
        header = response.headers["set-cookie"]
        assert "HttpOnly" in header and "samesite=lax" in header.lower() and "Secure" not in header  # http here
        seen.append(client.cookies["grader_session"])
    assert seen[0] != seen[1] and tokens["bob"] not in seen
    assert all(tokens["bob"] not in value for value in seen)
    assert client.post("/signout", data={"csrf": csrf(client)}, headers={"Origin": base}).status_code == 200
    replay = browser(base)
    replay.cookies.set("grader_session", seen[1])
    assert 'id="upload"' not in replay.get("/").text  # ended on the server, not only in the browser
    first = browser(base)
    first.cookies.set("grader_session", seen[0])
    assert "Bob" in first.get("/").text  # the other browser's session is its own


def test_forwarded_headers_are_believed_only_from_a_named_proxy(server):
    """No proxy was named (`--forwarded-allow-ips`): X-Forwarded-Proto makes no cookie Secure and
    X-Forwarded-For chooses no address (any local user could send them). Behind a named proxy:
    `deploy::test_tls_in_front_and_cookies_are_secure`."""
    base, tokens, _ = server
    client = browser(base)
    response = client.post("/signin", data={"token": tokens["bob"]}, follow_redirects=False,
                           headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"})
    assert response.status_code == 303 and "Secure" not in response.headers["set-cookie"]
    client.post("/staff/signin", data={"token": "wrong" * 4}, headers={"X-Forwarded-For": "198.51.100.7"})
    refused = [r for r in api(base, "GET", "/api/audit").json()["audit"] if r["action"] == "staff sign-in refused"]
    assert refused and all(r["client"] == "127.0.0.1" for r in refused)  # the real peer


def test_the_staff_api_takes_the_bearer_token_only_and_pages_check_the_form_and_origin(server):
    base, _, _ = server
    staff = staff_client(base)
    cookie = staff.cookies.jar
    assert any(c.name == "grader_staff" and c.path == "/staff" for c in cookie)
    before = api(base, "GET", "/api/submissions").json()
    import httpx

    forged = httpx.Client(base_url=base, timeout=30)
    for c in cookie:
        forged.cookies.set(c.name, c.value)  # the cookie sent to every path, as a forged request may try
    for path, content in (("/api/regrade", b""), ("/api/roster", b"id,name\neve,Eve\n")):
        response = forged.post(path, content=content, headers={"Origin": EVIL})
        assert response.status_code == 403, path
    assert "eve" not in json.dumps(api(base, "GET", "/api/audit").json()) and "eve" not in staff.get("/staff/").text
    token = csrf(staff, "/staff/")
    assert staff.post("/staff/regrade", data={"csrf": token}, headers={"Origin": EVIL}).status_code == 403
    assert staff.post("/staff/regrade", data={}, headers={"Origin": base}).status_code == 403
    assert staff.post("/staff/regrade", data={"csrf": token}, headers={"Origin": base}).status_code == 200
    def handed_in(listing):  # (a grading still under way may finish meanwhile: its state is not compared)
        return [(s["id"], s["student"], s["file"]) for s in listing["submissions"]]

    assert handed_in(api(base, "GET", "/api/submissions").json()) == handed_in(before)


def test_staff_sign_in_is_a_form_never_a_link(server):
    base, _, _ = server
    client = browser(base)
    response = client.get("/staff/signin", params={"token": STAFF})
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert client.get("/staff/").status_code == 403
    assert client.post("/staff/signin", data={"token": STAFF}, headers={"Origin": EVIL}).status_code == 403
    assert client.post("/staff/signin", data={"token": "wrong" * 4}).status_code == 403
    assert client.post("/staff/signin", data={"token": STAFF}).status_code == 200
    assert 'id="staff-tools"' in client.get("/staff/").text


def test_guessing_the_staff_token_is_slowed_per_address(server):
    """Wrong tokens make the next attempts from their address wait longer and longer (X-Forwarded-For
    changes nothing); the right token still signs in after the wait, and another address never waits."""
    import httpx

    from grader.serve import guessing

    base, _, _ = server
    client = browser(base)
    took = []
    for n in range(guessing.FREE + 3):
        began = time.monotonic()
        answer = client.post("/staff/signin", data={"token": "guess" * 4}, headers={"X-Forwarded-For": f"203.0.113.{n}"})
        took.append(time.monotonic() - began)
        assert answer.status_code == 403 and "not the staff token" in answer.text
    assert took[-1] >= 2 * guessing.FIRST_WAIT and took[-1] > took[guessing.FREE] > took[0], took
    elsewhere = httpx.Client(base_url=base, follow_redirects=True, timeout=30,
                             transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    began = time.monotonic()
    assert elsewhere.post("/staff/signin", data={"token": STAFF}).status_code == 200
    assert time.monotonic() - began < guessing.FIRST_WAIT  # another address is not slowed
    answer = client.post("/staff/signin", data={"token": STAFF}, follow_redirects=False)
    assert answer.status_code == 303 and "grader_staff" in answer.headers["set-cookie"]  # never locked out
    refused = [r for r in api(base, "GET", "/api/audit").json()["audit"] if r["action"] == "staff sign-in refused"]
    assert not any(r["client"].startswith("203.0.113.") for r in refused)


def test_staff_get_links_issue_a_lost_one_again_and_every_action_is_audited(server):
    base, tokens, data = server
    issued = api(base, "POST", "/api/roster", content=b"id,name\nyves,Yves\n").json()["issued"]
    assert list(issued) == ["yves"] and issued["yves"].startswith(f"{base}/signin?token=")
    zoe = student(base, tokens["zoe"])
    again = api(base, "POST", "/api/students/zoe/link").json()["issued"]["zoe"]
    assert browser(base).get("/signin", params={"token": tokens["zoe"]}).status_code == 403  # the old link
    assert 'id="upload"' not in zoe.get("/").text  # and the session it made
    assert "Zoe" in student(base, again.split("token=", 1)[1]).get("/").text
    assert again in (data / "links.csv").read_text()
    staff = staff_client(base)
    page = staff.post("/staff/students/yves/link", data={"csrf": csrf(staff, "/staff/")})
    assert page.status_code == 200 and f"{base}/signin?token=" in page.text
    added = staff.post("/staff/roster", data={"csrf": csrf(staff, "/staff/"), "roster": "id,name\nxena,Xena\n"})
    assert re.search(r"signin\?token=[\w-]{20,}", added.text) and "xena" in added.text
    actions = [r["action"] for r in api(base, "GET", "/api/audit").json()["audit"]]
    for action in ("roster", "link issued again", "staff sign-in"):
        assert action in actions, actions
    assert "link issued again" in staff.get("/staff/audit").text


def test_refused_uploads_leave_nothing_on_disk_and_a_grader_error_uses_no_attempt(server):
    base, tokens, data = server
    carol = student(base, tokens["carol"])

    def hand(n: int, content: bytes = CORRECT, name: str = "c.py"):
        return carol.post("/submit", params={"csrf": csrf(carol)}, files={"file": (name, content + f"\n# {n}\n".encode())})

    assert hand(0).status_code == hand(1).status_code == 200
    kept = files_in(data)
    for n in range(2, 9):  # over the hourly limit: refused before the body is read
        response = hand(n, b"#" * 1_900_000)
        assert response.status_code == 429 and "2 times in the last hour" in response.text
    assert hand(9, b"#" * 2_100_000).status_code in (413, 429)
    assert files_in(data) == kept and not list((data / "files").rglob(".*.tmp"))
    # the grader failed on carol's first attempt (as a worker that died three times records it):
    # that attempt is not hers to pay for
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{data / 'grader.sqlite3'}")
    with engine.begin() as connection:
        key = connection.execute(text("select key from submissions where student_id = 'carol' order by id")).first()[0]
        connection.execute(text("update gradings set status = 'error' where key = :key"), {"key": key})
    engine.dispose()
    assert "1 attempt(s) left" in carol.get("/").text
    assert hand(10).status_code == 200 and hand(11).status_code == 429


def slow_notebook() -> bytes:
    """An old-format (version 3) notebook of 170 kB that nbformat takes seconds to upgrade and then refuse
    (its last cell is damaged); a version-4 one is read as JSON, in well under a second."""
    cells = [{"cell_type": "code", "metadata": {}, "input": "x = 1\n", "outputs": [], "language": "python",
              "collapsed": False} for _ in range(1500)]
    cells[-1]["input"] = 5
    return json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                       "worksheets": [{"cells": cells, "metadata": {}}]}).encode()


def test_a_notebook_being_read_never_makes_the_service_wait(server):
    import httpx

    base, tokens, _ = server
    content, rounds, waits = slow_notebook(), [], []

    def send(sid: str) -> None:
        client = student(base, tokens[sid])
        for _ in range(2):
            began = time.monotonic()
            response = client.post("/submit", params={"csrf": csrf(client)}, files={"file": ("nb.ipynb", content)})
            rounds.append((time.monotonic() - began, response.status_code, response.text))

    senders = [threading.Thread(target=send, args=(sid,)) for sid in ("dan", "erin")]
    for t in senders:
        t.start()
    while any(t.is_alive() for t in senders):
        began = time.monotonic()
        assert httpx.get(f"{base}/healthz", timeout=60).status_code == 200
        waits.append(time.monotonic() - began)
        time.sleep(0.05)
    assert len(rounds) == 4 and all(status == 400 and "cannot be read" in text for _, status, text in rounds)
    assert submissions_of(base, "dan") == []  # refused: no attempt, nothing stored
    quickest = min(seconds for seconds, _, _ in rounds)
    # relative to the same run: while notebooks are read, /healthz answers in a small part of one reading
    assert max(waits) < quickest / 4, (max(waits), quickest)


def test_refused_checks_are_bounded_per_student(server):
    """A refused file costs no attempt, but its check costs CPU: after 20 in an hour, the next is refused
    before its body is read."""
    base, tokens, _ = server
    frank = student(base, tokens["frank"])
    for n in range(20):
        response = frank.post("/submit", params={"csrf": csrf(frank)}, files={"file": ("b.ipynb", b'{"cells": [')})
        assert response.status_code == 400, n
    response = frank.post("/submit", params={"csrf": csrf(frank)}, files={"file": ("a.py", CORRECT)})
    assert response.status_code == 429 and "could not be accepted" in response.text
    assert submissions_of(base, "frank") == []


def test_slowloris_half_sent_requests_are_bounded_and_dropped(server):
    """1,100 connections from one client, each with half a request head: /healthz still answers everyone
    else (another address: one address holds at most its share of the connections), and every one of
    them is closed by the server within its deadline."""
    import httpx

    base, _, _ = server
    port = int(base.rsplit(":", 1)[1])
    held = []
    try:
        for _ in range(1100):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n")  # no end of head
            held.append(s)
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=5) as someone_else:
            for _ in range(3):
                assert someone_else.get(f"{base}/healthz").status_code == 200
        deadline = time.monotonic() + HEAD_SECONDS + 15
        open_ones = list(held)
        while open_ones and time.monotonic() < deadline:
            still = []
            for s in open_ones:
                s.settimeout(0.01)
                try:
                    if s.recv(4096):
                        s.recv(4096)  # the 408, then the close
                    continue
                except (socket.timeout, BlockingIOError):
                    still.append(s)
                except OSError:
                    continue
            open_ones = still
            time.sleep(0.2)
        assert not open_ones, f"{len(open_ones)} half-sent requests still held open"
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    finally:
        for s in held:
            s.close()


def test_slow_bodies_cannot_fill_the_server(server):
    """600 connections with a whole head and a body that never comes (more than the 512 the server keeps
    open): a new connection closes the oldest of them, so /healthz still answers."""
    import httpx

    base, _, _ = server
    port = int(base.rsplit(":", 1)[1])
    held = []
    try:
        for _ in range(600):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000\r\n\r\nx")
            held.append(s)
        for _ in range(3):
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    finally:
        for s in held:
            s.close()


def test_a_slow_body_is_dropped(server):
    base, tokens, _ = server
    port = int(base.rsplit(":", 1)[1])
    s = socket.create_connection(("127.0.0.1", port), timeout=BODY_SECONDS + 15)
    try:
        s.sendall(b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
        assert answer == b"" or b" 408 " in answer.split(b"\r\n", 1)[0] or b" 405 " in answer
    finally:
        s.close()


def test_every_page_has_the_security_headers_and_no_stack_trace(server):
    base, tokens, _ = server
    gina = student(base, tokens["gina"])
    staff = staff_client(base)
    pages = [gina.get("/"), gina.get("/submissions/abc"), gina.get("/submissions/99999999999999999999999"),
             gina.get("/nowhere"), gina.post("/submit", params={"csrf": "x"}), staff.get("/staff/"),
             staff.get("/staff/audit"), browser(base).get("/signin", params={"token": "x"}),
             gina.post("/signin", content=b"\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"})]
    for response in pages:
        csp = response.headers.get("content-security-policy", "")
        policy = dict(part.strip().split(" ", 1) for part in csp.split(";"))
        assert "'unsafe-inline'" not in policy["script-src"] and policy["frame-ancestors"] == "'none'", csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"  # (no-referrer makes Origin "null")
        assert "Traceback" not in response.text and 'File "' not in response.text and '"detail"' not in response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text), response.url  # no inline script


def test_a_check_that_takes_too_long_is_stopped_and_the_pool_recovers(monkeypatch):
    """A file whose check takes too long is refused and its process killed; the next upload is checked by a
    fresh pool (a pool whose process died would otherwise refuse every upload after it)."""
    import asyncio

    from grader.serve import uploads

    monkeypatch.setattr(uploads, "SECONDS", 1.0)  # the slow notebook takes seconds to refuse

    def form(name: str, content: bytes) -> bytes:
        return (f"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n".encode()
                + content + b"\r\n--b--\r\n")

    checker = uploads.Checker(workers=1)
    try:
        async def both():
            slow = await checker.check(form("nb.ipynb", slow_notebook()), "multipart/form-data; boundary=b", 10**7)
            killed = list(checker.pool._processes.values()) if checker.pool else []
            uploads.SECONDS = 60.0  # (a fresh pool's start may itself take a second here)
            good = await checker.check(form("a.py", b"x = 1\n"), "multipart/form-data; boundary=b", 100)
            return slow, killed, good

        slow, killed, good = asyncio.run(both())
        assert "took over 1 s to read" in slow.problem and killed == []  # the old pool is gone
        assert good.problem == "" and good.content == b"x = 1\n"
    finally:
        checker.close()
