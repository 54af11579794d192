"""`grade serve` against bad input and hostile users: oversize, wrong type, a broken notebook and hostile
code get a clear message (never a traceback); a student reaches neither another student's attempts nor
staff pages, by number or URL; a form without its token is refused; a file's name never makes a path."""

from __future__ import annotations

import json

import pytest
from serve_support import EXAMPLES, STAFF, client_for, csrf_of, feedback, hand_in, service, staff_client  # noqa: F401

pytestmark = pytest.mark.slow
CORRECT = (EXAMPLES / "correct_vectorised.py").read_bytes()


def count(app) -> int:
    from sqlalchemy import func, select

    from grader.serve.store import Submission

    with app.state.service.make_session() as session:
        return session.scalar(select(func.count()).select_from(Submission))


def test_an_oversize_upload_is_refused_with_the_limit(service):  # noqa: F811
    app, issued = service
    alice = client_for(app, issued["alice"])
    before = count(app)
    limit = app.state.service.course.upload_bytes
    for size in (limit + 1, limit + 200_000):  # just over (read and refused), far over (refused by its length)
        response = hand_in(alice, "big.py", b"#" * size)
        assert response.status_code == 413, size
        assert f"larger than {limit / 1e6:g} MB" in response.text and "Traceback" not in response.text
    assert count(app) == before


def test_an_oversize_upload_without_a_declared_length_is_cut_off(service):  # noqa: F811
    app, issued = service
    alice = client_for(app, issued["alice"])
    limit = app.state.service.course.upload_bytes
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.py\"\r\n\r\n").encode()

    def chunks():  # a generator body: sent chunked, with no Content-Length to refuse it by
        yield head
        for _ in range(4 * limit // 65536):
            yield b"#" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    before = count(app)
    response = alice.post("/submit", params={"csrf": csrf_of(alice)}, content=chunks(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413 and "larger than" in response.text and "Traceback" not in response.text
    assert count(app) == before


@pytest.mark.parametrize("name, content, says", [
    ("notes.txt", b"print(1)\n", "not .txt"),
    ("rnn", b"print(1)\n", "not a file without extension"),
    ("empty.py", b"  \n", "The file is empty"),
    ("broken.ipynb", b'{"cells": [', "This notebook cannot be read"),
    ("not_a_notebook.ipynb", json.dumps({"hello": 1}).encode(), "This notebook cannot be read"),
])
def test_wrong_types_and_broken_notebooks_get_a_clear_message(service, name, content, says):  # noqa: F811
    app, issued = service
    alice = client_for(app, issued["alice"])
    before = count(app)
    response = hand_in(alice, name, content)
    assert response.status_code == 400
    assert says in response.text and 'id="problem"' in response.text and "Traceback" not in response.text
    assert count(app) == before


def test_hostile_code_is_graded_in_the_sandbox_and_its_feedback_is_plain(service):  # noqa: F811
    app, issued = service
    carol = client_for(app, issued["carol"])
    page = feedback(carol, str(hand_in(carol, "h.py", (EXAMPLES / "hostile_exit_get_weights.py").read_bytes()).url))
    assert 'id="checks"' in page and "Traceback" not in page and "\x1b" not in page
    assert "seed" not in page.lower()  # the hidden seed never reaches a student


def test_a_student_cannot_open_another_students_attempt_or_staff_pages(service):  # noqa: F811
    app, issued = service
    alice, bob = client_for(app, issued["alice"]), client_for(app, issued["bob"])
    secret = b"\n# BOBS_PRIVATE_MARKER\n"
    bobs = feedback(bob, str(hand_in(bob, "bob_private_name.py", CORRECT + secret).url))
    number = int(bobs.split("Attempt #", 1)[1].split(".", 1)[0])
    for url in (f"/submissions/{number}", f"/submissions/{number}?student=bob", "/submissions/0",
                "/submissions/-1", f"/staff/submissions/{number}", "/staff/", "/staff/students/bob.html",
                "/staff/history/bob", "/staff/gradebook.csv", "/api/submissions", "/api/status",
                "/staff/signin?token=" + issued["alice"]):
        response = alice.get(url)
        assert response.status_code in (403, 404), url
        assert "bob_private_name" not in response.text and "BOBS_PRIVATE" not in response.text, url
    # a student's token is no staff token, as a header either
    response = client_for(app).get("/api/submissions", headers={"Authorization": f"Bearer {issued['alice']}"})
    assert response.status_code == 403 and "bob" not in response.text
    assert client_for(app).post("/api/regrade", headers={"Authorization": f"Bearer {issued['bob']}"}).status_code == 403


def test_a_form_post_without_its_token_is_refused(service):  # noqa: F811
    app, issued = service
    alice, bob = client_for(app, issued["alice"]), client_for(app, issued["bob"])
    before = count(app)
    for data in ({}, {"csrf": "0" * 64}, {"csrf": csrf_of(bob)}):  # none, forged, another user's
        response = alice.post("/submit", params=data, files={"file": ("x.py", CORRECT + b"\n# csrf\n")})
        assert response.status_code == 403 and "was not sent from this site" in response.text
    assert count(app) == before
    staff = staff_client(app)
    assert staff.post("/staff/regrade", data={}).status_code == 403
    assert staff.post("/staff/adjustments", data={"csrf": "x"}, files={"file": ("a.csv", b"id\n")}).status_code == 403


def test_a_file_name_never_makes_a_path(service):  # noqa: F811
    import hashlib

    app, issued = service
    data = app.state.service.data
    alice = client_for(app, issued["alice"])
    content = CORRECT + b"\n# traversal\n"
    response = hand_in(alice, "../../../../etc/passwd.py", content)
    assert response.status_code == 200
    sha = hashlib.sha256(content).hexdigest()
    assert (data / "files" / sha[:2] / f"{sha}.py").read_bytes() == content
    assert not list(data.rglob("passwd*")) and not (data.parent / "etc").exists()
    assert "passwd.py" in feedback(alice, str(response.url))  # shown by its base name, cleaned
    staff = staff_client(app)
    for url in ("/staff/students/..%2F..%2Fgrader.sqlite3", "/staff/students/..%2Fsummary.json",
                "/staff/history/..%2F..%2Fetc", "/staff/students/nobody.html", "/staff/students/alice",
                "/staff/history/nobody"):
        response = staff.get(url)
        assert response.status_code == 404 and "SQLite" not in response.text, url
