"""LTI 1.3 against a platform the test starts on 127.0.0.1 (tests/lti_platform.py: real RS256 keys, a
JWKS endpoint, a token endpoint that checks the tool's assertion, an AGS line item, NRPS), with a real
uvicorn `grade serve --lti`: launches land students and staff where they belong, every bad launch is
refused with a page and no session, and the score that counts reaches the line item after a hand-in,
a better hand-in and an adjustment, and after a kill -9 while the platform was down."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from serve_support import CSRF, EXAMPLES, STAFF, free_port, start_server, stop_server

pytest.importorskip("jwt", reason="the [serve] extra is part of [test]: pip install -e '.[test]'")
from lti_platform import INSTRUCTOR, LEARNER, TA, Platform, new_key  # noqa: E402

pytestmark = pytest.mark.slow
CORRECT = (EXAMPLES / "correct_vectorised.py").read_bytes()
MUTANT = (EXAMPLES / "mutant_forward_no_bias.py").read_bytes()
SIS = "https://purl.imsglobal.org/spec/lti/claim/lis"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(platform, tool URL, data folder, lti.json, port) with `grade serve --lti` running."""
    import httpx

    root = tmp_path_factory.mktemp("lti")
    made = subprocess.run([sys.executable, "-m", "grader.cli", "lti-keys", str(root / "keys")],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert oct((root / "keys" / "private.key").stat().st_mode & 0o777) == "0o600"
    platform = Platform()
    config = root / "keys" / "lti.json"
    config.write_text(json.dumps(platform.config("private.key")))
    (root / "roster.csv").write_text("id,name\nalice,Alice Roster\nbob,Bob\n")
    (root / "course.toml").write_text("[service]\nattempts_per_hour = 100\n")
    port = free_port()
    tool = f"http://127.0.0.1:{port}"
    platform.tool_jwks = f"{tool}/lti/jwks"
    data = root / "data"
    args = ("--lti", str(config), "--roster", str(root / "roster.csv"), "--course", str(root / "course.toml"),
            "--jobs", "1")
    server = start_server(data, port, *args)
    state = {"server": server, "args": args}
    yield platform, tool, data, state, port, httpx
    stop_server(state["server"])
    platform.close()


def browser(httpx):
    return httpx.Client(follow_redirects=False, timeout=60)


def signed_in_cookies(response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie")
            if c.startswith(("grader_student=", "grader_staff=")) and "Max-Age=0" not in c and '=""' not in c]


def hand_in(client, tool: str, name: str, content: bytes) -> str:
    csrf = CSRF.search(client.get(f"{tool}/").text).group(1)
    response = client.post(f"{tool}/submit", data={"csrf": csrf}, files={"file": (name, content)})
    assert response.status_code == 303, response.text
    return response.headers["location"]


def graded(client, tool: str, where: str, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page = client.get(f"{tool}{where}").text
        if 'id="score"' in page:
            return page
        time.sleep(0.3)
    raise AssertionError(f"{where} not graded in {seconds} s")


def gradebook(httpx, tool: str) -> dict[str, float]:
    import csv
    import io

    text = httpx.get(f"{tool}/api/gradebook.csv", headers={"Authorization": f"Bearer {STAFF}"}, timeout=60).text
    rows = list(csv.reader(io.StringIO(text)))
    return {r[0]: float(r[1]) for r in rows[1:] if len(r) > 1 and r[1]}


def reaches(platform, sub: str, given: float, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kept = platform.results.get(sub)
        if kept is not None and kept["scoreGiven"] == given:
            return kept
        time.sleep(0.2)
    raise AssertionError(f"the platform has {platform.results.get(sub)} for {sub}, not {given}")


def test_the_tool_publishes_its_public_key_as_jwks(world):
    platform, tool, data, _state, _port, httpx = world
    keys = httpx.get(f"{tool}/lti/jwks").json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]
    assert "d" not in keys[0] and "p" not in keys[0]  # public only
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    private = load_pem_private_key((data.parent / "keys" / "private.key").read_bytes(), None)
    import jwt

    public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(keys[0]))
    assert public.public_numbers() == private.public_key().public_numbers()


def test_a_student_launch_lands_on_their_own_page_signed_in(world):
    platform, tool, _data, _state, _port, httpx = world
    client = browser(httpx)
    response = platform.launch(client, tool, "canvas-user-alice", name="Alice Canvas", **{SIS: {"person_sourcedid": "alice"}})
    assert response.status_code == 303 and response.headers["location"] == "/", response.text
    assert signed_in_cookies(response)
    page = client.get(f"{tool}/").text
    assert 'id="upload"' in page and "Alice Roster" in page  # the roster's alice, her own page
    assert "Launch refused" not in page


def test_instructors_and_tas_land_on_the_staff_overview(world):
    platform, tool, _data, _state, _port, httpx = world
    for roles, sub in (((INSTRUCTOR,), "canvas-teacher"), ((TA,), "canvas-ta")):
        client = browser(httpx)
        response = platform.launch(client, tool, sub, roles=roles)
        assert response.status_code == 303 and response.headers["location"] == "/staff/", response.text
        overview = client.get(f"{tool}/staff/")
        assert overview.status_code == 200 and "staff-tools" in overview.text


def refused_without_session(client, tool: str, response, words: str) -> None:
    assert response.status_code in (400, 403), (response.status_code, response.text[:300])
    assert "This launch was refused" in response.text and words in response.text, response.text
    assert not signed_in_cookies(response)
    assert 'id="upload"' not in client.get(f"{tool}/").text  # not signed in
    assert client.get(f"{tool}/staff/").status_code == 403


BAD = {
    "bad signature": (dict(key=new_key()), "signature does not match"),
    "wrong aud": (dict(aud="some-other-client"), "audience is not this tool"),
    "expired": (dict(exp=int(time.time()) - 600, iat=int(time.time()) - 900), "expired"),
    "unknown deployment": ({"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "deployment-9"},
                           "deployment"),
    "another tool's target": ({"https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "https://other.tool/launch"},
                              "for another tool"),
    "another tool's azp": (dict(aud=["grader-tool", "other-tool"], azp="other-tool"), "for another tool"),
    "unknown key id": (dict(kid="not-published"), "key the platform does not publish"),
    "deep linking": ({"https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiDeepLinkingRequest"},
                     "resource link launches only"),
    "a user id over 255 characters": (dict(overrides={"sub": "u" * 256}), "at most 255"),
    "old LTI": ({"https://purl.imsglobal.org/spec/lti/claim/version": "1.1"}, "LTI 1.3.0"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_launch_is_refused_with_a_page_and_no_session(world, case):
    platform, tool, _data, _state, _port, httpx = world
    extra, words = BAD[case]
    client = browser(httpx)
    response = platform.launch(client, tool, "canvas-user-bob", roles=(INSTRUCTOR,), **extra)
    refused_without_session(client, tool, response, words)


def test_a_replayed_launch_is_refused_whether_its_state_is_old_or_new(world):
    platform, tool, _data, _state, _port, httpx = world
    client = browser(httpx)
    asked = platform.login(client, tool, "canvas-user-bob")
    token = platform.sign(platform.claims(asked["nonce"], "canvas-user-bob", [LEARNER], f"{tool}/lti/launch"))
    first = client.post(f"{tool}/lti/launch", data={"id_token": token, "state": asked["state"]})
    assert first.status_code == 303
    thief = browser(httpx)  # the same id_token and state again, from another browser or this one
    thief.cookies.set(f"grader_lti_state_{asked['state']}", asked["state"], path="/lti/")
    refused_without_session(thief, tool, thief.post(f"{tool}/lti/launch", data={"id_token": token, "state": asked["state"]}),
                            "already used")
    fresh = browser(httpx)  # a new login of its own, the old id_token (another nonce)
    again = platform.login(fresh, tool, "canvas-user-bob")
    refused_without_session(fresh, tool, fresh.post(f"{tool}/lti/launch", data={"id_token": token, "state": again["state"]}),
                            "nonce")


def test_two_launches_opened_side_by_side_both_land(world):
    platform, tool, _data, _state, _port, httpx = world
    client = browser(httpx)
    first, second = (platform.login(client, tool, "canvas-user-bob") for _ in range(2))
    for asked in (second, first):
        token = platform.sign(platform.claims(asked["nonce"], "canvas-user-bob", [LEARNER], f"{tool}/lti/launch"))
        response = client.post(f"{tool}/lti/launch", data={"id_token": token, "state": asked["state"]})
        assert response.status_code == 303, response.text


def test_a_launch_without_this_browsers_state_is_refused(world):
    platform, tool, _data, _state, _port, httpx = world
    client = browser(httpx)
    for state in ("x" * 43, "é" * 20, ""):
        refused_without_session(client, tool, platform.launch(client, tool, "canvas-user-bob", post_state=state),
                                "did not start from this browser")


def test_an_unsigned_token_is_refused(world):
    import base64

    platform, tool, _data, _state, _port, httpx = world
    client = browser(httpx)
    asked = platform.login(client, tool, "canvas-user-bob")

    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = platform.claims(asked["nonce"], "canvas-user-bob", [INSTRUCTOR], f"{tool}/lti/launch")
    token = f"{part({'alg': 'none', 'kid': platform.kid})}.{part(claims)}."
    refused_without_session(client, tool, client.post(f"{tool}/lti/launch", data={"id_token": token,
                                                                                    "state": asked["state"]}), "RS256")


def test_a_hand_in_its_better_hand_in_and_an_adjustment_each_reach_the_line_item(world):
    platform, tool, _data, _state, _port, httpx = world
    client = browser(httpx)
    sub = "canvas-user-erin"
    assert platform.launch(client, tool, sub, name="Erin").status_code == 303
    graded(client, tool, hand_in(client, tool, "rnn.py", MUTANT))
    sid = next(i for i in gradebook(httpx, tool) if i.startswith("lti-"))
    first = gradebook(httpx, tool)[sid]
    kept = reaches(platform, sub, first)
    assert kept["activityProgress"] == "Completed" and kept["gradingProgress"] == "FullyGraded"
    assert kept["scoreMaximum"] > first > 0
    graded(client, tool, hand_in(client, tool, "rnn.py", CORRECT + b"\n# erin\n"))  # better: the best counts
    better = gradebook(httpx, tool)[sid]
    assert better > first
    reaches(platform, sub, better)
    staff = httpx.Client(timeout=60, follow_redirects=False)
    staff.cookies.set("grader_staff", STAFF)
    csrf = CSRF.search(staff.get(f"{tool}/staff/").text).group(1)
    rows = f"id,check,points,comment\n{sid},total,-1.5,copied a line\n"
    assert staff.post(f"{tool}/staff/adjustments", data={"csrf": csrf},
                      files={"file": ("adjustments.csv", rows.encode())}).status_code == 303
    adjusted = gradebook(httpx, tool)[sid]
    assert adjusted == better - 1.5
    reaches(platform, sub, adjusted)
    mine = [s for s in platform.received if s["userId"] == sub]
    assert [s["scoreGiven"] for s in mine] == [first, better, adjusted]  # each once, in order
    assert [s["timestamp"] for s in mine] == sorted(s["timestamp"] for s in mine)


def test_a_kill_9_between_grading_and_sending_loses_nothing(world):
    platform, tool, data, state, port, httpx = world
    client = browser(httpx)
    sub = "canvas-user-carol"
    assert platform.launch(client, tool, sub, name="Carol").status_code == 303
    platform.fail_scores = 10_000  # the platform is down: nothing can be sent
    graded(client, tool, hand_in(client, tool, "rnn.py", CORRECT + b"\n# carol\n"))
    sid = next(i for i, *_ in sqlite3.connect(data / "grader.sqlite3").execute(
        "select student_id from lti_users where sub = ?", (sub,)))
    score = gradebook(httpx, tool)[sid]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen = httpx.get(f"{tool}/api/lti/outbox", headers={"Authorization": f"Bearer {STAFF}"}).json()
        waiting = [p for p in seen["pending"] if p["student"] == sid]
        if waiting and waiting[0]["tries"] >= 2:
            break
        time.sleep(0.3)
    assert waiting[0]["score"] == score and "503" in waiting[0]["error"], seen  # staff see why it waits
    assert httpx.get(f"{tool}/api/lti/outbox").status_code == 403
    assert sub not in platform.results
    os.kill(state["server"].pid, signal.SIGKILL)
    state["server"].wait()
    platform.fail_scores = 0
    state["server"] = start_server(data, port, *state["args"])
    reaches(platform, sub, score)
    time.sleep(2)  # and nothing else follows
    assert [s["scoreGiven"] for s in platform.received if s["userId"] == sub] == [score]
    rows = sqlite3.connect(data / "grader.sqlite3").execute(
        "select state from lti_outbox join lti_targets t on t.id = target_id where t.sub = ?", (sub,)).fetchall()
    assert rows == [("sent",)]


def test_the_membership_service_names_students_and_merges_with_the_roster(world):
    platform, tool, data, _state, _port, httpx = world
    platform.members = [
        {"user_id": "canvas-user-robert", "name": "Bob From Canvas", "roles": [LEARNER], "status": "Active",
         "lis_person_sourcedid": "bob"},
        {"user_id": "canvas-user-dave", "name": "Dave Doe", "roles": [LEARNER], "status": "Active"},
        {"user_id": "canvas-user-gone", "name": "Gone", "roles": [LEARNER], "status": "Inactive"},
    ]
    client = browser(httpx)
    assert platform.launch(client, tool, "canvas-teacher-2", roles=(INSTRUCTOR,)).status_code == 303
    db = data / "grader.sqlite3"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        users = dict(sqlite3.connect(db).execute("select sub, student_id from lti_users"))
        if "canvas-user-dave" in users:
            break
        time.sleep(0.3)
    assert users.get("canvas-user-dave", "").startswith("lti-") and "canvas-user-gone" not in users
    students = dict(sqlite3.connect(db).execute("select id, name from students"))
    assert students[users["canvas-user-dave"]] == "Dave Doe"
    assert students["bob"] == "Bob"  # the roster's name is kept; bob is the roster's bob
    assert users["canvas-user-robert"] == "bob"
    targets = dict(sqlite3.connect(db).execute("select sub, lineitem from lti_targets"))
    assert targets["canvas-user-dave"] == targets["canvas-user-robert"] == platform.lineitem  # their scores go there


def test_a_deadline_change_sends_the_late_policys_score(world, tmp_path):
    """Last in this module: the deadline moves into the past (the course file, read at start)."""
    platform, tool, data, state, port, httpx = world
    sub = "canvas-user-carol"
    before = platform.results[sub]["scoreGiven"]
    course = tmp_path / "course.toml"
    course.write_text("[assignment]\ndeadline = 2020-01-01T00:00:00Z\n[late]\nper_day = 0.10\nzero_after_days = 0\n"
                      "[service]\nattempts_per_hour = 100\n")
    stop_server(state["server"])
    args = list(state["args"])
    args[args.index("--course") + 1] = str(course)
    state["server"] = start_server(data, port, *args)
    reaches(platform, sub, 0.0)
    assert before > 0 and gradebook(httpx, tool)[next(iter(sqlite3.connect(data / "grader.sqlite3").execute(
        "select student_id from lti_users where sub = ?", (sub,))))[0]] == 0.0
