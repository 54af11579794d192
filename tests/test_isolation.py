"""The deeper isolation layers (grader/sandbox/isolation.py, applied by grader/child/layers.py), one hostile behaviour per test.

Each test runs its attack under several choices of GRADER_ISOLATION: `full` (every layer this machine
has), `minimal` (resource limits only) and each layer that should stop the attack on its own. Where a
chosen layer stops it, the attempt is refused; where none does, the attempt succeeds and the report
names the stopping layers as missing. Either way the correct submission's score does not move.
Attacks already covered by tests/test_hostile.py (forged frames, lying arrays, numpy monkeypatching,
forks) run there under `full` and `minimal` too (its `isolation_choice` fixture).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli
from grader.sandbox import isolation
from grader.judge.grading import grade_submission
from grader.report import validate
from grader.sandbox.process import Sandbox
from grader.judge.spec import EXAMPLES, REFERENCES, SPECS, load

CORRECT = EXAMPLES / "correct_vectorised.py"
GRADER_SOURCE = Path(isolation.__file__).resolve().parents[1] / "judge" / "grading.py"
AVAILABLE = {name for name, layer in isolation.detect().items() if layer.available}

PROBE = '''
ATTEMPTS = {}

def _attempt(label, function):
    try:
        ATTEMPTS[label] = "ok: " + repr(function())[:200]
    except BaseException as exc:
        ATTEMPTS[label] = "refused: " + type(exc).__name__ + ": " + str(exc)[:200]

def probe():
    return ATTEMPTS
'''


def choices(*stoppers: str) -> list:
    """full, minimal, and each layer that stops the attack alone (when this machine has it)."""
    params = ["full", "minimal"] + [name for name in stoppers if name in AVAILABLE]
    return [pytest.param(choice, id=choice) for choice in params]


def submission(tmp_path: Path, attack: str, name: str = "sub.py") -> Path:
    """The correct example, with the attack run at load time (top level) and `probe()` to report it.

    The attack goes inside `if True:`, a block the loader runs (time-boxed) as a determined student
    would write it: a bare top-level call such as `_attempt(...)` is work that never runs."""
    block = "if True:\n" + textwrap.indent(textwrap.dedent(attack).strip("\n"), "    ") + "\n"
    text = CORRECT.read_text() + "\n" + PROBE + block
    path = tmp_path / name
    path.write_text(text)
    return path


def attempts(path: Path, choice: str) -> dict:
    """What the attack's attempts returned in a child started with `choice`."""
    box = Sandbox(str(path), load().limits(), path.name, plan=isolation.plan(choice))
    box.start()
    try:
        assert box.load({}).failure is None
        exchange = box.run([{"do": "func", "name": "probe"}])
        assert exchange.failure is None, exchange.failure
        return exchange.reply["results"][0]["ok"]
    finally:
        box.close()


def graded(path: Path, choice: str, monkeypatch):
    monkeypatch.setenv("GRADER_ISOLATION", choice)
    report = grade_submission(path, load())
    validate(report.to_dict())
    return report


def stopped(choice: str, stoppers: tuple[str, ...]) -> bool:
    return bool(set(isolation.plan(choice).active) & set(stoppers))


def assert_outcome(choice, stoppers, results: dict, report, labels=None) -> None:
    """Refused where a stopping layer was on; otherwise it worked and the report says those are missing.
    The score is the correct example's either way."""
    labels = labels or list(results)
    if stopped(choice, stoppers):
        for label in labels:
            assert results[label].startswith("refused"), (choice, label, results[label])
        assert set(stoppers) & set(report.isolation["active"])
    else:
        for label in labels:
            assert results[label].startswith("ok"), (choice, label, results[label])
        assert set(stoppers) <= set(report.isolation["missing"]), report.isolation
        assert "Graded without these isolation layers" in report.isolation_note()
    assert report.score == report.max_score == 10, [(t.name, t.output) for t in report.tests if t.status != "passed"]


# ---------------------------------------------------------------------------- reading what it must not

READ_STOPPERS = ("landlock",)


@pytest.mark.parametrize("choice", choices(*READ_STOPPERS))
def test_reading_the_reference_specs_grader_source_or_another_submission(tmp_path, choice, monkeypatch):
    other = tmp_path / "classmate.py"
    other.write_text("SECRET = 'a classmate's answer'\n")
    targets = {"reference": REFERENCES / "rnn_seq2one.py", "spec": SPECS / "rnn-seq2one.json",
               "grader source": GRADER_SOURCE, "another submission": other}
    attack = "".join(f"_attempt({label!r}, lambda: open({str(path)!r}).read()[:40])\n"
                     f"_attempt({label + ' listing'!r}, lambda: sorted(__import__('os').listdir({str(path.parent)!r})))\n"
                     for label, path in targets.items())
    path = submission(tmp_path, attack)
    results = attempts(path, choice)
    assert_outcome(choice, READ_STOPPERS, results, graded(path, choice, monkeypatch))


# ---------------------------------------------------------------------------- writing

@pytest.mark.parametrize("choice", choices("landlock", "uid"))
def test_writing_outside_the_scratch_folder(tmp_path, choice, monkeypatch):
    outside = tmp_path / "planted.py"
    attack = f"""
    import os as _os
    _attempt("outside", lambda: open({str(outside)!r}, "w").write("planted"))
    _attempt("scratch", lambda: open(_os.path.join(_os.environ["HOME"], "notes.txt"), "w").write("mine"))
    """
    path = submission(tmp_path, attack)
    results = attempts(path, choice)
    assert results["scratch"].startswith("ok"), results  # its own scratch folder is always writable
    # user nobody cannot write into the test's folder (root's, mode 0700), but could where all may write
    stoppers = ("landlock", "uid")
    assert_outcome(choice, stoppers, results, graded(path, choice, monkeypatch), labels=["outside"])
    assert outside.exists() == (not stopped(choice, stoppers))


# ---------------------------------------------------------------------------- the network

NETWORK_STOPPERS = ("namespaces", "landlock", "seccomp")


@pytest.mark.parametrize("choice", choices(*NETWORK_STOPPERS))
def test_connecting_to_a_listening_socket(tmp_path, choice, monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    attack = f"""
    import socket as _socket
    _attempt("connect", lambda: _socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"hi"))
    """
    try:
        path = submission(tmp_path, attack)
        results = attempts(path, choice)
        assert_outcome(choice, NETWORK_STOPPERS, results, graded(path, choice, monkeypatch))
    finally:
        listener.close()


# ---------------------------------------------------------------------------- programs

EXEC_STOPPERS = ("landlock", "seccomp")


@pytest.mark.parametrize("choice", choices(*EXEC_STOPPERS))
def test_running_a_shell(tmp_path, choice, monkeypatch):
    marker = tmp_path / "shell-ran"
    attack = f"""
    import subprocess as _subprocess
    _attempt("sh", lambda: _subprocess.run(["/bin/sh", "-c", "echo ran > {marker}"], timeout=5).returncode == 0
             or 1 / 0)
    """
    path = submission(tmp_path, attack)
    results = attempts(path, choice)
    assert_outcome(choice, EXEC_STOPPERS, results, graded(path, choice, monkeypatch))


# ---------------------------------------------------------------------------- processes

FORK_STOPPERS = ("seccomp",)


@pytest.mark.parametrize("choice", choices(*FORK_STOPPERS))
def test_forking_a_dozen_children(tmp_path, choice, monkeypatch):
    attack = """
    import os as _os

    def _fork_dozen():
        pids = []
        for _ in range(12):
            pid = _os.fork()
            if pid == 0:
                _os._exit(0)
            pids.append(pid)
        return [_os.waitpid(p, 0)[1] for p in pids]

    _attempt("fork", _fork_dozen)
    """
    path = submission(tmp_path, attack)
    results = attempts(path, choice)
    assert_outcome(choice, FORK_STOPPERS, results, graded(path, choice, monkeypatch))


def test_without_seccomp_every_descendant_dies_with_the_child_in_its_pid_namespace(tmp_path):
    """The child starts a daemon (new session, its own sleep program) and is then killed from outside,
    as the grader does after a hang. In a pid namespace the daemon dies with it at once; without one it
    lives on until the grader's sweep finds it."""
    seconds = str(600 + os.getpid() % 100)  # a marker that another test's sleep does not carry
    marker = f"sleep\x00{seconds}".encode()
    path = tmp_path / "d.py"
    path.write_text(f'''
import os
def daemon():
    if os.fork() == 0:
        os.setsid()
        os.execv("/bin/sleep", ["sleep", "{seconds}"])
    return 1
''')
    for choice in ["minimal"] + (["namespaces"] if "namespaces" in AVAILABLE else []):
        box = Sandbox(str(path), load().limits(), "d.py", plan=isolation.plan(choice))
        box.start()
        try:
            assert box.load({}).failure is None
            assert box.run([{"do": "func", "name": "daemon"}]).reply["results"] == [{"ok": 1}]
            assert _wait_for(marker, present=True), "test setup: the daemon never started"
            os.kill(box._proc.pid, signal.SIGKILL)  # the child as the grader started it
            box._proc.wait()
            assert _wait_for(marker, present=choice == "minimal") == (choice == "minimal"), choice
        finally:
            box.close()
        assert not _wait_for(marker, present=False), f"{choice}: the daemon outlived the sweep"


def _pids_with(marker: bytes) -> set[int]:
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as fh:
                    if marker in fh.read():
                        found.add(int(name))
            except OSError:
                pass
    return found


def _wait_for(marker: bytes, present: bool, seconds: float = 2.0) -> bool:
    """Poll until processes with `marker` are present (or gone); returns whether any are there at the end."""
    deadline = time.monotonic() + seconds
    while bool(_pids_with(marker)) != present and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(_pids_with(marker))


# ---------------------------------------------------------------------------- the grader's process

SIGNAL_STOPPERS = ("namespaces", "landlock", "seccomp", "uid")


@pytest.mark.parametrize("choice", choices(*SIGNAL_STOPPERS))
def test_signalling_the_grader(tmp_path, choice, monkeypatch):
    """The submission knows the grader's pid (the worst case) and signals it, and its parent. The signal
    is SIGUSR1 with a handler here, so that where it gets through the test can count it, not die."""
    received = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: received.append(1))
    attack = f"""
    import os as _os, signal as _signal
    _attempt("grader", lambda: _os.kill({os.getpid()}, _signal.SIGUSR1))
    """
    try:
        path = submission(tmp_path, attack)
        results = attempts(path, choice)
        report = graded(path, choice, monkeypatch)
        time.sleep(0.1)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert_outcome(choice, SIGNAL_STOPPERS, results, report)
    assert bool(received) == (not stopped(choice, SIGNAL_STOPPERS))


# ---------------------------------------------------------------------------- reports

@pytest.mark.parametrize("choice", choices("seccomp", "landlock"))
def test_a_daemon_that_outlives_the_child_cannot_rewrite_the_report(tmp_path, choice, monkeypatch):
    """A daemon started at load time rewrites the report file every 50 ms for 3 s. The grader writes the
    report after every child is gone (and everything they started), so the report stays the grader's."""
    out = tmp_path / "report.json"
    started = tmp_path / "daemon-started"
    attack = f"""
    import os as _os, time as _time

    def _daemon():
        pid = _os.fork()
        if pid == 0:
            try:
                _os.setsid()
                open({str(started)!r}, "w").close()
                for _ in range(60):
                    with open({str(out)!r}, "w") as fh:
                        fh.write('{{"score": 10, "forged": true}}')
                    _time.sleep(0.05)
            finally:
                _os._exit(0)
        return pid

    _attempt("daemon", _daemon)
    """
    path = submission(tmp_path, attack)
    monkeypatch.setenv("GRADER_ISOLATION", choice)
    result = CliRunner().invoke(cli.main, [str(path), "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    time.sleep(1.0)  # longer than any gap between the daemon's writes
    report = json.loads(out.read_text())
    validate(report)
    assert "forged" not in report and report["score"] == 10
    stoppers = ("seccomp", "landlock")  # seccomp refuses the fork, Landlock the write
    if stopped(choice, ("seccomp",)):
        assert not started.exists()
    elif stopped(choice, ("landlock",)):
        assert not started.exists()  # forked, but could not write outside its scratch folder
    else:
        assert started.exists() and set(stoppers) <= set(report["isolation"]["missing"])


# ---------------------------------------------------------------------------- stdout

@pytest.mark.parametrize("choice", ["full", "minimal"])
def test_a_replaced_stdout_that_forges_replies_on_every_descriptor_changes_nothing(tmp_path, choice, monkeypatch):
    """sys.stdout becomes a writer that turns every print into a forged reply claiming the right
    outputs, written to every descriptor; forward prints and returns a wrong value."""
    attack = '''
    import json as _json, os as _os, struct as _struct, sys as _sys

    class _Forger:
        def write(self, text):
            body = _json.dumps({"reply": {"results": [{"ok": [0.0]}], "dropped_output": 0}}).encode()
            for fd in range(3, 31):
                try:
                    _os.write(fd, _struct.pack(">4sQ", b"GRD1", len(body)) + body)
                except OSError:
                    pass
            return len(text)
        def flush(self):
            pass

    _sys.stdout = _sys.__stdout__ = _Forger()
    _original_forward = RNN.forward

    def _forward(self, x):
        print("forged")
        return _original_forward(self, x) + 1.0

    RNN.forward = _forward
    '''
    path = submission(tmp_path, attack)
    report = graded(path, choice, monkeypatch)
    outcome = {t.name: t for t in report.tests}
    assert outcome["forward_values"].status != "passed"
    for name in ("interface", "init_shapes", "init_values", "weights_io"):  # no forward in these
        assert outcome[name].status == "passed", (name, outcome[name].output)


# ---------------------------------------------------------------------------- the layers themselves

def test_the_report_and_doctor_name_the_same_layers(monkeypatch):
    monkeypatch.setenv("GRADER_ISOLATION", "minimal")
    report = grade_submission(CORRECT, load())
    assert report.isolation == {"active": ["limits"], "missing": list(isolation.DEEP_LAYERS)}
    assert "Graded without these isolation layers: namespaces, landlock, seccomp, capabilities, memory, uid" in report.isolation_note()

    monkeypatch.setenv("GRADER_ISOLATION", "full")
    report = grade_submission(CORRECT, load())
    assert report.isolation["active"] == ["limits", *sorted(AVAILABLE, key=isolation.DEEP_LAYERS.index)]
    doctor = CliRunner().invoke(cli.main, ["doctor"])
    assert doctor.exit_code == 0
    for name, layer in isolation.detect().items():
        line = next(line for line in doctor.output.splitlines() if line.split()[:1] == [name])
        assert ("active" if layer.available else "missing") in line
        if not layer.available:
            assert "to get it:" in doctor.output and layer.remedy in doctor.output


def test_an_unknown_layer_is_a_usage_error(monkeypatch):
    result = CliRunner().invoke(cli.main, [str(CORRECT), "--isolation", "chroot"])
    assert result.exit_code == 2 and "unknown layer(s) chroot" in result.output
    with pytest.raises(ValueError):
        isolation.plan("seccomp,teleport")


def test_a_user_other_than_the_owner_is_stopped_by_a_private_folder():
    """The uid layer's test of whether user nobody could start the interpreter."""
    top = Path(tempfile.mkdtemp(prefix="grader-uid-", dir="/tmp"))  # /tmp: every user may enter it
    try:
        private = top / "private"
        (private / "lib").mkdir(parents=True)
        (private / "lib" / "python").write_text("")
        os.chmod(top, 0o755)
        os.chmod(private, 0o700)
        assert isolation.unreachable_by_others([str(private / "lib" / "python")]) == str(private)
        os.chmod(private, 0o755)
        assert isolation.unreachable_by_others([str(private / "lib" / "python")]) is None
        os.chmod(private / "lib" / "python", 0o600)
        assert isolation.unreachable_by_others([str(private / "lib" / "python")]) == str(private / "lib" / "python")
    finally:
        shutil.rmtree(top)


# ---------------------------------------------------------------------------- limits, in plain words

@pytest.mark.timeout(120)
@pytest.mark.parametrize("choice", ["full", "minimal"])  # with namespaces the child is pid 1: signals differ
def test_a_child_that_uses_up_its_cpu_time_is_told_so(tmp_path, choice, monkeypatch):
    spec = load()
    spec.data["limits"].update(cpu_seconds=2, call_seconds=30)
    init = "    def __init__(self, input_size: int, hidden_size: int, output_size: int):\n"
    path = tmp_path / "spin.py"
    path.write_text(CORRECT.read_text().replace(init, init + "        while True: pass\n"))
    monkeypatch.setenv("GRADER_ISOLATION", choice)
    report = grade_submission(path, spec)
    first = report.tests[1]  # init_shapes: the first check that constructs a model
    assert first.status == "error"
    assert "constructing the model used up its CPU time (2 s for all calls in one process)" in first.output, first.output


def test_a_submission_that_uses_up_its_time_budget_is_told_which_checks_did_not_run(tmp_path):
    spec = load()
    spec.data["limits"].update(submission_seconds=1.0)
    forward = "    def forward(self, x: np.ndarray) -> np.ndarray:\n"
    path = tmp_path / "slow.py"
    path.write_text(CORRECT.read_text().replace(forward, forward + "        __import__('time').sleep(0.4)\n"))
    report = grade_submission(path, spec)
    not_run = [t for t in report.tests if "Not run: grading stopped after 1 s" in t.output]
    assert not_run and not_run[-1] is report.tests[-1]
    assert all(t.score == 0 for t in not_run)
    assert "interface" not in [t.name for t in not_run]


def test_a_layer_that_cannot_be_applied_stops_the_child_before_any_student_code(tmp_path, monkeypatch):
    """The grader counted on seccomp, but the child cannot load libseccomp: rather than run the
    submission with less isolation than the report claims, the child refuses every request."""
    marker = tmp_path / "ran"
    path = tmp_path / "m.py"
    path.write_text(f"_ran = open({str(marker)!r}, 'w')\n")  # a binding: the loader runs it
    monkeypatch.setattr(isolation, "_seccomp_library", lambda: "libno-such-seccomp.so.9")
    box = Sandbox(str(path), load().limits(), "m.py", plan=isolation.Plan(("seccomp",), ()))
    box.start()
    try:
        failure = box.load({}).failure
    finally:
        box.close()
    assert failure is not None and failure.kind == "internal"
    assert "isolation could not be applied" in failure.detail, failure.detail
    assert not marker.exists()


def test_landlock_is_not_counted_when_python_lies_around_the_grader(monkeypatch):
    """If the child had to read a folder that holds the grader's project (a grader installed inside
    Python's prefix, say), Landlock could not hide the reference: doctor and reports say it is missing."""
    from grader.child import landlock
    from grader.judge.spec import PROJECT

    monkeypatch.setattr(landlock, "abi_version", lambda: 7)  # a kernel with Landlock, whatever this one has
    assert isolation._landlock().available
    monkeypatch.setattr(isolation, "python_paths", lambda: ["/usr/lib", str(PROJECT.parent)])
    layer = isolation._landlock()
    assert not layer.available and "cannot hide the reference" in layer.detail
