"""Issue 28 on `grade serve` (a real server, uvicorn in a subprocess, HTTP from outside): one score per
student wherever it is read (the home page's "Score that counts", the feedback page, /api/submissions,
the overview and the gradebook), after the late policy against the student's own deadline
(`[extensions]`) and staff's adjustments; every roster student counted and in the gradebook, a student
with no hand-in too; names on the staff pages and in the gradebook."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from serve_support import CSRF, EXAMPLES, STAFF, free_port, hand_in, links, sign_in, staff_client, start_server, \
    stop_server

pytestmark = pytest.mark.slow
CORRECT = (EXAMPLES / "correct_vectorised.py").read_bytes()


def test_one_score_everywhere_every_roster_student_and_their_names(tmp_path):
    pytest.importorskip("fastapi", reason="the [serve] extra is part of [test]")
    import httpx

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    deadline = (now - dt.timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ")  # 30 h ago: two started days
    extension = (now + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "course.toml").write_text(f"[assignment]\ndeadline = {deadline}\n\n[late]\nper_day = 0.10\n\n"
                                          f"[extensions]\nben = {extension}\n")
    (tmp_path / "roster.csv").write_text("id,name\nann,Ann Lee\nben,Ben Ode\ncat,Cat Pa\n")
    data, port = tmp_path / "data", free_port()
    server = start_server(data, port, "--course", str(tmp_path / "course.toml"), "--roster",
                          str(tmp_path / "roster.csv"), "--jobs", "1")
    base = f"http://127.0.0.1:{port}"
    try:
        tokens = links(data)
        students = {}
        for sid, body in (("ann", CORRECT + b"\n# ann\n"), ("ben", CORRECT + b"\n# ben\n")):
            client = httpx.Client(base_url=base, follow_redirects=True, timeout=30)
            sign_in(client, tokens[sid])
            assert hand_in(client, "rnn.py", body).status_code == 200
            students[sid] = client
        api = {"Authorization": f"Bearer {STAFF}"}
        import time

        until = time.monotonic() + 180
        while sum(1 for s in httpx.get(f"{base}/api/submissions", headers=api).json()["submissions"]
                  if s["state"] == "graded") < 2:
            assert time.monotonic() < until, "not graded in time"
            time.sleep(0.5)
        staff = staff_client(base)
        csrf = CSRF.search(staff.get("/staff/").text).group(1)
        rows = b"id,check,points,comment\nann,total,-1.5,copied the update\n"
        assert staff.post("/staff/adjustments", data={"csrf": csrf},
                          files={"file": ("adjustments.csv", rows)}).status_code == 200

        # ann: 10 by the grader, 20 % off for two started days late, then staff's -1.5: 6.5 everywhere
        home = students["ann"].get("/").text
        assert "Score that counts: 6.5 / 10" in home, home[-1500:]
        number = re.search(r'href="/submissions/(\d+)">#\d+</a> <span class="counting">', home).group(1)
        page = students["ann"].get(f"/submissions/{number}").text
        assert 'id="score">6.5 / 10<' in page and "copied the update" in page
        listing = {s["student"]: s for s in httpx.get(f"{base}/api/submissions", headers=api).json()["submissions"]}
        assert (listing["ann"]["score"], listing["ann"]["grader_score"], listing["ann"]["counts"]) == (6.5, 10, True)
        # ben: the same lateness, but his own deadline is tomorrow
        assert "Score that counts: 10 / 10" in students["ben"].get("/").text
        assert listing["ben"]["score"] == 10 and not listing["ben"]["late"]

        book = list(csv.DictReader(io.StringIO(staff.get("/staff/gradebook.csv").text)))
        assert {r["id"]: (r["name"], r["score"]) for r in book} == {
            "ann": ("Ann Lee", "6.5"), "ben": ("Ben Ode", "10"), "cat": ("Cat Pa", "")}
        canvas = list(csv.reader(io.StringIO(staff.get("/staff/gradebook.csv", params={"format": "canvas"}).text)))
        assert {r[1]: r[0] for r in canvas[1:]} == {"ann": "Ann Lee", "ben": "Ben Ode", "cat": "Cat Pa"}
        overview = staff.get("/staff/").text
        assert 'id="count-students">3<' in overview and 'id="count-missing">1<' in overview
        assert "Cat Pa" in overview and "Ann Lee" in overview
        row = overview[overview.index('data-id="ann"'):]
        assert "6.5 / 10" in row[:row.index("</tr>")]
        assert "Ann Lee (ann)" in staff.get("/staff/students/ann.html").text
    finally:
        stop_server(server)
