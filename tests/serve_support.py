"""What the service's tests share: an app on a fresh data folder with a roster, signing in, handing in,
waiting for feedback, and a real `grade serve` in a subprocess for the crash and browser tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "submissions_example"
STAFF = "staff-token-for-tests-0123456789"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """(app, {id: token}) on a fresh data folder with a one-worker dispatcher; students alice, bob, carol."""
    pytest.importorskip("fastapi", reason="the [serve] extra is part of [test]: pip install -e '.[test]'")
    os.environ["GRADER_STAFF_TOKEN"] = STAFF
    from grader.serve import tokens
    from grader.serve.app import create_app
    from grader.serve.service import Settings

    app = create_app(Settings(data=tmp_path_factory.mktemp("serve-data"), jobs=1))
    issued = tokens.issue(app.state.service.make_session, [("alice", "Alice"), ("bob", "Bob"), ("carol", "")])
    yield app, issued
    app.state.service.close()


def client_for(app, token: str | None = None):
    from fastapi.testclient import TestClient

    client = TestClient(app, follow_redirects=True)
    if token:
        sign_in(client, token)
    return client


def sign_in(client, token: str) -> None:
    """As a student's browser does: open the link, press its button (the link itself signs no one in)."""
    page = client.get("/signin", params={"token": token})
    assert page.status_code == 200 and 'id="signin"' in page.text, page.text[-500:]
    csrf = re.search(r'name="csrf" value="([^"]*)"', page.text).group(1)
    assert client.post("/signin", data={"token": token, "csrf": csrf}).status_code in (200, 303)


def staff_client(app_or_base, **options):
    """A client signed in as staff with the sign-in form (an app: TestClient; a URL: httpx)."""
    if isinstance(app_or_base, str):
        import httpx

        client = httpx.Client(base_url=app_or_base, follow_redirects=True, timeout=30, **options)
    else:
        from fastapi.testclient import TestClient

        client = TestClient(app_or_base, follow_redirects=True, **options)
    assert client.post("/staff/signin", data={"token": STAFF}).status_code == 200
    return client


def csrf_of(client) -> str:
    return CSRF.search(client.get("/").text).group(1)


def hand_in(client, name: str, content: bytes):
    """The home page's upload form: its token in the address, the file in the body."""
    return client.post("/submit", params={"csrf": csrf_of(client)}, files={"file": (name, content)})


def feedback(client, url: str, seconds: float = 90) -> str:
    """The attempt's page once it is graded (the page says so with its score)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = client.get(url).text
        if 'id="score"' in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{url} was not graded within {seconds} s")


def score_on(page: str) -> str:
    return re.search(r'id="score">([^<]+)<', page).group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, port: int, *args: str) -> subprocess.Popen:
    env = dict(os.environ, GRADER_STAFF_TOKEN=STAFF)
    process = subprocess.Popen([sys.executable, "-m", "grader.cli", "serve", "--data", str(data), "--port", str(port),
                                *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"grade serve ended: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("grade serve did not answer within 60 s")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def links(data: Path) -> dict[str, str]:
    """{id: token} from DATA/links.csv."""
    import csv

    with open(data / "links.csv", newline="") as fh:
        return {row["id"]: row["link"].split("token=", 1)[1] for row in csv.DictReader(fh)}
