"""A submission's source is read exactly as Python reads it: a UTF-8 byte order mark and a PEP 263
coding line are honoured (Python runs both), line numbers stay the student's, and what Python itself
cannot read is refused with the reason and what to do ("save the file as UTF-8"), never "binary".
Empty, oversized and absurdly nested files are named for what they are."""

from __future__ import annotations

import pytest

from grader.judge.grading import grade_submission
from grader.judge.spec import EXAMPLES, load

CORRECT = (EXAMPLES / "correct_vectorised.py").read_text()


def interface(report) -> str:
    return report.tests[0].output


def test_a_file_with_a_utf8_bom_is_graded(tmp_path):
    path = tmp_path / "bom.py"
    path.write_bytes(b"\xef\xbb\xbf" + CORRECT.encode())
    report = grade_submission(path, load())
    assert report.score == 10, interface(report)


def test_a_latin1_file_with_a_coding_line_is_graded_and_quoted_right(tmp_path):
    text = "# -*- coding: latin-1 -*-\n# élève : Zoé\n" + CORRECT + "\nnote = 'résumé' + missing_name\n"
    path = tmp_path / "latin.py"
    path.write_bytes(text.encode("latin-1"))
    report = grade_submission(path, load())
    assert report.score == 10, interface(report)
    line = text.count("\n")  # the failing binding is the last line
    assert f"line {line} (`note = 'résumé' + missing_name`)" in interface(report), interface(report)


def test_line_numbers_of_a_bom_file_are_the_students(tmp_path):
    text = CORRECT.replace("        T = x.shape[0]\n", "        T = x.shape[0]\n        raise ValueError('où')\n", 1)
    line = text.splitlines().index("        raise ValueError('où')") + 1
    path = tmp_path / "bom.py"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    report = grade_submission(path, load())
    forward = {t.name: t.output for t in report.tests}["forward_shape"]
    assert f"ValueError: où (line {line}, in forward" in forward, forward


@pytest.mark.parametrize("data, says", [
    ("x = 1\n".encode("utf-16"), "UTF-16"),
    ("x = 1\n".encode("utf-16-le"), "UTF-16"),
    (b"# coding: ascii\nx = '\xc3\xa9'\n", "not valid ascii"),
    (b"# coding: klingon\nx = 1\n", "coding line"),
    (b"x = '\xff'\n", "not valid utf-8"),
])
def test_what_python_cannot_read_is_refused_with_the_reason(tmp_path, data, says):
    path = tmp_path / "sub.py"
    path.write_bytes(data)
    report = grade_submission(path, load())
    assert report.status == "ungradable" and report.score == 0
    assert says in interface(report) and "save" in interface(report) and "UTF-8" in interface(report)
    assert "binary" not in interface(report)


@pytest.mark.parametrize("text", ["", "\n\n   \n", "# my RNN, to do\n\n# nothing yet\n"])
def test_an_empty_file_is_called_empty(tmp_path, text):
    path = tmp_path / "sub.py"
    path.write_text(text)
    report = grade_submission(path, load())
    assert report.status == "ungradable" and "the file is empty" in interface(report), interface(report)
    assert "defines no" not in interface(report)


def test_a_file_too_large_to_be_a_submission_is_refused_without_running(tmp_path):
    path = tmp_path / "big.py"
    path.write_text(CORRECT + "\nDATA = '" + "a" * (6 * 2**20) + "'\n")
    report = grade_submission(path, load())
    assert report.status == "ungradable" and "too large to grade" in interface(report), interface(report)
    assert "at most 5 MB" in interface(report)


def test_a_file_too_deeply_nested_to_parse_says_so(tmp_path):
    path = tmp_path / "deep.py"
    path.write_text("x = " + "-" * 1_000_000 + "1\n")
    report = grade_submission(path, load())
    assert report.status == "ungradable"
    assert "too large or too deeply nested for Python to parse" in interface(report), interface(report)
