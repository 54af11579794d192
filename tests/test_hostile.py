"""Hostile submissions (README, "Isolation"): each test takes the correct vectorised example, injects one hostile
change, grades it through `grade_submission` (or the bare sandbox, for channel questions) and checks that
the change costs exactly the checks that needed the hostile call, that nothing the submission does reaches
the grader's process, and that nothing it started is left running."""

from __future__ import annotations

import json
import os
import pickle
import resource
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from grader.judge.grading import grade_submission
from grader.report import validate
from grader.sandbox.process import Sandbox
from grader.judge.spec import EXAMPLES, load

CORRECT = EXAMPLES / "correct_vectorised.py"

GRADIENTS = ["gradient_d_W", "gradient_d_R", "gradient_d_V", "gradient_d_bs", "gradient_d_by"]
ALL_CHECKS = ["interface", "init_shapes", "init_values", "forward_shape", "forward_values", *GRADIENTS,
              "update", "weights_io", "numerical_gradient"]
# every check whose steps call forward (directly, or through the student's numerical gradient)
FORWARD_USERS = {"forward_shape", "forward_values", *GRADIENTS, "update", "numerical_gradient"}

DEF_LINES = {
    "forward": "    def forward(self, x: np.ndarray) -> np.ndarray:\n",
    "backward": "    def backward(self, d_loss: np.ndarray) -> Dict:\n",
    "update": "    def update(self, lr: float):\n",
    "set_weights": "    def set_weights(self, weights: Dict):\n",
}
FORWARD_RETURN = "        return a[T] @ self.V + self.by\n"
NUMPY_IMPORT = "import numpy as np\n"


# ---------------------------------------------------------------------------- helpers

def fast_spec(call_seconds: float = 1.5, load_seconds: float = 6.0, statement_seconds: float = 3.0):
    """Our own copy of the default spec, with limits shrunk so that hangs are cheap."""
    spec = load()
    spec.data["limits"].update(call_seconds=call_seconds, load_seconds=load_seconds,
                               statement_seconds=statement_seconds)
    return spec


def write_submission(tmp_path: Path, *replacements: tuple[str, str], top: str = "", name: str = "sub.py",
                     source: str | None = None) -> Path:
    """The correct example with exact `old -> new` replacements and `top` inserted after `import numpy`.

    `top` goes inside `if True:`, a block the loader runs (time-boxed) as a determined student would
    write it: a bare call or loop at the top level is work that never runs."""
    text = CORRECT.read_text() if source is None else source
    for old, new in replacements:
        assert text.count(old) == 1, f"test setup: {old!r} is not in the correct example exactly once"
        text = text.replace(old, new)
    if top:
        assert NUMPY_IMPORT in text
        block = "if True:\n" + textwrap.indent(textwrap.dedent(top).strip("\n"), "    ") + "\n"
        text = text.replace(NUMPY_IMPORT, NUMPY_IMPORT + block, 1)
    path = tmp_path / name
    path.write_text(text)
    return path


def at_start_of(method: str, code: str) -> tuple[str, str]:
    """A replacement that runs `code` as the first statements of RNN.<method>."""
    body = textwrap.indent(textwrap.dedent(code).strip("\n"), " " * 8) + "\n"
    return DEF_LINES[method], DEF_LINES[method] + body


def by_name(report) -> dict:
    return {t.name: t for t in report.tests}


def cmdlines() -> dict[int, bytes]:
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as fh:
                    found[int(name)] = fh.read()
            except OSError:
                pass
    return found


def pids_with(marker: bytes) -> set[int]:
    return {pid for pid, cmd in cmdlines().items() if marker in cmd}


def wait_until_gone(marker: bytes, seconds: float = 2.0, ignore: set[int] = frozenset()) -> set[int]:
    """Poll until no process (other than `ignore`) has `marker` in its cmdline; return what is left."""
    deadline = time.monotonic() + seconds
    while True:
        left = pids_with(marker) - set(ignore)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def assert_sane(report) -> None:
    """The report is well-formed, and no check blames the grader for what the submission did."""
    validate(report.to_dict())
    assert [t.name for t in report.tests] == ALL_CHECKS
    for t in report.tests:
        assert "grader itself failed" not in t.output, (t.name, t.output)


# This interpreter's children only: other checkouts on the same machine run grader.child too.
OUR_CHILD = os.fsencode(sys.executable) + b"\0-I\0-m\0grader.child"


@pytest.fixture(params=["full", "minimal"])
def isolation_choice(request, monkeypatch):
    """Run a test with every isolation layer this machine has, and with resource limits only: what it
    asserts must hold either way (tests/test_isolation.py covers what only the deeper layers stop)."""
    monkeypatch.setenv("GRADER_ISOLATION", request.param)
    return request.param


@pytest.fixture(autouse=True)
def no_child_left_behind():
    """After every test, no grader.child process that appeared during it is still running."""
    before = pids_with(OUR_CHILD)
    yield
    left = wait_until_gone(OUR_CHILD, 2.0, ignore=before)
    assert not left, f"grader.child processes left running: {sorted(left)}"


# ---------------------------------------------------------------------------- 1. hang

@pytest.mark.timeout(120)
def test_hang_in_forward_costs_exactly_the_checks_that_call_forward_and_one_limit_each(tmp_path):
    spec = fast_spec(call_seconds=1.5)
    path = write_submission(tmp_path, at_start_of("forward", "while True:\n    pass"))
    report = grade_submission(path, spec)

    assert set(report.failed) == FORWARD_USERS
    assert len(report.failed) == len(FORWARD_USERS)
    out = by_name(report)
    for name in FORWARD_USERS:
        assert out[name].status != "passed"
        assert "did not finish within 1.5 s" in out[name].output, (name, out[name].output)
    for name in set(ALL_CHECKS) - FORWARD_USERS:
        assert out[name].status == "passed", (name, out[name].output)
    assert_sane(report)
    # one limit per check that hits the hang, not one per probe (bench/bench_speed.py times it)


# ---------------------------------------------------------------------------- 2. os._exit

def test_os_exit_in_backward_costs_the_gradient_checks_and_update_only(tmp_path):
    spec = fast_spec()
    path = write_submission(tmp_path, at_start_of("backward", "import os\nos._exit(0)"))
    report = grade_submission(path, spec)

    assert sorted(report.failed) == sorted(GRADIENTS + ["update"])
    out = by_name(report)
    for name in GRADIENTS + ["update"]:
        assert out[name].status != "passed" and out[name].score == 0
        assert "ended the process" in out[name].output, (name, out[name].output)
        assert "backward()" in out[name].output, (name, out[name].output)
    assert report.score == report.max_score - sum(out[n].max_score for n in GRADIENTS + ["update"])
    assert_sane(report)


# ---------------------------------------------------------------------------- 3. sys.exit

def test_sys_exit_in_forward_is_a_raised_system_exit_never_a_pass(tmp_path):
    spec = fast_spec()
    path = write_submission(tmp_path, at_start_of("forward", "import sys\nsys.exit(0)"))
    report = grade_submission(path, spec)

    assert set(report.failed) == FORWARD_USERS
    out = by_name(report)
    for name in FORWARD_USERS:
        assert out[name].status in ("error", "failed")
        assert "SystemExit" in out[name].output, (name, out[name].output)
    for name in set(ALL_CHECKS) - FORWARD_USERS:
        assert out[name].status == "passed", (name, out[name].output)
    assert_sane(report)


# ---------------------------------------------------------------------------- 4. segfault

def test_segfault_in_set_weights_costs_only_weights_io(tmp_path):
    spec = fast_spec()
    path = write_submission(tmp_path, at_start_of("set_weights", "import ctypes\nctypes.string_at(0)"))
    report = grade_submission(path, spec)

    assert report.failed == ["weights_io"]
    weights_io = by_name(report)["weights_io"]
    assert weights_io.status != "passed"
    assert "segmentation fault" in weights_io.output, weights_io.output
    assert "set_weights()" in weights_io.output
    assert report.score == report.max_score - weights_io.max_score
    assert_sane(report)


def test_a_crash_in_one_configuration_is_blamed_on_that_configuration(tmp_path):
    """A check sends all its configurations in one round trip; when the child dies in one of them,
    the configurations before it are graded again on their own and the failure names the one that
    crashed (hidden size 3 here), not the first or the last."""
    spec = fast_spec()
    path = write_submission(tmp_path, at_start_of("forward", "if self.hidden_size == 3:\n"
                                                             "    import ctypes\n"
                                                             "    ctypes.string_at(0)"))
    report = grade_submission(path, spec)
    forward_shape = by_name(report)["forward_shape"]
    assert forward_shape.status != "passed"
    assert "hidden_size=3" in forward_shape.output and "segmentation fault" in forward_shape.output, \
        forward_shape.output
    assert "init_shapes" not in report.failed and "weights_io" not in report.failed
    assert_sane(report)


# ---------------------------------------------------------------------------- 5. output flood

@pytest.mark.timeout(120)
def test_output_flood_is_dropped_told_and_not_held_against_the_student(tmp_path):
    spec = fast_spec()
    path = write_submission(
        tmp_path, at_start_of("forward", "print('p' * (1 << 20))"),
        top="""
        import os as _os
        _os.write(1, b"F" * (100 * 1024 * 1024))
        """)
    report = grade_submission(path, spec)

    assert report.failed == [], [(t.name, t.output) for t in report.tests if t.status != "passed"]
    assert report.score == report.max_score == 10
    assert report.printed_bytes >= 100 * 1024 * 1024
    summary = report.summary()
    assert "dropped" in summary and "does not affect the score" in summary, summary
    assert len(summary) < 2000
    assert report.to_dict()["printed_bytes"] == report.printed_bytes
    assert_sane(report)


# ---------------------------------------------------------------------------- 6. memory hog

def test_memory_hog_in_update_costs_only_update_and_never_the_grader(tmp_path):
    spec = fast_spec()
    path = write_submission(tmp_path, at_start_of("update", "_hog = np.ones(3 * 2**27)  # 3 GiB"))
    grader_peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    report = grade_submission(path, spec)
    grader_peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    assert report.failed == ["update"]
    update = by_name(report)["update"]
    assert "memory" in update.output.lower(), update.output
    assert update.status != "passed" and update.score == 0
    # the 3 GiB never landed in the grader's process, which still works
    assert grader_peak_after - grader_peak_before < 512 * 1024
    assert float(np.ones(1000).sum()) == 1000.0
    assert_sane(report)


# ---------------------------------------------------------------------------- 7. forks that escape

FORK_CHILDREN = """
import os as _os
for _n in range(12):
    if _os.fork() == 0:
        try:
            _os.setsid()
            _os.execv("/bin/sleep", ["sleep", "613"])
        finally:
            _os._exit(1)
"""

FORK_DAEMONS = """
import os as _os
for _n in range(3):
    _pid = _os.fork()
    if _pid == 0:
        try:
            _os.setsid()
            if _os.fork() == 0:
                _os.execv("/bin/sleep", ["sleep", "614"])
        finally:
            _os._exit(0)
    _os.waitpid(_pid, 0)
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("top, marker", [(FORK_CHILDREN, b"sleep\x00613"), (FORK_DAEMONS, b"sleep\x00614")],
                         ids=["setsid_children", "double_fork_daemons"])
@pytest.mark.usefixtures("isolation_choice")
def test_processes_started_by_the_submission_do_not_outlive_grading(tmp_path, top, marker):
    assert os.path.exists("/bin/sleep")
    assert not pids_with(marker), "test setup: a marker process from an earlier run is still alive"
    spec = fast_spec()
    path = write_submission(tmp_path, top=top)

    seen: set[int] = set()
    result: dict = {}

    def grade():
        try:
            result["report"] = grade_submission(path, spec)
        except BaseException as exc:  # reported by the assertion below
            result["error"] = exc

    worker = threading.Thread(target=grade)
    worker.start()
    while worker.is_alive():
        seen |= pids_with(marker)
        time.sleep(0.01)
    worker.join()
    assert "error" not in result, result.get("error")
    report = result["report"]

    left = wait_until_gone(marker, 2.0)
    assert not left, f"processes started by the submission survived grading: {sorted(left)}"
    # the forks really happened (or, under a stricter sandbox, were refused and reported as skipped)
    interface = by_name(report)["interface"].output
    assert seen or "skipped" in interface, "the submission's processes were never seen running"
    assert report.score == report.max_score == 10, [(t.name, t.output) for t in report.tests if t.status != "passed"]
    assert_sane(report)


# ---------------------------------------------------------------------------- 8. numpy monkeypatching

NUMPY_NAMES = ["allclose", "isclose", "array_equal", "abs", "absolute", "max", "amax", "isfinite", "subtract"]


@pytest.mark.usefixtures("isolation_choice")
def test_monkeypatching_numpy_in_the_submission_reaches_neither_the_checks_nor_the_grader(tmp_path):
    originals = {name: getattr(np, name) for name in NUMPY_NAMES}
    testing_originals = (np.testing.assert_allclose, np.testing.assert_array_almost_equal, np.linalg.norm)
    spec = fast_spec()
    path = write_submission(
        tmp_path, (FORWARD_RETURN, "        return np.zeros(self.output_size)  # wrong, right shape\n"),
        top="""
        np.allclose = lambda *a, **k: True
        np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
        np.array_equal = lambda *a, **k: True
        np.testing.assert_allclose = lambda *a, **k: None
        np.testing.assert_array_almost_equal = lambda *a, **k: None
        np.abs = np.absolute = lambda x, *a, **k: np.zeros(np.shape(x))
        np.max = np.amax = lambda x, *a, **k: 0.0
        np.isfinite = lambda x, *a, **k: np.ones(np.shape(x), dtype=bool)
        np.subtract = lambda a, b, *r, **k: np.zeros(np.broadcast(a, b).shape)
        np.linalg.norm = lambda *a, **k: 0.0
        """)
    report = grade_submission(path, spec)

    out = by_name(report)
    assert "forward_values" in report.failed
    assert "wrong" in out["forward_values"].output, out["forward_values"].output
    assert out["forward_shape"].status == "passed"
    assert out["init_shapes"].status == "passed" and out["weights_io"].status == "passed"
    assert_sane(report)
    # the grader's own numpy is untouched
    assert {name: getattr(np, name) for name in NUMPY_NAMES} == originals
    assert (np.testing.assert_allclose, np.testing.assert_array_almost_equal, np.linalg.norm) == testing_originals
    assert np.allclose(1, 2) is False
    assert not np.isclose(1, 2)
    assert not np.array_equal([1], [2])
    assert np.max([1, 3]) == 3 and np.abs(-2) == 2 and not np.isfinite(np.nan)
    assert np.subtract(3, 1) == 2 and np.linalg.norm([3.0, 4.0]) == 5.0
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(1, 2)


# ---------------------------------------------------------------------------- 9. lying objects

EVIL_CLASS = '''
class _Evil(object):
    """Harmless until unpickled: then it writes a marker file."""
    def __reduce__(self):
        return (exec, ("open(%r, 'w').write('unpickled')" % _MARKER,))
    def __repr__(self):
        raise RuntimeError("no repr for you")
    def __eq__(self, other):
        return True
    def __array__(self, *a, **k):
        raise RuntimeError("not an array")
'''

LIAR_CLASS = '''
class _Liar(np.ndarray):
    """An array that claims to equal anything and hides its values from arithmetic."""
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __sub__(self, other):
        return np.zeros(self.shape)
    def __rsub__(self, other):
        return np.zeros(self.shape)
    def __abs__(self):
        return np.zeros(self.shape)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.shape(inputs[0]))
    def __array_function__(self, func, types, args, kwargs):
        return True
'''


@pytest.mark.usefixtures("isolation_choice")
def test_lying_arrays_and_objects_that_run_code_when_unpickled_earn_nothing(tmp_path):
    marker = tmp_path / "unpickled.marker"
    # the trap is real: unpickling one of these objects writes the marker
    sanity = tmp_path / "sanity.marker"
    namespace = {"_MARKER": str(sanity)}
    exec(EVIL_CLASS, namespace)
    pickle.loads(pickle.dumps(namespace["_Evil"]()))
    assert sanity.exists()

    spec = fast_spec()
    backward_return = "        self.grads = {'d_W': d_W, 'd_R': d_R, 'd_V': d_V, 'd_bs': d_bs, 'd_by': d_by}\n" \
                      "        return self.grads\n"
    path = write_submission(
        tmp_path,
        (FORWARD_RETURN, "        return (a[T] @ self.V + self.by + 1.0).view(_Liar)  # wrong values\n"),
        (backward_return, backward_return.replace(
            "        return self.grads\n", "        return {k: _Evil() for k in self.grads}\n")),
        top=f"_MARKER = {str(marker)!r}\n" + EVIL_CLASS + LIAR_CLASS)
    report = grade_submission(path, spec)

    out = by_name(report)
    assert not marker.exists(), "an object from the submission was unpickled in the grader"
    assert out["forward_values"].status == "failed", out["forward_values"].output
    assert out["forward_shape"].status == "passed"
    for name in GRADIENTS:
        assert out[name].status == "failed", (name, out[name].output)
        assert "expected an array" in out[name].output, (name, out[name].output)
    assert out["update"].status != "passed"
    assert report.score <= report.max_score - 1.5 - 2.5 - 1.0
    assert_sane(report)


# ---------------------------------------------------------------------------- 10. channel forgery

FORGER = '''
import base64 as _b64, json as _json, os as _os, struct as _struct
_MODE = {mode!r}

def _frame(message):
    body = _json.dumps(message, separators=(",", ":")).encode("utf-8")
    return _struct.pack(">4sQ", b"GRD1", len(body)) + body

def _forge(y):
    """Claim, on every descriptor, that this call returned the correct y; then make trouble."""
    if _MODE == "honest":
        return
    y = np.ascontiguousarray(y, dtype=np.float64)
    array = {{"__ndarray__": {{"dtype": y.dtype.str, "shape": list(y.shape),
                              "data": _b64.b64encode(y.tobytes()).decode("ascii"), "scalar": False}}}}
    forged = _frame({{"reply": {{"results": [{{"ok": array}}], "dropped_output": 0}}}})
    for fd in range(31):
        try:
            _os.write(fd, forged)
        except OSError:
            pass
    if _MODE == "forge_then_exit":
        _os._exit(0)
    junk = b"\\x00\\xffJUNK-GRD1" * 400
    for fd in range(31):
        try:
            _os.write(fd, junk)
        except OSError:
            pass
'''


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["forge_and_junk", "forge_then_exit"])
@pytest.mark.usefixtures("isolation_choice")
def test_forged_frames_on_every_descriptor_never_raise_the_score(tmp_path, mode):
    """forward computes the right y, claims it in a forged reply frame, and returns y + 1 (wrong)."""
    spec = fast_spec()
    wrong_forward = (FORWARD_RETURN, "        _y = a[T] @ self.V + self.by\n"
                                     "        _forge(_y)\n"
                                     "        return _y + 1.0\n")
    honest = grade_submission(write_submission(tmp_path, wrong_forward, top=FORGER.format(mode="honest"),
                                               name="honest.py"), spec)
    assert "forward_values" in honest.failed  # sanity: the honest version of this forward is wrong

    report = grade_submission(write_submission(tmp_path, wrong_forward, top=FORGER.format(mode=mode),
                                               name="forger.py"), spec)
    out = by_name(report)
    assert out["forward_values"].status != "passed", out["forward_values"].output
    assert report.score <= honest.score
    for name in ALL_CHECKS:
        if by_name(honest)[name].status != "passed":
            assert out[name].status != "passed", (name, out[name].output)
    assert_sane(report)


@pytest.mark.timeout(120)
def test_forged_progress_markers_cannot_stretch_a_call_past_its_limit(tmp_path):
    """A hanging forward that keeps claiming, on the grader's own channel and with the right request
    number, that a new step has started (which would reset the step's clock) is stopped all the same:
    a step can start only once, and only a step that was sent."""
    spec = fast_spec(call_seconds=1.0)
    hang = at_start_of("forward", """
        import sys as _sys, time as _time, struct as _struct, os as _os
        _child = next(m for m in list(_sys.modules.values()) if hasattr(m, "_out_fd") and hasattr(m, "_seq"))
        for _k in range(40):
            _os.write(_child._out_fd, _struct.pack(">4sIii", b"GRDP", _child._seq, _k % 3, -1))
            _time.sleep(0.25)
    """)
    report = grade_submission(write_submission(tmp_path, hang), spec)
    # 40 forged markers, 0.25 s apart, would have stretched the call to 10 s and let it return
    said = by_name(report)["forward_values"].output  # stopped at its limit, or its forgery refused outright
    assert "did not finish within 1 s" in said or "wrote into the grader's channel" in said, said
    assert by_name(report)["forward_values"].status != "passed"
    assert_sane(report)


CHANNEL_FORGER = '''
import json, os, struct

def _frame(message):
    body = json.dumps(message).encode("utf-8")
    return struct.pack(">4sQ", b"GRD1", len(body)) + body

class M:
    def __init__(self):
        pass
    def forge(self):
        forged = _frame({"reply": {"results": [{"ok": 42}], "dropped_output": 0}})
        for fd in range(31):
            try:
                os.write(fd, forged)
            except OSError:
                pass
        return 7
    def value(self):
        return 5
'''


@pytest.mark.usefixtures("isolation_choice")
def test_a_reply_frame_forged_by_student_code_is_never_taken_for_a_result(tmp_path):
    """The same forgery on the bare sandbox: the call honestly returns 7 after claiming, on every
    descriptor, a reply of 42. The exchange may fail (a corrupted channel), but it must never report 42,
    and the next exchange must not receive the previous call's reply."""
    path = tmp_path / "m.py"
    path.write_text(CHANNEL_FORGER)
    box = Sandbox(str(path), fast_spec().limits(), "m.py")
    box.start()
    try:
        assert box.load({}).failure is None
        assert box.run([{"do": "new", "cls": "M", "as": "m", "seed": 0}]).failure is None
        forged = box.run([{"do": "call", "obj": "m", "method": "forge"}])
        if forged.failure is None:
            assert forged.reply["results"] == [{"ok": 7}], f"a forged reply was accepted: {forged.reply}"
        if box.alive:
            after = box.run([{"do": "call", "obj": "m", "method": "value"}])
            if after.failure is None:
                assert after.reply["results"] == [{"ok": 5}], f"the channel is out of step: {after.reply}"
    finally:
        box.close()


# ---------------------------------------------------------------------------- 11. importing the hidden side

IMPORT_PROBE = '''
RESULTS = {}

def _attempt(label, function):
    try:
        value = function()
        RESULTS[label] = "ok: " + type(value).__name__
    except BaseException as exc:
        RESULTS[label] = type(exc).__name__ + ": " + str(exc)[:200]

def _reference():
    import reference
    return reference

def _reference_module():
    import reference.rnn_seq2one
    return reference.rnn_seq2one

def _rnn_seq2one():
    import rnn_seq2one
    return rnn_seq2one

def _specs():
    import specs
    return specs

def _by_spec():
    from grader.judge.spec import load
    return load().reference

_attempt("import reference", _reference)
_attempt("import reference.rnn_seq2one", _reference_module)
_attempt("import rnn_seq2one", _rnn_seq2one)
_attempt("import specs", _specs)
_attempt("grader.spec.load().reference", _by_spec)

def probe():
    return RESULTS
'''


@pytest.mark.usefixtures("isolation_choice")
def test_the_reference_cannot_be_imported_by_name(tmp_path):
    spec = fast_spec()
    path = write_submission(tmp_path, top=IMPORT_PROBE)
    box = Sandbox(str(path), spec.limits(), "sub.py")
    box.start()
    try:
        loaded = box.load(spec.members())
        assert loaded.failure is None and loaded.reply["members"]["RNN"]["kind"] == "class"
        exchange = box.run([{"do": "func", "name": "probe"}])
        assert exchange.failure is None, exchange.failure
        results = exchange.reply["results"][0]["ok"]
    finally:
        box.close()
    assert set(results) >= {"import reference", "import rnn_seq2one"}
    for label in ("import reference", "import reference.rnn_seq2one", "import rnn_seq2one"):
        kind = results[label].split(":", 1)[0]
        assert kind in ("ImportError", "ModuleNotFoundError"), (label, results[label])
    # and the probe costs nothing: the definitions are still graded as correct
    assert grade_submission(path, spec).score == 10


# ---------------------------------------------------------------------------- 12. nasty exceptions

BAD_EXCEPTIONS = {
    "str_raises": '''
class _Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no str for you")
    def __repr__(self):
        raise RuntimeError("no repr for you")
raise _Unprintable("hidden")
''',
    "ten_megabyte_message": '''
raise ValueError("M" * (10 * 1024 * 1024))
''',
    "str_raises_system_exit": '''
class _Leaving(Exception):
    def __str__(self):
        raise SystemExit(0)
raise _Leaving()
''',
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", list(BAD_EXCEPTIONS))
def test_exceptions_that_cannot_be_printed_or_are_huge_give_bounded_errors(tmp_path, kind):
    spec = fast_spec()
    path = write_submission(tmp_path, at_start_of("forward", BAD_EXCEPTIONS[kind]))
    report = grade_submission(path, spec)

    assert set(report.failed) == FORWARD_USERS
    out = by_name(report)
    for name in FORWARD_USERS:
        assert out[name].status in ("error", "failed"), (name, out[name].output)
        assert 0 < len(out[name].output) < 2000, (name, len(out[name].output))
    for name in set(ALL_CHECKS) - FORWARD_USERS:
        assert out[name].status == "passed", (name, out[name].output)
    assert len(json.dumps(report.to_dict())) < 50_000
    assert_sane(report)


def test_an_exception_with_a_huge_class_name_gives_bounded_feedback(tmp_path):
    """The exception's type name is the submission's text too: set_weights raises, for a missing weight,
    an exception class whose name is 1 MiB long instead of ValueError. weights_io fails, briefly."""
    spec = fast_spec()
    path = write_submission(tmp_path, at_start_of("set_weights", '''
        if any(k not in weights for k in ("W", "R", "V")):
            raise type("N" * (1 << 20), (Exception,), {})("missing")
        '''))
    report = grade_submission(path, spec)

    assert report.failed == ["weights_io"]
    weights_io = by_name(report)["weights_io"]
    assert weights_io.status != "passed"
    assert 0 < len(weights_io.output) < 2000, len(weights_io.output)
    assert len(json.dumps(report.to_dict())) < 50_000
    assert_sane(report)


# ---------------------------------------------------------------------------- 14. forgers that know the protocol

SEQ_FORGER = '''
import json as _json, struct as _struct, sys as _sys

def _forge_short_reply(y):
    """Read the live request number from the child's memory and claim a reply that stops early."""
    loop = next(m for m in list(_sys.modules.values()) if hasattr(m, "_out_fd") and hasattr(m, "_seq"))
    body = _json.dumps({"seq": loop._seq, "reply": {"results": [{"ok": None}], "dropped_output": 0}}).encode()
    os.write(loop._out_fd, _struct.pack(">4sQ", b"GRD1", len(body)) + body)
'''


@pytest.mark.usefixtures("isolation_choice")
def test_a_forged_reply_with_the_right_number_but_too_few_results_is_refused(tmp_path):
    """Answering a three-call forward_values run after the first call would judge call 1 only."""
    spec = fast_spec()
    path = write_submission(tmp_path, (FORWARD_RETURN, "        _forge_short_reply(None)\n" + FORWARD_RETURN),
                            top="import os\n" + SEQ_FORGER)
    report = grade_submission(path, spec)
    out = by_name(report)
    assert out["forward_values"].status == "error"
    assert "grader's channel" in out["forward_values"].output
    assert_sane(report)


def test_a_forward_that_changes_when_watched_cannot_fake_the_numerical_gradient(tmp_path):
    """forward is right for the weights it first sees; for any others it returns a value whose sum moves
    by exactly the total nudge, so every two-sided difference of it is 1, and the 'numerical gradient'
    is all ones. Differences of such a forward are deterministic and non-zero, so only judging against
    the reference (where the forward agrees with it) stops this."""
    cheat = (FORWARD_RETURN,
             "        now = [getattr(self, n).copy() for n in ('W', 'R', 'V', 'bs', 'by')]\n"
             "        seen = type(self).__dict__.get('_first') or {}\n"
             "        type(self)._first = seen\n"
             "        first = seen.setdefault(tuple(a.shape for a in now), now)\n"
             "        moved = sum(float(np.sum(a - b)) for a, b in zip(now, first))\n"
             "        if moved != 0.0:\n"
             "            return np.full(self.V.shape[1], moved / self.V.shape[1])\n" + FORWARD_RETURN)
    ones = ("def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:\n",
            "def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:\n"
            "    return {k: np.ones_like(v) for k, v in (('d_' + n, getattr(model, n)) for n in ('W', 'R', 'V', 'bs', 'by'))}\n")
    report = grade_submission(write_submission(tmp_path, cheat, ones), fast_spec())
    assert "numerical_gradient" in report.failed
    assert_sane(report)


def test_a_constant_forward_earns_nothing_from_its_own_zero_differences(tmp_path):
    constant = (FORWARD_RETURN, "        return np.zeros(self.V.shape[1])\n")
    zeros = ("def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:\n",
             "def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:\n"
             "    return {k: np.zeros_like(v) for k, v in (('d_' + n, getattr(model, n)) for n in ('W', 'R', 'V', 'bs', 'by'))}\n")
    report = grade_submission(write_submission(tmp_path, constant, zeros), fast_spec())
    assert "numerical_gradient" in report.failed
    assert "fix forward first" in by_name(report)["numerical_gradient"].output


def test_an_affine_stand_in_model_earns_no_gradient_points(tmp_path):
    """forward = the sum of every weight, backward = its exact (constant) gradient: the gradients follow
    the submission's own forward, but that forward is affine, so they prove nothing about BPTT."""
    affine_forward = (FORWARD_RETURN,
                      "        total = sum(float(np.sum(getattr(self, n))) for n in ('W', 'R', 'V', 'bs', 'by'))\n"
                      "        return np.full(self.V.shape[1], total / self.V.shape[1])\n")
    constant_backward = (DEF_LINES["backward"],
                         DEF_LINES["backward"] +
                         "        g = float(np.sum(d_loss)) / self.V.shape[1]\n"
                         "        self.grads = {'d_' + n: np.full(getattr(self, n).shape, g) for n in ('W', 'R', 'V', 'bs', 'by')}\n"
                         "        return self.grads\n")
    report = grade_submission(write_submission(tmp_path, affine_forward, constant_backward), fast_spec())
    for name in GRADIENTS:
        assert name in report.failed, name
    assert_sane(report)


def test_a_hang_in_the_constructor_costs_one_limit_not_one_per_check(tmp_path):
    spec = fast_spec(call_seconds=1.0)
    init = "    def __init__(self, input_size: int, hidden_size: int, output_size: int):\n"
    path = write_submission(tmp_path, (init, init + "        while True: pass\n"))
    report = grade_submission(path, spec)
    assert report.failed == ALL_CHECKS[1:]
    outputs = [t.output for t in report.tests[1:]]
    assert "did not finish within 1 s" in outputs[0]
    assert all("not called again" in o for o in outputs[1:])
