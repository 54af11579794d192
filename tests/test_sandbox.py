"""The sandbox on its own: how each way a call can end is told apart, quickly, with nothing left over."""

from __future__ import annotations

import os

import numpy as np
import pytest

from grader.sandbox import isolation
from grader.sandbox.process import Limits, Sandbox

SOURCE = '''
import os, sys, time
class M:
    def __init__(self): pass
    def value(self): return {"y": [1.0, 2.0], "a": __import__("numpy").arange(3.0)}
    def hang(self):
        while True: pass
    def fork_then_exit(self):
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
        os._exit(0)
    def talk(self):
        print("x" * 300000)
        os.write(1, b"y" * 300000)
        return 1
'''


@pytest.fixture
def sandbox(tmp_path, request):
    """A loaded child; `indirect` parametrization chooses its isolation layers (GRADER_ISOLATION's)."""
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    plan = isolation.plan(request.param) if hasattr(request, "param") else None
    box = Sandbox(str(path), Limits(call_seconds=1, output_kb=4), "m.py", plan=plan)
    box.start()
    assert box.load({}).reply is not None
    assert box.run([{"do": "new", "cls": "M", "as": "m", "seed": 0}]).failure is None
    yield box
    box.close()


def call(box, method):
    return box.run([{"do": "call", "obj": "m", "method": method}])


def test_values_come_back_as_plain_data(sandbox):
    reply = call(sandbox, "value").reply
    value = reply["results"][0]["ok"]
    assert value["y"] == [1.0, 2.0] and np.array_equal(value["a"], np.arange(3.0))


def test_a_hang_costs_the_call_limit_and_kills_the_child(sandbox):
    exchange = call(sandbox, "hang")
    assert exchange.failure.kind == "timeout" and exchange.failure.step == 0
    assert "did not finish within 1 s" in exchange.failure.detail
    assert not sandbox.alive


# only where the child may fork: seccomp refuses it (tests/test_isolation.py)
@pytest.mark.parametrize("sandbox", ["minimal", "namespaces,landlock"], indirect=True)
def test_an_exit_is_seen_at_once_even_when_a_forked_child_keeps_the_pipes_open(sandbox):
    exchange = call(sandbox, "fork_then_exit")
    # (were the pidfd not watched, the grandchild holding the pipes would make this a timeout)
    assert exchange.failure.kind == "exit" and "exit status 0" in exchange.failure.detail


def test_printed_output_is_capped_and_counted(sandbox):
    assert call(sandbox, "talk").reply["results"][0]["ok"] == 1
    assert len(sandbox.printed) == 4 * 1024
    assert sandbox.printed_bytes + sandbox.child_dropped >= 600000


def test_output_of_a_load_that_fails_is_counted_once(tmp_path):
    from grader.judge.grading import grade_submission
    from grader.judge.spec import load

    spec = load()
    spec.data["limits"]["load_seconds"] = 2
    path = tmp_path / "loud.py"
    path.write_text("import os, signal\n_ = os.write(1, b'z' * 200000)\n"
                    "signal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n")
    report = grade_submission(path, spec)
    assert report.failed[0] == "interface"
    assert report.printed_bytes == 200000


def test_a_grader_that_starts_removes_the_scratch_of_graders_no_longer_alive(tmp_path):
    """A grader killed with kill -9 leaves its folders; the next one removes them by their owner's pid,
    and never a live grader's."""
    import subprocess
    import sys

    from grader.sandbox import scratch

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = tmp_path / f"grader-child-{int(dead.stdout)}-abc"
    (gone / "deep" / "deeper").mkdir(parents=True)
    (gone / "deep" / "deeper" / "file").write_text("left by a killed grader")
    alive = tmp_path / f"grader-cells-{os.getpid()}-def"
    alive.mkdir()
    unrelated = tmp_path / "grader-notes"
    unrelated.mkdir()
    assert scratch.remove_abandoned(str(tmp_path)) == [gone.name]
    assert not gone.exists() and alive.is_dir() and unrelated.is_dir()
    made = scratch.make_folder("child")
    os.rmdir(made)
    assert os.path.basename(made).startswith(f"grader-child-{os.getpid()}-")


def test_a_grader_never_removes_the_scratch_of_a_grader_in_another_pid_namespace(tmp_path):
    """Issue 28, item 10: a grader in another pid namespace (a container, a cluster worker) sharing /tmp
    sees other pids; judging its folders by our /proc removed a live grader's scratch under it, and it
    stopped with a raw FileNotFoundError at scratch.chmod."""
    from grader.sandbox import scratch

    ours = scratch._pid_namespace()
    theirs = tmp_path / f"grader-cells-999999-n{ours + 1}-abc"  # pid 999999 is not ours to judge
    theirs.mkdir()
    dead_here = tmp_path / f"grader-cells-999999-n{ours}-def"
    dead_here.mkdir()
    assert scratch.remove_abandoned(str(tmp_path)) == [dead_here.name]
    assert theirs.is_dir()
    made = scratch.make_folder("child")
    os.rmdir(made)
    assert os.path.basename(made).startswith(f"grader-child-{os.getpid()}-n{ours}-")
