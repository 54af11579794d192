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


PROBE = "\ndef probe():\n    return 41 + 1\n"


def _started(path, plan, memory_mb=None):
    from grader.sandbox.process import Sandbox

    limits = load().limits()
    if memory_mb:
        limits = type(limits)(**{**limits.__dict__, "memory_mb": memory_mb})
    box = Sandbox(str(path), limits, path.name, plan=plan)
    box.start()
    return box, box.load({})


def test_ending_a_fresh_child_leaves_the_main_child_and_the_zygote(zygote, tmp_path):
    """A fresh child runs beside the submission's main child: ending it ends only it. (The zygote used to
    kill everything in its namespace at each end, the main child too, and then died of ESRCH when
    asked to end the main child it had already reaped: ~200 ms to start a new one, per fresh child.)"""
    path = tmp_path / "probe.py"
    path.write_text((EXAMPLES / "correct_vectorised.py").read_text() + PROBE)
    plan = isolation.plan()
    main, loaded = _started(path, plan)
    assert loaded.failure is None
    zygote_pid = zygotes._zygote.proc.pid
    fresh, loaded = _started(path, plan)
    assert loaded.failure is None
    fresh.close()
    assert main.alive
    exchange = main.run([{"do": "func", "name": "probe"}])
    assert exchange.failure is None and exchange.reply["results"][0]["ok"] == 42
    main.close()
    again, loaded = _started(path, plan)
    assert loaded.failure is None
    again.close()
    assert zygotes._zygote.proc.pid == zygote_pid, "the zygote survived every end"


@pytest.mark.skipif("memory" not in isolation.plan().active, reason="no memory cgroup here (see `grade doctor`)")
@pytest.mark.timeout(120)
def test_the_memory_limit_holds_for_a_zygotes_children(zygote, tmp_path):
    """A zygote's children are born in its memory cgroup (no per-child move): memory that RLIMIT_AS does
    not count (memfds: seccomp is left out here so that they can be made) still meets the limit, the
    child is reported out of memory, and the next submission from the same zygote is not."""
    plan = isolation.plan("namespaces,memory")
    hog = tmp_path / "hog.py"
    hog.write_text("import os\nheld = []\nif True:  # a block the loader runs (a bare loop is skipped)\n"
                   "    for _ in range(48):\n        fd = os.memfd_create('held')\n"
                   "        os.write(fd, b'\\1' * (16 << 20))\n        held.append(fd)\n")
    box, loaded = _started(hog, plan, memory_mb=512)
    box.close()
    assert loaded.failure is not None and loaded.failure.kind == "crash", loaded
    assert "out of memory" in loaded.failure.detail
    honest = tmp_path / "honest.py"
    honest.write_text((EXAMPLES / "correct_vectorised.py").read_text() + PROBE)
    box, loaded = _started(honest, plan, memory_mb=512)
    try:
        assert loaded.failure is None, loaded.failure
        exchange = box.run([{"do": "func", "name": "probe"}])
        assert exchange.failure is None and exchange.reply["results"][0]["ok"] == 42
    finally:
        box.close()


def test_ending_a_child_that_is_already_gone_does_not_end_the_zygote():
    """kill(-1) from init fails with ESRCH when the only process left is one already exiting (the grader
    SIGKILLs a child just before asking the zygote to end it): the zygote used to die of that, and the
    next submission waited ~200 ms for a new one. Run as init of a pid namespace of its own."""
    import subprocess
    import sys

    script = (
        "import os, signal\n"
        "from grader.child.zygote import _end\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(3)\n"
        "os.waitpid(pid, 0)\n"  # reaped before its end: nothing is left to signal
        "print(_end(pid, set(), {}))\n"
        "other = os.fork()\n"
        "if other == 0:\n"
        "    signal.pause()\n"
        "ended = os.fork()\n"
        "if ended == 0:\n"
        "    os._exit(5)\n"
        "print(_end(ended, {other}, {}) is not None, os.waitpid(other, os.WNOHANG) == (0, 0))\n"  # the other lives
        "os.kill(other, signal.SIGKILL)\n")
    done = subprocess.run(["unshare", "--pid", "--fork", sys.executable, "-c", script], capture_output=True,
                          text=True, timeout=60, cwd=str(EXAMPLES.parent))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["None", "True True"], done.stdout
