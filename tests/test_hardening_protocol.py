"""Hardening of the channel between the grader and a submission's child (the issue "what a determined
student still gets through", items 1-4): the whole submission's time budget holds inside a check, a
reply is bounded by what the steps sent can return, nothing that crosses the channel can crash the
grader or read as the grader's fault, and nothing the child wrote in its scratch folder outlives it.

Each test grades a bounded hostile edit of the correct example, with every isolation layer and with
`GRADER_ISOLATION=minimal`: where a layer is missing, the score still must not rise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader import wire
from grader.judge import compare
from grader.judge.grading import grade_submission
from grader.report import validate
from grader.judge.spec import EXAMPLES, load

CORRECT = EXAMPLES / "correct_vectorised.py"
FORWARD_DEF = "    def forward(self, x: np.ndarray) -> np.ndarray:\n"
FORWARD_RETURN = "        return a[T] @ self.V + self.by\n"
BACKWARD_RETURN = "        return self.grads\n"
GRADER_FAULT = "grader itself failed"
CHANNEL = "wrote into the grader's channel"


def submission(tmp_path: Path, *replacements: tuple[str, str], top: str = "", name: str = "sub.py") -> Path:
    """The correct example with exact `old -> new` replacements and `top` run at load (in `if True:`)."""
    text = CORRECT.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, f"test setup: {old!r} is not in the correct example exactly once"
        text = text.replace(old, new)
    if top:
        block = "if True:\n" + textwrap.indent(textwrap.dedent(top).strip("\n"), "    ") + "\n"
        text = text.replace("import numpy as np\n", "import numpy as np\n" + block, 1)
    path = tmp_path / name
    path.write_text(text)
    return path


def first_in(method_def: str, code: str) -> tuple[str, str]:
    return method_def, method_def + textwrap.indent(textwrap.dedent(code).strip("\n"), " " * 8) + "\n"


def by_name(report) -> dict:
    return {t.name: t for t in report.tests}


def assert_sane(report) -> None:
    """A valid report, and no check that blames the grader for what the submission did."""
    validate(report.to_dict())
    for t in report.tests:
        assert GRADER_FAULT not in t.output, (t.name, t.output)
        assert "tell course staff" not in t.output, (t.name, t.output)


@pytest.fixture(params=["full", "minimal"])
def isolation_choice(request, monkeypatch):
    monkeypatch.setenv("GRADER_ISOLATION", request.param)
    return request.param


# Student code reaches the reply pipe the way a determined student would: the child's module knows it.
CHANNEL_HELPERS = """
import os as _os, struct as _struct, sys as _sys
def _channel():  # the child's loop module, wherever it lives: whatever holds the reply fd
    return next(m for m in list(_sys.modules.values()) if hasattr(m, "_out_fd") and hasattr(m, "_seq"))
def _send(body):
    child = _channel()
    data = _struct.pack(">4sQ", b"GRD1", len(body)) + body
    try:
        while data:
            data = data[_os.write(child._out_fd, data):]
    except OSError:
        pass
"""


# ---------------------------------------------------------------------------- 1. the time budget

@pytest.mark.timeout(240)
@pytest.mark.usefixtures("isolation_choice")
def test_the_submission_budget_holds_inside_a_check_that_makes_many_slow_calls(tmp_path):
    """A forward that sleeps under the call limit and is slightly off the reference sends a gradient
    check down its own-forward route (many forward calls). The budget is checked only between checks
    unless every exchange is clipped to what remains of it: count the calls (one printed byte each)."""
    budget, call, sleep = 3.0, 1.5, 0.4
    spec = load()
    spec.data["limits"].update(submission_seconds=budget, call_seconds=call)
    keep = ("interface", "gradient_d_W", "gradient_d_R", "forward_values")
    spec.data["checks"] = [c for name in keep for c in spec.data["checks"] if c["name"] == name]
    path = submission(tmp_path,
                      (FORWARD_RETURN, f"        _os.write(1, b'c')\n        _time.sleep({sleep})\n"
                                       "        return 1.01 * (a[T] @ self.V + self.by)\n"),
                      (BACKWARD_RETURN, "        return {k: 1.01 * v for k, v in self.grads.items()}\n"),
                      top="import os as _os, time as _time")
    report = grade_submission(path, spec)
    out = by_name(report)

    calls = report.printed_bytes
    assert calls <= (budget + call) / sleep + 3, f"{calls} forward calls were made in a {budget:g} s budget"
    stopped = f"grading stopped after {budget:g} s, the time limit for a whole submission"
    assert out["gradient_d_W"].status != "passed"
    assert stopped in out["gradient_d_W"].output, out["gradient_d_W"].output
    assert "look for calls that are slow even on small inputs" in out["gradient_d_W"].output
    for name in ("gradient_d_R", "forward_values"):
        assert out[name].output.startswith(f"Not run: {stopped}"), out[name].output
        assert out[name].score == 0
    assert out["interface"].status == "passed"
    assert_sane(report)


# ---------------------------------------------------------------------------- 2. reply frames

PEAK_RSS = """
import json, resource, sys
from grader.judge.grading import grade_submission
from grader.judge.spec import load
report = grade_submission(sys.argv[1], load())
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "report": report.to_dict()}))
"""


def grade_in_subprocess(path: Path) -> tuple[float, dict]:
    """Grade in a fresh interpreter; its peak RSS (MB) and the report."""
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path)], capture_output=True, text=True,
                          timeout=200, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["peak_mb"], result["report"]


@pytest.mark.timeout(400)
@pytest.mark.usefixtures("isolation_choice")
def test_a_huge_forged_reply_frame_is_refused_before_it_is_buffered_or_parsed(tmp_path):
    """forward writes one 24 MB frame of `[{},{},...]` on the reply pipe (once per child), then returns
    the right value. Parsing it would cost the grader over a GB; it must be refused from its header,
    as a protocol failure of the submission, never a pass."""
    honest_mb, honest = grade_in_subprocess(submission(tmp_path, name="honest.py"))
    frame = first_in(FORWARD_DEF, """
        global _sent
        if not _sent:
            _sent = True
            _send(b"[" + b"{}," * (8 * 1024 * 1024) + b"{}]")
    """)
    peak_mb, report = grade_in_subprocess(submission(tmp_path, frame, top=CHANNEL_HELPERS + "_sent = False\n"))
    validate(report)
    assert peak_mb < honest_mb + 250, f"peak RSS {peak_mb:.0f} MB (honest submission: {honest_mb:.0f} MB)"
    tests = {t["name"]: t for t in report["tests"]}
    assert tests["forward_shape"]["status"] != "passed"
    assert CHANNEL in tests["forward_shape"]["output"], tests["forward_shape"]["output"]
    assert report["score"] < honest["score"]
    for t in report["tests"]:
        assert GRADER_FAULT not in t["output"], (t["name"], t["output"])


@pytest.mark.usefixtures("isolation_choice")
def test_many_small_frames_and_junk_frames_with_the_right_number_are_a_protocol_failure(tmp_path):
    """Frames each under any cap, with the request's own number, that are neither progress nor a
    reply: nothing the grader asked for, so the submission broke the protocol (not silently skipped)."""
    junk = first_in(FORWARD_DEF, """
        body = ('{"seq": %d, "note": [%s]}' % (_channel()._seq, ",".join(["{}"] * 2000))).encode()
        for _ in range(400):
            _send(body)
    """)
    report = grade_submission(submission(tmp_path, junk, top=CHANNEL_HELPERS), load())
    out = by_name(report)
    assert out["forward_shape"].status != "passed"
    assert CHANNEL in out["forward_shape"].output, out["forward_shape"].output
    assert_sane(report)


# ---------------------------------------------------------------------------- 3. nothing that crosses crashes

@pytest.mark.parametrize("dropped", ['float("inf")', "-5", "10 ** 40", '"many"', "float('nan')"])
def test_a_forged_output_counter_neither_crashes_grading_nor_breaks_the_report(tmp_path, dropped):
    """The child reports how much its capped stdout dropped; student code can set that counter."""
    path = submission(tmp_path, first_in(FORWARD_DEF, f"import sys\nsys.stdout.dropped = {dropped}"))
    report = grade_submission(path, load())
    assert_sane(report)
    assert report.printed_bytes >= 0
    assert by_name(report)["forward_values"].status != "passed"


@pytest.mark.usefixtures("isolation_choice")
def test_a_deeply_nested_frame_is_the_submissions_protocol_failure_not_the_graders(tmp_path):
    deep = first_in(FORWARD_DEF, """
        _send(b'{"seq": %d, "reply": {"results": [' % _channel()._seq + b"[" * 100000 + b"]" * 100000 + b"]}}")
    """)
    report = grade_submission(submission(tmp_path, deep, top=CHANNEL_HELPERS), load())
    out = by_name(report)
    assert out["forward_values"].status != "passed"
    assert CHANNEL in out["forward_values"].output, out["forward_values"].output
    assert_sane(report)


def test_a_forged_internal_error_does_not_read_as_the_graders_fault(tmp_path):
    """The child's own failures outside student code are worded as the grader's; student code must not
    be able to claim one for its bug."""
    forged = first_in(FORWARD_DEF, """
        _send(('{"seq": %d, "reply": {"internal_error": "KeyError: boom"}}' % _channel()._seq).encode())
        import time; time.sleep(1)
    """)
    report = grade_submission(submission(tmp_path, forged, top=CHANNEL_HELPERS), load())
    assert by_name(report)["forward_values"].status != "passed"
    assert_sane(report)


# Values a submission can return, as source evaluated in the child (helpers defined at load); `_v` is
# what the method would have returned (for a keyed return, the right value under that key).
WEIRD_HELPERS = """
def _deep(n):
    v = 1.0
    for _ in range(n):
        v = [v]
    return v
class _Sub(np.ndarray):
    pass
"""
WEIRD = [
    "{1: np.zeros(2), (1, 2): 3}", "[[[[1.0]]], [[2.0]]]", "np.array(3.0)", "np.array([object(), 1], dtype=object)",
    "np.ones(3, dtype=complex)", "10 ** 400", "[10 ** 30, -(10 ** 30)]", "float('nan')", "'a string'", "None",
    "[[1, 2], [3]]", "__import__('grader.wire', fromlist=['Opaque']).Opaque('x', 'y')",
    "{f'k{i}': i for i in range(10000)}", "_deep(5000)", "np.zeros((0, 3))", "True", "np.ones((1,) * 32)",
    "np.array([1e308, -1e308])", "b'bytes'", "np.asarray(_v).T", "np.ravel(_v)", "np.asarray(_v)[..., None]",
    "np.asarray(_v).astype(np.int8)", "np.asarray(_v).astype(bool)", "np.asarray(_v).astype(np.float16)",
    "np.asarray(_v) * np.nan", "np.asarray(_v) * 1e300", "np.asarray(_v).tolist()", "list(np.asarray(_v))",
    "np.zeros(np.size(_v) + 1)", "np.asarray(_v).view(_Sub)", "np.asarray(_v, dtype='>f8')",
    "np.asarray(_v).reshape(-1, 1)", "np.asarray(_v).astype(np.longdouble) * 2",
]
RETURNS = {  # method -> (its return line in the correct example, the value it returns)
    "forward": (FORWARD_RETURN, "a[T] @ self.V + self.by"),
    "backward": (BACKWARD_RETURN, "self.grads"),
    "get_weights": ("        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}\n",
                    "{'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}"),
    "get_numerical_gradient": ("    return grads\n", "grads"),
}


def weird_submission(folder: Path, value: str, how: str) -> Path:
    """forward returns `value` ("forward"); or backward, get_weights and the numerical gradient return
    it as themselves ("raw") or under each of their keys ("keyed")."""
    replacements = []
    for method, (line, right) in RETURNS.items():
        if (method == "forward") != (how == "forward"):
            continue
        indent = line[: len(line) - len(line.lstrip())]
        if how == "keyed":
            returned = f"{{_k: (lambda _v: {value})(_v) for _k, _v in ({right}).items()}}"
        else:
            returned = f"(lambda _v: {value})({right})"
        replacements.append((line, f"{indent}return {returned}\n"))
    return submission(folder, *replacements, top=WEIRD_HELPERS, name="weird.py")


def fast_spec():
    spec = load()
    spec.data["configs"] = spec.data["configs"][:2]
    for check in spec.data["checks"]:
        if "configs" in check:
            check["configs"] = [i for i in check["configs"] if i < 2] or [0]
    return spec


@pytest.mark.timeout(600)
def test_no_value_returned_by_a_submission_makes_a_check_fail_as_the_graders(tmp_path):
    """Fuzz: for each weird value, returned by forward; by backward, get_weights and
    get_numerical_gradient; or under each of their keys, grading gives a valid report whose checks
    never say the grader failed. (Children forked from a zygote, two configurations: it stays quick.)"""
    from grader.sandbox import zygote as zygotes

    spec = fast_spec()
    problems = []
    zygotes.use_zygote(True)
    try:
        for index, value in enumerate(WEIRD):
            for how in ("forward", "raw", "keyed"):
                folder = tmp_path / f"{index}-{how}"
                folder.mkdir()
                try:
                    assert_sane(grade_submission(weird_submission(folder, value, how), spec))
                except Exception as exc:  # collect them all: one run shows every value that still breaks
                    problems.append(f"{value} ({how}): {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        zygotes.use_zygote(False)
    assert not problems, "\n".join(problems)


DECODED = [None, True, False, 0, -1, 2 ** 62, 1e308, -1e308, float("nan"), float("inf"), -float("inf"), -0.0,
           "", "x" * 2000, [], [[]], [1, [2]], [[1, 2], [3]], [1.0, None], [True, 2], [[[[1.0]]]], {}, {"a": 1},
           {"d_W": None}, {f"k{i}": i for i in range(10000)}, wire.Opaque("t", "r"), np.float16(1),
           np.array(1.5), np.zeros((0, 3)), np.ones((1,) * 32), np.ones(3, dtype=bool), np.ones(3, dtype=np.int8),
           np.array([2 ** 63], dtype=np.uint64), np.ones(2, dtype=np.float16), np.array([1e308, -1e308]),
           np.array([np.nan, np.inf]), np.ones(2, dtype=">f8"), np.ones(2, dtype=np.longdouble), np.int64(-3),
           np.bool_(True), np.ones((2, 0, 3))]


@pytest.mark.parametrize("value", DECODED, ids=lambda v: type(v).__name__)
def test_the_comparison_helpers_are_total_over_decoded_values(value):
    """Whatever the wire decoder can produce, the helpers checks use answer without raising."""
    arr, why = compare.as_array(value)
    assert (arr is None) != (why is None)
    compare.describe_type(value)
    if arr is not None:
        assert arr.dtype == np.float64
        for other in (arr, np.zeros_like(arr), np.full(arr.shape, np.nan)):
            compare.rel_error(arr, other)
            compare.nonfinite(arr)
            compare.mismatch(arr, other)
            compare.same_values(arr, other)
        compare.shape_text(arr.shape)


@pytest.mark.parametrize("body", [
    b"[" * 100000 + b"]" * 100000, b'{"a": ' * 50 + b"1" + b"}" * 50, b"1" * 5000, b'{"__ndarray__": 5}',
    b'{"__ndarray__": {"dtype": "<f8", "shape": [0, 1000000000000000000000], "data": ""}}',
    b'{"__ndarray__": {"dtype": "<f8", "shape": [2, -1], "data": ""}}',
    b'{"__ndarray__": {"dtype": "|O", "shape": [1], "data": "AAAAAAAAAAA="}}',
    b'{"__ndarray__": {"dtype": ["<f8"], "shape": [1], "data": "AAAAAAAAAAA="}}',
    b'{"__ndarray__": {"dtype": "<f8", "shape": "1", "data": "AAAAAAAAAAA="}}',
    b'{"__ndarray__": {"dtype": "<f8", "shape": [true], "data": "AAAAAAAAAAA="}}',
    b'{"__ndarray__": {"dtype": "V8", "shape": [1], "data": "AAAAAAAAAAA="}}',
    b'{"__ndarray__": {"dtype": "<c16", "shape": [1], "data": "AAAAAAAAAAAAAAAAAAAAAA=="}}',
    b"\xff\xfe", b"NaN", b'{"__object__": [1, 2]}', b"[1e999]", b"123456789012345678901234567890",
])
def test_the_decoder_refuses_malformed_data_with_a_wire_error_only(body):
    try:
        value = wire.loads(body)
    except wire.WireError:
        return
    compare.as_array(value)
    compare.describe_type(value)


def test_reply_caps_grow_with_what_the_steps_sent():
    small = [{"do": "new", "cls": "M", "as": "m", "seed": 0}, {"do": "call", "obj": "m", "method": "f", "args": []}]
    large = small[:1] + [{"do": "call", "obj": "m", "method": "f", "args": [np.zeros((400, 400))]}]
    caps = [wire.reply_cap(steps, wire.largest_array(steps)) for steps in (small, large)]
    assert caps[0] < caps[1] and caps[0] < 8 * 1024 * 1024
    largest = [0]
    wire.dumps({"steps": large}, largest)
    assert largest[0] == wire.largest_array(large) == 400 * 400 * 8


def test_the_encoder_never_sends_more_than_a_step_may_return():
    """What a legitimate child sends always fits the grader's cap: an oversized value becomes a stub."""
    steps = [{"do": "call", "obj": "m", "method": "f", "args": [np.zeros(10)]}]
    allowance = wire.step_allowance(steps[0], wire.largest_array(steps))
    for value in (np.zeros((2000, 2000)), [0] * 10 ** 6, {f"k{i}": [i] for i in range(10 ** 5)}, "x" * 10 ** 6,
                  10 ** 400, _nested(200)):
        plain = wire.bounded_plain(value, allowance)
        text = json.dumps(plain, allow_nan=True, separators=(",", ":")).encode()
        assert wire.cost(text) <= allowance


def _nested(n):
    v = 1
    for _ in range(n):
        v = [v, v]
        if n > 20:
            v = [v]
    return v


NESTED = """
class M:
    def __init__(self):
        pass
    def deep(self):
        value = 1.0
        for _ in range(5000):
            value = [value]
        return {"a": value, "b": [[[[[[[[__import__("numpy").zeros(2)]]]]]]]]}
    def big(self):
        return __import__("numpy").zeros((1000, 1000))
"""


@pytest.mark.usefixtures("isolation_choice")
def test_legitimate_values_too_deep_or_too_large_come_back_as_stubs_not_protocol_failures(tmp_path):
    """The child's own encoder keeps within the grader's limits, so an honest child is never refused."""
    from grader.sandbox.process import Sandbox

    path = tmp_path / "m.py"
    path.write_text(NESTED)
    with Sandbox(str(path), load().limits(), "m.py") as box:
        assert box.load({}).failure is None
        steps = [{"do": "new", "cls": "M", "as": "m", "seed": 0}, {"do": "call", "obj": "m", "method": "deep"},
                 {"do": "call", "obj": "m", "method": "big"}]
        exchange = box.run(steps)
        assert exchange.failure is None, exchange.failure
        _, deep, big = (r["ok"] for r in exchange.reply["results"])
        assert isinstance(big, wire.Opaque) and "too large" in big.type_name
        assert isinstance(deep["b"][0][0][0][0][0][0][0][0], np.ndarray)
        inner = deep["a"]
        while isinstance(inner, list):
            inner = inner[0]
        assert isinstance(inner, wire.Opaque)


# ---------------------------------------------------------------------------- 4. scratch clean-up

DEEP_CHAIN = """
import os as _os, stat as _stat
_top = _os.open(".", _os.O_RDONLY)
for _i in range(1500):
    _os.mkdir("d")
    _os.chdir("d")
with open("f", "w") as _f:
    _f.write("x" * 1000)
_os.chmod("f", 0o400)
_os.mkdir("shut")
_os.chmod("shut", 0o000)
_os.chdir("..")
_os.chmod(".", 0o500)
_os.fchdir(_top)
_os.symlink("/", "root_link")
"""


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.usefixtures("isolation_choice")
def test_a_deep_folder_chain_in_the_scratch_folder_is_removed_and_grading_reports(tmp_path, private_tmp):
    report = grade_submission(submission(tmp_path, top=DEEP_CHAIN), load())
    assert_sane(report)
    assert report.score == report.max_score  # the chain is harmless: only its clean-up was not
    assert not list(private_tmp.iterdir()), sorted(p.name for p in private_tmp.iterdir())


NOTEBOOK_CHAIN = """
import os as _os, sys as _sys
_frame, _where = _sys._getframe(), None
while _frame is not None and _where is None:
    _where = (_frame.f_locals.get("request") or {}).get("path") if isinstance(_frame.f_locals.get("request"), dict) else None
    _frame = _frame.f_back
if _where:
    try:
        _os.chdir(_os.path.dirname(_where))
        for _i in range(1500):
            _os.mkdir("d")
            _os.chdir("d")
    except OSError:
        pass
"""


@pytest.mark.usefixtures("isolation_choice")
def test_a_notebooks_cells_folder_is_removed_whatever_the_child_wrote_in_it(tmp_path, private_tmp):
    """Without Landlock the child can write next to the .py the grader made of the notebook's cells."""
    code = CORRECT.read_text()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell(
        "if True:\n" + textwrap.indent(NOTEBOOK_CHAIN.strip("\n"), "    "))]
    path = tmp_path / "sub.ipynb"
    path.write_text(nbformat.writes(notebook))
    report = grade_submission(path, load())
    assert_sane(report)
    assert not list(private_tmp.iterdir()), sorted(p.name for p in private_tmp.iterdir())
