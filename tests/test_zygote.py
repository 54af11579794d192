"""Children forked from a zygote (what batch workers use) grade exactly like exec'd children, and the
zygote's namespace leaves nothing behind."""

from __future__ import annotations

import json
import os
import time

import pytest

from grader.sandbox import isolation
from grader.sandbox import zygote as zygotes
from grader.judge.grading import grade_submission
from grader.judge.spec import EXAMPLES, load

EXPECTATIONS = json.loads((EXAMPLES / "expectations.json").read_text())

pytestmark = pytest.mark.skipif("namespaces" not in isolation.plan().active,
                                reason="the zygote needs the namespaces layer (see `grade doctor`)")


@pytest.fixture
def zygote():
    zygotes.use_zygote()
    yield
    zygotes.use_zygote(False)


@pytest.mark.timeout(300)
def test_every_example_grades_the_same_forked_as_exec_d(zygote):
    spec = load()
    for name, expected in sorted(EXPECTATIONS.items()):
        report = grade_submission(EXAMPLES / name, spec)
        assert sorted(report.failed) == sorted(expected["fails"]), (name, [
            (t.name, t.output) for t in report.tests if t.status != "passed"])
        assert sorted(d.id for d in report.diagnoses) == expected["diagnoses"], name
    assert zygotes._zygote is not None, "the examples were graded by forked children"


def _alive_with(marker: bytes) -> list[int]:
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                if marker in fh.read():
                    with open(f"/proc/{name}/stat", "rb") as st:
                        if st.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                            found.append(int(name))
        except OSError:
            pass
    return found


def test_what_a_submission_starts_ends_with_it(zygote, tmp_path, monkeypatch):
    """Without seccomp a submission can fork; its children (even setsid ones) live in the zygote's
    namespace, and ending the submission kills them before the next one starts."""
    monkeypatch.setenv("GRADER_ISOLATION", "namespaces")
    marker = f"zygote-leftover-{os.getpid()}"
    source = (EXAMPLES / "correct_vectorised.py").read_text() + (
        "\nimport os, time\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        f"        os.execv('/bin/sleep', ['{marker}', '600'])\n")
    path = tmp_path / "forks.py"
    path.write_text(source)
    report = grade_submission(path, load())
    assert report.score == 10
    assert zygotes._zygote is not None and report.isolation["active"] == ["limits", "namespaces"]
    zygote_pid = zygotes._zygote.proc.pid
    assert not _wait_gone(marker.encode())
    zygotes.use_zygote(False)
    assert not _wait_gone(f"{zygote_pid}".encode(), by_pid=True), "the zygote ends when it is no longer wanted"


def _wait_gone(marker: bytes, by_pid: bool = False, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while True:
        if by_pid:
            left = [int(marker)] if os.path.exists(f"/proc/{int(marker)}") else []
        else:
            left = _alive_with(marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
