"""grade serve's pure parts: a roster's ids name files, so odd ones are refused; a stored file's path is
built from a sha256 and a known suffix only; uploads are checked by type, size and emptiness."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
pytest.importorskip("sqlalchemy", reason="the [serve] extra is part of [test]")


def test_a_roster_with_an_id_that_could_make_a_path_is_refused():
    from grader.serve.tokens import RosterProblem, read_roster

    assert read_roster("id,name\nalice,Alice A.\n42,\n") == [("alice", "Alice A."), ("42", "")]
    for bad in ("../etc", "a/b", ".hidden", "x" * 65, "", "a b", "..", "bob.html"):
        with pytest.raises(RosterProblem, match="roster line 2"):
            read_roster(f"id,name\n{bad},x\n")
    with pytest.raises(RosterProblem, match="column named id"):
        read_roster("student,name\na,b\n")


def test_a_stored_files_path_comes_from_its_sha256_and_a_known_suffix_only(tmp_path):
    from grader.serve.store import file_path, save_bytes

    key = save_bytes(tmp_path, b"x = 1\n", ".py")
    assert file_path(tmp_path, key).read_bytes() == b"x = 1\n"
    assert file_path(tmp_path, key).parent.parent == tmp_path / "files"
    for bad in ("../../etc/passwd", "a" * 64 + ".sh", "g" * 64 + ".py", key.replace(".py", "/../x.py")):
        with pytest.raises(ValueError):
            file_path(tmp_path, bad)
    with pytest.raises(ValueError):
        save_bytes(tmp_path, b"x", ".exe")


def test_uploads_are_checked_by_type_size_and_emptiness():
    pytest.importorskip("fastapi")
    import hashlib

    from grader.serve.uploads import check_body
    from grader.serve.uploads import check_file as check_upload

    assert check_upload("rnn.PY", b"x = 1\n", 100) == ("", ".py")
    assert "not .txt" in check_upload("rnn.txt", b"x = 1\n", 100)[0]
    assert "larger than" in check_upload("rnn.py", b"#" * 101, 100)[0]
    assert "empty" in check_upload("rnn.py", b"\n \n", 100)[0]
    assert "cannot be read" in check_upload("n.ipynb", b"{", 100)[0]
    assert check_upload("..\\..\\x.ipynb", Path(__file__).parents[2].joinpath(
        "submissions_example", "seed_student.ipynb").read_bytes(), 10**7) == ("", ".ipynb")
    form = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../x.py\"\r\n\r\nx = 1\n"
            b"\r\n--b--\r\n")
    checked = check_body(form, "multipart/form-data; boundary=b", 100)
    assert (checked.problem, checked.name, checked.content) == ("", "x.py", b"x = 1\n")
    assert checked.sha256 == hashlib.sha256(b"x = 1\n").hexdigest()
    assert "could not be read" in check_body(b"junk", "multipart/form-data; boundary=b", 100).problem
    assert "Choose a file" in check_body(b"--b--\r\n", "multipart/form-data; boundary=b", 100).problem


def test_a_body_over_the_limit_is_cut_off_and_answered_413():
    """A chunked body has no length to refuse it by: the route sees at most the limit and one chunk."""
    pytest.importorskip("fastapi")
    import asyncio

    from types import SimpleNamespace

    from grader.serve.app import CSP, Guard

    seen, sent = [], []

    async def route(scope, receive, send):  # reads everything it is given, then answers 200
        while True:
            message = await receive()
            seen.append(len(message.get("body", b"")))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    chunks = iter([{"type": "http.request", "body": b"#" * 65536, "more_body": True}] * 1000)

    async def receive():
        return next(chunks)

    async def send(message):
        sent.append(message)

    limit = 100_000
    service = SimpleNamespace(course=SimpleNamespace(upload_bytes=limit), ensure_dispatcher=lambda: None)
    guard = Guard(route, service)
    asyncio.run(guard({"type": "http", "method": "POST", "path": "/submit", "headers": []}, receive, send))
    assert sum(seen) <= guard.limit("/submit") + 65536
    assert sent[0]["status"] == 413 and b"larger than 0.1 MB" in sent[1]["body"]
    assert (b"content-security-policy", CSP.encode()) in sent[0]["headers"]  # on this answer too


def test_the_form_secret_is_kept_private_whole_and_once(tmp_path):
    """Made once, 0600 whatever the umask, the same after a restart; an empty secret.key (a crash between
    creating and writing it, in the version before) is replaced, never used as the key."""
    import os
    import stat

    from grader.serve.service import Service, Settings

    service = Service(Settings(data=tmp_path))
    old = os.umask(0o000)
    try:
        first = service._kept_secret()
    finally:
        os.umask(old)
    assert len(first) >= 32 and stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert Service(Settings(data=tmp_path))._kept_secret() == first
    (tmp_path / "secret.key").write_bytes(b"")
    assert len(Service(Settings(data=tmp_path))._kept_secret()) >= 32
