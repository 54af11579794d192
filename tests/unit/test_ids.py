"""Ids from course platforms' names: safe as file names, never shared, never a name the batch writes."""

from __future__ import annotations

from pathlib import Path

from grader.course import discovery as batch


def test_canvas_names_give_the_students_id_and_file():
    assert batch._from_file_name("doejane_12345_67890_rnn.py") == ("12345", "rnn.py")
    assert batch._from_file_name("doejane_LATE_12345_67890_rnn.ipynb") == ("12345", "rnn.ipynb")
    assert batch._from_file_name("my_rnn.py") == ("my_rnn", "my_rnn.py")


def test_ids_are_safe_unique_and_keep_off_the_batchs_own_names():
    subs = [batch.Submission(id=i, name=f"{i}.py", path=Path(f"{i}.py"))
            for i in ("a b", "A_b", "summary", "SUMMARY", "../x", "")]
    batch._make_ids_unique(subs)
    ids = [s.id for s in subs]
    assert len({i.lower() for i in ids}) == len(ids)
    assert all("/" not in i and " " not in i and i for i in ids)
    assert not {i.lower() for i in ids} & set(batch.RESERVED_IDS)
