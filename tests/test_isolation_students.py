"""No submission reaches another, nor the grader's own process (issue 26, item 1).

A child is init of a pid namespace of its own below its zygote's (or, without namespaces, seccomp
refuses every call that acts on another pid), and sets every limit it relies on from fixed values: a
student graded first who lowers every limit she can reach changes nothing for the students after her,
in a batch, in `grade serve` and on a Dask worker. A limit the child cannot set is the grader's
`error`, never the student's fault.

Not under `minimal`: there the child is root with no seccomp and no namespace of its own, so it could
do anything to the grader (kill it, as tests/test_isolation.py shows for signals); the report names
the missing layers, and pid 1 would be the machine's own init, which no test should touch.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from grader.course import batch
from grader.judge.grading import grade_submission
from grader.judge.spec import EXAMPLES, Spec, load
from grader.sandbox import isolation
from grader.sandbox.process import Limits, Sandbox
from test_isolation import AVAILABLE, CORRECT, submission

# fixtures: the service's (an app with a one-worker dispatcher) and the cluster's (scheduler, two workers)
from serve_support import service  # noqa: E402,F401,F811
from test_cluster import cluster  # noqa: E402,F401,F811

STOPPERS = ("namespaces", "seccomp")
MUTANT = "mutant_update_sign.py"  # a seed student whose score alone is below full marks
EXPECTATIONS = json.loads((EXAMPLES / "expectations.json").read_text())


def lowering_attack(targets: str) -> str:
    """Top-level code that lowers the memory limits of every process in `targets` (a Python expression)
    it can reach, to where the zygote idles on but its later children fail (a zygote that dies is
    replaced, which would hide the attack); what it reached."""
    return f"""
    import os as _os, resource as _resource

    def _lower():
        reached = []
        for _pid in sorted(set({targets}) - {{0, _os.getpid()}}):
            for _name, _value in (("RLIMIT_AS", 130 << 20), ("RLIMIT_DATA", 130 << 20)):
                try:
                    _resource.prlimit(_pid, getattr(_resource, _name), (_value, _value))
                    reached.append((_pid, _name))
                except (OSError, ValueError):
                    pass
        return reached

    _attempt("lower", _lower)
    """


def attack_for(choice: str) -> str:
    # in a pid namespace, pids are the namespace's: 1 is the zygote's (or the child's own), 2..63 its
    # neighbours'. Outside one, only the child's own parent (the grader), never the machine's processes.
    if "namespaces" in isolation.plan(choice).active:
        return lowering_attack("[1, _os.getppid(), *range(2, 64)]")
    return lowering_attack("[_os.getppid()]")


def class_folder(tmp_path: Path, choice: str) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    attacker = submission(tmp_path, attack_for(choice), name="a_first.py")
    attacker.rename(folder / "a_first.py")
    (folder / "b_seed.py").write_text(seed_student())
    (folder / "c_correct.py").write_bytes(CORRECT.read_bytes())
    return folder


def seed_student() -> str:
    """One bug (a point off), and a constant her forward uses, worked out from a 200 MB table at the
    top level: well within the spec's memory, and what a limit lowered in the zygote would turn into a
    MemoryError (the binding skipped, then a NameError in every forward) blamed on her."""
    return (EXAMPLES / MUTANT).read_text() + textwrap.dedent("""
        import numpy as _np
        _ONE = float(_np.ones(25_000_000).sum()) / 25_000_000
        _forward = RNN.forward
        def _scaled(self, x):
            return _forward(self, x) * _ONE
        RNN.forward = _scaled
        """)


def choices() -> list:
    return [pytest.param(c, id=c) for c in ["full", *[name for name in STOPPERS if name in AVAILABLE]]]


def seed_alone(tmp_path: Path, spec=None) -> float:
    path = tmp_path / "seed_alone.py"
    path.write_text(seed_student())
    return grade_submission(path, spec or load()).score


@pytest.mark.timeout(600)
@pytest.mark.parametrize("choice", choices())
def test_a_student_graded_first_changes_nothing_for_those_after_her_in_a_batch(tmp_path, choice, monkeypatch):
    monkeypatch.setenv("GRADER_ISOLATION", choice)
    alone = seed_alone(tmp_path)
    assert alone < 10
    out = tmp_path / "out"
    batch.grade_folder(class_folder(tmp_path, choice), out, load(), jobs=1, quiet=True)  # one worker, one zygote
    reports = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")
               if p.stem in ("a_first", "b_seed", "c_correct")}
    assert reports["a_first"]["score"] == 10, "the attacker's own code is correct: its attempts cost it nothing"
    assert reports["b_seed"]["score"] == alone and reports["b_seed"]["status"] == "graded", reports["b_seed"]
    assert reports["c_correct"]["score"] == 10, reports["c_correct"]


@pytest.mark.parametrize("choice", choices())
def test_the_attack_reaches_no_process_but_its_own(tmp_path, choice):
    from test_isolation import attempts

    path = submission(tmp_path, attack_for(choice))
    assert attempts(path, choice)["lower"] == "ok: []"


def test_a_limit_the_child_cannot_set_is_the_graders_error_not_the_students(tmp_path, monkeypatch):
    """RLIMIT_AS above what the kernel can hold cannot be set: no student code runs, and the report
    is `error`, worded as the grader's."""
    impossible = Limits(memory_mb=1 << 44)  # 2^64 bytes
    box = Sandbox(str(CORRECT), impossible, CORRECT.name)
    with box:
        failure = box.load({}).failure
    assert failure is not None and failure.kind == "internal" and "RLIMIT_AS" in failure.detail, failure
    monkeypatch.setattr(Spec, "limits", lambda self: impossible)
    report = grade_submission(CORRECT, load())
    assert report.status == "error" and report.score == 0
    assert "not a problem with your code" in " ".join(report.notes)


def test_every_limit_is_set_from_fixed_values_whatever_the_child_inherited(tmp_path):
    """Limits the grader's own process was left with (lowered by anyone) do not reach a child."""
    import resource

    probe = """
    import resource as _resource

    for _name in ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_FSIZE",
                  "RLIMIT_CPU", "RLIMIT_CORE"):
        _attempt(_name, lambda: _resource.getrlimit(getattr(_resource, _name)))
    """
    from test_isolation import attempts

    path = submission(tmp_path, probe)
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (300, saved[1]))  # what the child would have inherited
    try:
        seen = attempts(path, "full")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, saved)
    limits, mib = load().limits(), 1 << 20
    for name, value in (("RLIMIT_AS", limits.memory_mb * mib), ("RLIMIT_DATA", limits.memory_mb * mib),
                        ("RLIMIT_NOFILE", 256), ("RLIMIT_FSIZE", limits.file_mb * mib),
                        ("RLIMIT_CPU", limits.cpu_seconds), ("RLIMIT_CORE", 0)):
        assert seen[name] == f"ok: ({value}, {value})", (name, seen)


# ---------------------------------------------------------------------------- grade serve and Dask

def test_a_student_graded_first_changes_nothing_for_those_after_her_in_grade_serve(service):  # noqa: F811
    from serve_support import client_for, feedback, hand_in, score_on

    app, issued = service
    attacker, seed = client_for(app, issued["alice"]), client_for(app, issued["bob"])
    alone = seed_alone(Path(app.state.service.settings.data))
    attack = submission(Path(app.state.service.settings.data), attack_for("full"), name="attack.py").read_bytes()
    first = hand_in(attacker, "attack.py", attack)
    assert score_on(feedback(attacker, str(first.url))).startswith("10")
    second = hand_in(seed, "rnn.py", seed_student().encode())
    assert score_on(feedback(seed, str(second.url))).startswith(f"{alone:g}"), "the same worker, its zygote unharmed"


def test_a_student_graded_first_changes_nothing_for_those_after_her_on_a_dask_worker(tmp_path, cluster):  # noqa: F811
    from test_cluster import grade_cli

    folder = class_folder(tmp_path, "full")
    for number in range(4):  # enough that both workers grade some after the attacker's
        (folder / f"d_correct_{number}.py").write_text(CORRECT.read_text() + f"\n# student {number}\n")
    spec = load(cluster["spec"])
    alone = seed_alone(tmp_path, spec)
    out = tmp_path / "out"
    proc = grade_cli(folder, "--out", out, "--spec", cluster["spec"], "--cluster", cluster["address"], "--quiet")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    scores = {p.stem: json.loads(p.read_text())["score"] for p in out.glob("*.json")
              if p.stem.startswith(("a_", "b_", "c_", "d_"))}
    assert scores.pop("b_seed") == alone
    assert set(scores.values()) == {10}, scores



# ---------------------------------------------------------------------------- scratch (item 2)

SCRATCH_ATTACK = """
import os as _os

def _fill():
    home, written = _os.environ["HOME"], 0
    for number in range({chunks}):  # 1 MB at a time, 8 MB a file (each file within file_mb)
        with open(_os.path.join(home, f"big{{number // 8}}"), "ab") as fh:
            fh.write(b"\\1" * (1 << 20))
        written += 1
    return written

def _many():
    home = _os.environ["HOME"]
    for number in range({files}):
        open(_os.path.join(home, f"e{{number}}"), "w").close()
    return number + 1

_attempt("bytes", _fill)
_attempt("files", _many)
_BROKEN = _fill()  # raised to the loader: what the student is told
"""


@pytest.fixture(params=["exec", "zygote"])
def started(request):
    """Children exec'd one by one, or forked by a zygote (the batch's), which mounts their tmpfs."""
    from grader.sandbox import zygote as zygotes

    if request.param == "zygote":
        zygotes.use_zygote()
    yield request.param
    zygotes.use_zygote(False)


@pytest.mark.parametrize("choice", ["full", "minimal"])
def test_scratch_is_bounded_in_bytes_and_in_files_and_said_in_words(tmp_path, choice, started, monkeypatch):
    from test_isolation import attempts

    limits = load().limits()
    # over both quotas; under minimal (no quota) not so far over that a test fills the machine's disk
    attack = SCRATCH_ATTACK.format(chunks=limits.scratch_mb + 16, files=limits.scratch_files + 500)
    path = submission(tmp_path, attack)
    results = attempts(path, choice)
    monkeypatch.setenv("GRADER_ISOLATION", choice)
    report = grade_submission(path, load())
    interface = next(t for t in report.tests if t.name == "interface")
    if "scratch" in isolation.plan(choice).active:
        assert results["bytes"] == "refused: OSError: [Errno 28] No space left on device", results
        assert results["files"].startswith("refused: OSError: [Errno 28] No space left on device"), results
        assert (f"your code may write at most {limits.scratch_mb} MB in at most {limits.scratch_files} files"
                in interface.output), interface.output
    else:
        assert results["bytes"] == f"ok: {limits.scratch_mb + 16}" and results["files"] == \
            f"ok: {limits.scratch_files + 500}", results
        assert "scratch" in report.isolation["missing"] and "scratch" in report.isolation_note()
    assert report.score == 10, [(t.name, t.output) for t in report.tests if t.status != "passed"]


def test_a_scratch_tmpfs_is_gone_with_its_child(tmp_path):
    """Nothing of what a child wrote stays in memory or on disk: its tmpfs is detached when it ends."""
    from grader.sandbox import zygote as zygotes

    def scratch_mounts() -> int:
        with open("/proc/self/mountinfo") as fh:  # ours; the zygote's namespace is checked through it
            ours = fh.read().count("grader-scratch")
        zygote = zygotes._child_of(zygotes._zygote.proc.pid) if zygotes._zygote else None
        theirs = 0
        if zygote:
            with open(f"/proc/{zygote}/mountinfo") as fh:
                theirs = fh.read().count("grader-scratch")
        return ours + theirs

    zygotes.use_zygote()
    try:
        path = submission(tmp_path, SCRATCH_ATTACK.format(chunks=8, files=10))
        for _ in range(3):
            grade_submission(path, load())
        assert zygotes._zygote is not None and scratch_mounts() == 0
    finally:
        zygotes.use_zygote(False)
