"""`grade serve`, a student's way through it (FastAPI's TestClient, a real dispatcher grading in the
sandbox): sign in with a link, hand in, read feedback within seconds, history, the attempt that counts
(best or last), the limit of attempts per hour, lateness; and staff's overview, history and gradebook."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from serve_support import EXAMPLES, STAFF, client_for, feedback, hand_in, score_on, service, staff_client  # noqa: F401

pytestmark = pytest.mark.slow
CORRECT = (EXAMPLES / "correct_vectorised.py").read_bytes()
MUTANT = (EXAMPLES / "mutant_forward_no_bias.py").read_bytes()


@pytest.fixture
def course(service):  # noqa: F811
    """The app's course rules, restored after each test that changes them."""
    app, _ = service
    kept = app.state.service.course
    yield app.state.service
    app.state.service.course = kept


def test_a_student_signs_in_hands_in_and_reads_full_marks(service):  # noqa: F811
    app, issued = service
    alice = client_for(app, issued["alice"])
    response = hand_in(alice, "rnn.py", CORRECT)
    assert response.status_code == 200 and "/submissions/" in str(response.url)
    page = feedback(alice, str(response.url))
    assert score_on(page) == "10 / 10"
    assert "This is the attempt that counts" in page and "rnn.py" in page
    home = alice.get("/").text
    assert 'id="history"' in home and "rnn.py" in home and "Score that counts: 10 / 10" in home


def test_a_wrong_sign_in_is_refused_and_shows_the_sign_in_page(service):  # noqa: F811
    app, _ = service
    client = client_for(app)
    response = client.get("/signin", params={"token": "not-a-token"})
    assert response.status_code == 403 and "not valid" in response.text
    assert 'id="upload"' not in client.get("/").text


def test_best_or_last_attempt_counts_as_the_course_file_says(service, course, tmp_path):  # noqa: F811
    from grader.course import course_file

    app, issued = service
    bob = client_for(app, issued["bob"])
    feedback(bob, str(hand_in(bob, "first.py", CORRECT + b"\n# bob\n").url))
    worse = feedback(bob, str(hand_in(bob, "second.py", MUTANT).url))
    assert score_on(worse) != "10 / 10" and "Your best attempt counts" in worse
    assert "Score that counts: 10 / 10" in bob.get("/").text
    (tmp_path / "course.toml").write_text('[service]\ncounts = "last"\n')
    course.course = course_file.load(tmp_path / "course.toml")
    assert f"Score that counts: {score_on(worse)}" in bob.get("/").text


def test_the_limit_of_attempts_per_hour_is_said_and_nothing_is_stored(service, course):  # noqa: F811
    app, issued = service
    carol = client_for(app, issued["carol"])
    feedback(carol, str(hand_in(carol, "a.py", CORRECT + b"\n# carol\n").url))
    course.course = dataclasses.replace(course.course, attempts_per_hour=1)
    response = hand_in(carol, "b.py", CORRECT + b"\n# carol again\n")
    assert response.status_code == 429
    assert "1 times in the last hour" in response.text and "b.py" not in response.text
    assert "0 attempt(s) left" in response.text


def test_a_late_hand_in_shows_the_late_policy_and_its_sentence(service, course):  # noqa: F811
    from grader.course.course_file import LatePolicy

    app, issued = service
    course.course = dataclasses.replace(course.course, deadline=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=30),
                                        late=LatePolicy(per_day=0.1), attempts_per_hour=100)
    alice = client_for(app, issued["alice"])
    assert "10% of the points per started day late" in alice.get("/").text
    page = feedback(alice, str(hand_in(alice, "late.py", CORRECT + b"\n# late\n").url))
    assert 'id="late"' in page and "handed in 1.3 days late; 20% of 10 points taken off" in page
    assert score_on(page) == "8 / 10"


def test_identical_bytes_are_graded_once_and_the_second_attempt_reuses_the_result(service, course):  # noqa: F811
    from sqlalchemy import select

    from grader.serve.store import Grading, Submission

    app, issued = service
    course.course = dataclasses.replace(course.course, attempts_per_hour=100)
    same = CORRECT + b"\n# the very same bytes\n"
    alice, bob = client_for(app, issued["alice"]), client_for(app, issued["bob"])
    first = feedback(alice, str(hand_in(alice, "mine.py", same).url))
    second = feedback(bob, str(hand_in(bob, "also_mine.py", same).url))
    assert score_on(first) == score_on(second) == "10 / 10"
    assert "also_mine.py" in second and "mine.py" not in second.replace("also_mine.py", "")  # each sees their own name
    with app.state.service.make_session() as session:
        keys = {s.key for s in session.scalars(select(Submission).where(Submission.filename.in_(["mine.py", "also_mine.py"])))}
        rows = list(session.scalars(select(Grading).where(Grading.key.in_(keys))))
    assert len(keys) == 1 and len(rows) == 1 and rows[0].graded == 1 and rows[0].claims == 1


def test_staff_see_the_class_any_history_and_the_gradebook(service):  # noqa: F811
    app, issued = service
    alice = client_for(app, issued["alice"])
    feedback(alice, str(hand_in(alice, "again.py", CORRECT + b"\n# staff\n").url))
    staff = staff_client(app)
    overview = staff.get("/staff/")
    assert overview.status_code == 200 and 'id="students"' in overview.text and "alice" in overview.text
    assert 'href="students/alice.html"' in overview.text
    assert staff.get("/staff/students/alice.html").status_code == 200
    history = staff.get("/staff/history/alice").text
    assert "again.py" in history
    book = staff.get("/staff/gradebook.csv").text.splitlines()
    assert book[0] == "id,name,score,max_score,status,feedback" and any(line.startswith("alice,") for line in book)
    api = client_for(app)
    status = api.get("/api/status", headers={"Authorization": f"Bearer {STAFF}"}).json()
    assert status["graded_twice"] == 0 and status["submissions"] >= 1
    listing = api.get("/api/submissions", headers={"Authorization": f"Bearer {STAFF}"}).json()
    assert {"alice"} <= {s["student"] for s in listing["submissions"]}
    json.dumps(listing)


def test_staff_regrade_all_after_a_pack_change_lists_what_moved(service):  # noqa: F811
    app, _ = service
    api = client_for(app)
    headers = {"Authorization": f"Bearer {STAFF}"}
    answer = api.post("/api/regrade", headers=headers).json()
    assert answer["regrading"] >= 1
    import time

    deadline = time.monotonic() + 120
    while api.get("/api/status", headers=headers).json()["gradings"].get("graded", 0) < answer["regrading"]:
        assert time.monotonic() < deadline, "the regrade did not finish"
        time.sleep(0.3)
    assert api.get("/api/changes", headers=headers).json() == {"changes": []}  # same pack: nothing moved


def test_staff_adjustments_reach_the_gradebook_and_the_students_page(service):  # noqa: F811
    import re

    app, issued = service
    alice = client_for(app, issued["alice"])
    feedback(alice, str(hand_in(alice, "adjusted.py", CORRECT + b"\n# adjust\n").url))
    staff = staff_client(app)
    csrf = re.search(r'name="csrf" value="([^"]+)"', staff.get("/staff/").text).group(1)
    rows = b"id,check,points,comment\nalice,total,-1.5,copied the update from the slides\n"
    assert staff.post("/staff/adjustments", data={"csrf": csrf}, files={"file": ("adjustments.csv", rows)}).status_code == 200
    book = staff.get("/staff/gradebook.csv").text
    assert "\nalice,Alice,8.5,10," in book
    home = alice.get("/").text
    counting = re.search(r'href="/submissions/(\d+)">#\d+</a> <span class="counting">', home).group(1)
    page = alice.get(f"/submissions/{counting}").text
    assert score_on(page) == "8.5 / 10" and "copied the update from the slides" in page


def test_a_late_hand_in_costs_the_same_on_every_staff_view(service, course):  # noqa: F811
    """The staff overview's table, the staff page of the student and the gradebook apply the late policy
    as the batch does (course/overview.py), so they agree with what the student reads."""
    from grader.course.course_file import LatePolicy
    from grader.serve import tokens

    app, _ = service
    issued = tokens.issue(app.state.service.make_session, [("dave", "Dave")])
    course.course = dataclasses.replace(course.course, deadline=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=30),
                                        late=LatePolicy(per_day=0.1), attempts_per_hour=100)
    dave = client_for(app, issued["dave"])
    assert score_on(feedback(dave, str(hand_in(dave, "late.py", CORRECT + b"\n# dave, late\n").url))) == "8 / 10"
    staff = staff_client(app)
    overview = staff.get("/staff/").text
    row = overview[overview.index('href="students/dave.html"'):]
    row = row[:row.index("</tr>")]
    assert "8 / 10" in row and "late" in row, row
    assert "20% of 10 points taken off" in staff.get("/staff/students/dave.html").text
    assert "\ndave,Dave,8," in staff.get("/staff/gradebook.csv").text
