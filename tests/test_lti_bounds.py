"""LTI red team round 2 (issue 30), against a real `grade serve --lti` and the test platform on
127.0.0.1: a launch is bound to the course(s) lti.json names; a slow or huge platform answer (a
membership service, a JWKS) stops no score and no other launch, and is read with a byte cap; a
platform's deeply nested claims are a 400; the sourcedid is cleaned like the name."""

from __future__ import annotations

import json
import time

import pytest
from serve_support import STAFF, free_port, start_server, stop_server

pytest.importorskip("jwt", reason="the [serve] extra is part of [test]: pip install -e '.[test]'")
from lti_platform import INSTRUCTOR, LEARNER, TA, Platform  # noqa: E402
from lti_slow import Slow  # noqa: E402
from test_lti import CORRECT, browser, graded, hand_in, refused_without_session  # noqa: E402

pytestmark = pytest.mark.slow
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DOWN = "https://down.example.edu"  # a registered platform whose JWKS dribbles a byte every 2 s


@pytest.fixture(scope="module")
def bounded(tmp_path_factory):
    """(platform, unconfigured platform, slow server, tool URL, data, server process, httpx)."""
    import subprocess
    import sys

    import httpx

    root = tmp_path_factory.mktemp("lti-bounds")
    made = subprocess.run([sys.executable, "-m", "grader.cli", "lti-keys", str(root / "keys")],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    platform, bare, slow = Platform(), Platform(), Slow()
    unset = bare.config("private.key")
    del unset[bare.url]["contexts"]  # a platform whose courses lti.json does not name yet
    config = dict(platform.config("private.key"), **unset)
    config[DOWN] = {"client_id": "down", "auth_login_url": slow.url + "/auth", "auth_token_url": slow.url + "/token",
                    "key_set_url": slow.url + "/dribble-keys", "deployment_ids": ["1"], "contexts": ["c"],
                    "private_key_file": "private.key"}
    (root / "keys" / "lti.json").write_text(json.dumps(config))
    (root / "course.toml").write_text("[service]\nattempts_per_hour = 100\n")
    port = free_port()
    tool = f"http://127.0.0.1:{port}"
    platform.tool_jwks = bare.tool_jwks = f"{tool}/lti/jwks"
    data = root / "data"
    server = start_server(data, port, "--lti", str(root / "keys" / "lti.json"), "--course",
                          str(root / "course.toml"), "--jobs", "1")
    try:
        yield platform, bare, slow, tool, data, server, httpx
    finally:
        stop_server(server)
        platform.close()
        bare.close()
        slow.close()


def outbox(httpx, tool: str) -> dict:
    return httpx.get(f"{tool}/api/lti/outbox", headers={"Authorization": f"Bearer {STAFF}"}, timeout=30).json()


OTHER_COURSE = {
    "an Instructor of another course": ((INSTRUCTOR,), {LTI + "context": {"id": "course-999", "title": "Mine"}},
                                        "course-999"),
    "a TA of another course": ((TA,), {LTI + "context": {"id": "course-999"}}, "course-999"),
    "a Learner of another course": ((LEARNER,), {LTI + "context": {"id": "course-998"}}, "course-998"),
    "an Instructor with no context": ((INSTRUCTOR,), {LTI + "context": None}, "names no course"),
}


@pytest.mark.parametrize("case", list(OTHER_COURSE))
def test_a_launch_from_a_course_lti_json_does_not_name_is_refused(bounded, case):
    """F1: staff and learners of another course on the same deployment are no one here."""
    platform, _bare, _slow, tool, _data, _server, httpx = bounded
    roles, overrides, words = OTHER_COURSE[case]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    client = browser(httpx)
    if LTI + "context" in OTHER_COURSE[case][1] and OTHER_COURSE[case][1][LTI + "context"] is None:
        asked = platform.login(client, tool, "canvas-intruder")
        claims = platform.claims(asked["nonce"], "canvas-intruder", list(roles), f"{tool}/lti/launch")
        del claims[LTI + "context"]
        response = client.post(f"{tool}/lti/launch", data={"id_token": platform.sign(claims), "state": asked["state"]})
    else:
        response = platform.launch(client, tool, "canvas-intruder", roles=roles, overrides=overrides)
    refused_without_session(client, tool, response, words)
    listed = httpx.get(f"{tool}/api/lti/people", headers={"Authorization": f"Bearer {STAFF}"}).json()["people"]
    assert "canvas-intruder" not in [p["sub"] for p in listed]
    ok = platform.launch(browser(httpx), tool, "canvas-teacher", roles=(INSTRUCTOR,))
    assert ok.status_code == 303 and ok.headers["location"] == "/staff/", ok.text


def test_a_platform_with_no_contexts_configured_refuses_every_launch_and_shows_its_context(bounded):
    """F1: until lti.json names a platform's courses, its launches are refused with the id to add."""
    _platform, bare, _slow, tool, _data, _server, httpx = bounded
    for roles in ((INSTRUCTOR,), (LEARNER,)):
        client = browser(httpx)
        response = bare.launch(client, tool, "moodle-user-1", roles=roles)
        refused_without_session(client, tool, response, "course-7")
        assert "contexts" in response.text and "lti.json" in response.text


def members_error(httpx, tool: str, url: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [m for m in outbox(httpx, tool)["memberships"] if m["url"] == url and m["error"]]
        if found:
            return found[0]["error"]
        time.sleep(0.5)
    raise AssertionError(f"no error for {url} in /api/lti/outbox after {seconds} s: {outbox(httpx, tool)}")


def score_arrives(platform, sub: str, seconds: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if sub in platform.results:
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"no score for {sub} after {seconds} s")


def test_a_dribbling_membership_service_stops_no_score_and_is_an_error_staff_see(bounded):
    """F5: a membership service that answers a byte every 2 s (any course's launch can name one) is
    given up after a wall-clock deadline, in its own thread; the scores are decided and sent meanwhile."""
    platform, _bare, slow, tool, _data, _server, httpx = bounded
    url = f"{slow.url}/dribble-members"
    client = browser(httpx)
    response = platform.launch(client, tool, "canvas-user-dan", overrides={
        NRPS: {"context_memberships_url": url, "service_versions": ["2.0"]}})
    assert response.status_code == 303, response.text
    graded(client, tool, hand_in(client, tool, "solution.py", CORRECT))
    assert score_arrives(platform, "canvas-user-dan", 15) < 15  # the roster is still dribbling
    assert "took more than" in members_error(httpx, tool, url, 60)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


@pytest.mark.parametrize("unsized", ["", "&unsized=1"])
def test_a_huge_platform_answer_is_not_read_past_the_cap(bounded, unsized):
    """F6: a 400 MB membership answer is read as a stream and given up past 2 MB: the service's memory
    does not grow by the answer's size."""
    platform, _bare, slow, tool, _data, server, httpx = bounded
    before = peak_rss_mb(server.pid)
    url = f"{slow.url}/huge?mb=400{unsized}"
    response = platform.launch(browser(httpx), tool, f"canvas-user-erin{unsized[-1:]}", overrides={
        NRPS: {"context_memberships_url": url, "service_versions": ["2.0"]}})
    assert response.status_code == 303, response.text
    assert "more than 2000000 bytes" in members_error(httpx, tool, url, 90)
    assert peak_rss_mb(server.pid) < before + 100, (before, peak_rss_mb(server.pid))


def test_a_platform_whose_keys_do_not_answer_slows_no_other_platforms_launch(bounded):
    """F7: an outsider logs in with a registered platform whose JWKS dribbles and posts junk tokens with
    new key ids; the healthy platform's launches do not wait on that fetch (a lock per key-set URL,
    a wall-clock deadline, the refetch rate-limited per URL)."""
    import base64
    import threading

    platform, _bare, _slow, tool, _data, _server, httpx = bounded
    stop = threading.Event()

    def part(value) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    def outsider():
        with httpx.Client(follow_redirects=False, timeout=90) as client:
            while not stop.is_set():
                login = client.get(f"{tool}/lti/login", params={"iss": DOWN, "login_hint": "x",
                                                                "target_link_uri": f"{tool}/lti/launch"})
                state = dict(httpx.QueryParams(login.headers["location"].split("?", 1)[1]))["state"]
                junk = part({"alg": "RS256", "kid": f"k{time.monotonic()}"}) + "." + part({}) + ".AAAA"
                try:
                    client.post(f"{tool}/lti/launch", data={"id_token": junk, "state": state})
                except httpx.HTTPError:
                    pass

    threads = [threading.Thread(target=outsider, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        took = []
        for number in range(4):
            start = time.monotonic()
            response = platform.launch(browser(httpx), tool, f"canvas-user-fay{number}")
            took.append(time.monotonic() - start)
            assert response.status_code == 303, response.text
            time.sleep(2)
    finally:
        stop.set()
    assert max(took) < 5, took


def test_deeply_nested_claims_are_a_400(bounded):
    """F2: a platform-signed token whose claims nest 5,000 deep is a plain 400, not a 500."""
    import jwt
    from lti_platform import pem

    platform, _bare, _slow, tool, _data, _server, httpx = bounded
    client = browser(httpx)
    asked = platform.login(client, tool, "canvas-user-gil")
    claims = json.dumps(platform.claims(asked["nonce"], "canvas-user-gil", [LEARNER], f"{tool}/lti/launch"))
    deep = claims[:-1] + ', "deep": ' + "[" * 5000 + "]" * 5000 + "}"
    token = jwt.api_jws.encode(deep.encode(), pem(platform.key), algorithm="RS256",
                               headers={"kid": platform.kid, "typ": "JWT"})
    response = client.post(f"{tool}/lti/launch", data={"id_token": token, "state": asked["state"]})
    assert response.status_code == 400, (response.status_code, response.text[:300])
    refused_without_session(client, tool, response, "nested too deeply")


def test_the_sourcedid_is_cleaned_like_the_name(bounded):
    """F4: control characters, bidi overrides and NUL in lis_person_sourcedid never reach staff."""
    platform, _bare, _slow, tool, _data, _server, httpx = bounded
    dirty = "Eve\x1b[2J\x1b]0;pwned\x07\r\nAdmin\x00\u202eevil\u202c\u2066"
    response = platform.launch(browser(httpx), tool, "canvas-user-hal", name=dirty,
                               overrides={LTI + "lis": {"person_sourcedid": dirty}})
    assert response.status_code == 303, response.text
    people = httpx.get(f"{tool}/api/lti/people", headers={"Authorization": f"Bearer {STAFF}"}).json()["people"]
    hal = next(p for p in people if p["sub"] == "canvas-user-hal")
    assert hal["sourcedid"] == hal["name"] and "Admin" in hal["sourcedid"], hal
    assert not any(c in hal["sourcedid"] for c in "\x1b\x07\x00\r\u202e\u202c\u2066"), hal
