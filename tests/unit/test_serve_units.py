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
    from grader.serve.app import check_upload

    assert check_upload("rnn.PY", b"x = 1\n", 100) == ("", ".py")
    assert "not .txt" in check_upload("rnn.txt", b"x = 1\n", 100)[0]
    assert "larger than" in check_upload("rnn.py", b"#" * 101, 100)[0]
    assert "empty" in check_upload("rnn.py", b"\n \n", 100)[0]
    assert "cannot be read" in check_upload("n.ipynb", b"{", 100)[0]
    assert check_upload("..\\..\\x.ipynb", Path(__file__).parents[2].joinpath(
        "submissions_example", "seed_student.ipynb").read_bytes(), 10**7) == ("", ".ipynb")
