"""Issue 25: gradients are judged only against trusted computations. Each attack of the issue, written
here as a student would, scores at most what it honestly earns, on every seed tried; honest numerical
gradients of every style keep full marks; a grader fault is its own outcome."""

from __future__ import annotations

import pytest

from grader.judge.grading import grade_submission
from grader.judge.spec import EXAMPLES

CORRECT = (EXAMPLES / "correct_vectorised.py").read_text()

# Garbage everywhere but forward: backward and get_numerical_gradient return constants.
GARBAGE = '''
import numpy as np

class RNN:
    def __init__(self, input_size, hidden_size, output_size):
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs, self.by = np.zeros(hidden_size), np.zeros(output_size)

    def names(self):
        return ("W", "R", "V", "bs", "by")

    def true(self, x):
        a = np.zeros(self.W.shape[1])
        for x_t in np.asarray(x, dtype=float):
            a = np.tanh(x_t @ self.W + a @ self.R + self.bs)
        return a @ self.V + self.by

    def affine(self, x):
        total = sum(float(np.sum(getattr(self, k))) for k in self.names())
        return np.full(self.V.shape[1], 0.1) * total + 1e-10 * float(np.sum(x))

    def forward(self, x):
        return FORWARD(self, x)

    def backward(self, d_loss):
        self.d = {"d_" + k: np.full(np.shape(getattr(self, k)), 0.1) for k in self.names()}
        return self.d

    def update(self, lr):
        for k in self.names():
            setattr(self, k, getattr(self, k) - lr * self.d["d_" + k])

    def get_weights(self):
        return {k: getattr(self, k) for k in self.names()}

    def set_weights(self, weights):
        for k in ("W", "R", "V"):
            if k not in weights:
                raise ValueError(k)
        for k, v in weights.items():
            setattr(self, k, np.array(v, dtype=float))

def get_numerical_gradient(model, x, eps):
    return {"d_" + k: np.full(np.shape(getattr(model, k)), 0.1) for k in model.names()}
'''

AFFINE = GARBAGE.replace("FORWARD(self, x)", "self.affine(x)")
SEEN: str = GARBAGE.replace("FORWARD(self, x)", "self.first_affine(x)").replace(
    "    def backward(", '''    def first_affine(self, x):
        key = np.asarray(x, dtype=float).tobytes()
        if key in SEEN_INPUTS:
            return self.true(x)
        SEEN_INPUTS.add(key)
        return self.affine(x)

    def backward(''').replace("import numpy as np\n", "import numpy as np\nSEEN_INPUTS = set()\n", 1)


def _exact_numgrad() -> str:
    """The correct example whose get_numerical_gradient returns backward's analytic gradient of sum(y)."""
    head, _, _ = CORRECT.partition("def get_numerical_gradient")
    return head + '''def get_numerical_gradient(model, x, eps=1e-7):
    y = model.forward(x)
    return {k: np.array(v, dtype=float) for k, v in model.backward(np.ones(np.shape(y))).items()}
'''


def grade(tmp_path, source: str, spec, seed=None, name="sub.py"):
    path = tmp_path / name
    path.write_text(source)
    return grade_submission(path, spec, seed=seed)


@pytest.mark.parametrize("source", [AFFINE, SEEN], ids=["affine forward", "affine on first sight"])
def test_garbage_gradients_behind_an_affine_forward_earn_nothing(tmp_path, spec, source):
    """Old judge: 8.5/10 for both (the affinity test compared slopes to 1e-7, a fresh child holds many
    clusters). Now neither forward is a known variant, so the reference judges: garbage earns nothing."""
    for seed in (1, 7, spec.seed):
        report = grade(tmp_path, source, spec, seed=seed)
        gradient_checks = {c["name"] for c in spec.checks if c["kind"] in ("gradient", "numerical_gradient")}
        assert gradient_checks <= set(report.failed), [(t.name, t.output) for t in report.tests]
        assert "forward_values" in report.failed
        assert report.status == "graded"
        numerical = next(t for t in report.tests if t.name == "numerical_gradient")
        assert "does not recognise" in numerical.output


@pytest.mark.parametrize("seed", range(1, 21))
def test_a_numerical_gradient_that_is_backward_earns_nothing_on_any_seed(tmp_path, spec, seed):
    """Old judge: 10/10 on 19 of seeds 1..20. The second call, at a large eps, tells it apart."""
    report = grade(tmp_path, _exact_numgrad(), spec, seed=seed)
    assert report.failed == ["numerical_gradient"], [(t.name, t.output) for t in report.tests if t.status != "passed"]
    output = report.tests[-1].output  # caught at the large eps, or already at the spec's
    assert "cannot be told from an exact gradient" in output or "not the two-sided difference" in output


HONEST = {
    "loops, eps honoured, in place": None,  # the correct example itself
    "vectorised over copies": '''def get_numerical_gradient(model, x, eps=1e-5):
    grads = {}
    for name, p in model.get_weights().items():
        base = np.array(p, dtype=float)
        g = np.zeros(base.shape)
        for i in range(base.size):
            step = np.zeros(base.size); step[i] = eps
            setattr(model, name, base + step.reshape(base.shape)); plus = np.sum(model.forward(x))
            setattr(model, name, base - step.reshape(base.shape)); minus = np.sum(model.forward(x))
            g.reshape(-1)[i] = (plus - minus) / (2 * eps)
        setattr(model, name, base)
        grads["d_" + name] = g
    return grads
''',
    "default 1e-8, nditer, nudges restored": '''def get_numerical_gradient(model, x, eps=1e-8):
    grads = {}
    for name, p in model.get_weights().items():
        g = np.zeros_like(p, dtype=float)
        it = np.nditer(p, flags=["multi_index"])
        while not it.finished:
            i = it.multi_index
            old = p[i]
            p[i] = old + eps; plus = np.sum(model.forward(x))
            p[i] = old - eps; minus = np.sum(model.forward(x))
            p[i] = old
            g[i] = (plus - minus) / (2 * eps)
            it.iternext()
        grads["d_" + name] = g
    return grads
''',
    "default 1e-3, += and -= nudges": '''def get_numerical_gradient(model, x, eps=1e-3):
    grads = {}
    for name, p in model.get_weights().items():
        g = np.zeros_like(p, dtype=float)
        for i in np.ndindex(p.shape):
            p[i] += eps; plus = np.sum(model.forward(x))
            p[i] -= 2 * eps; minus = np.sum(model.forward(x))
            p[i] += eps
            g[i] = (plus - minus) / (2 * eps)
        grads["d_" + name] = g
    return grads
''',
}


@pytest.mark.parametrize("style", sorted(HONEST))
def test_every_honest_numerical_gradient_keeps_full_marks(tmp_path, spec, style):
    source = CORRECT
    if HONEST[style]:
        head, _, _ = CORRECT.partition("def get_numerical_gradient")
        source = head + HONEST[style]
    for seed in (3, spec.seed):
        report = grade(tmp_path, source, spec, seed=seed)
        assert report.failed == [], [(t.name, t.output) for t in report.tests if t.status != "passed"]


def test_the_float32_example_keeps_full_marks_on_other_seeds(spec):
    for seed in (2, 11):
        report = grade_submission(EXAMPLES / "correct_float32.py", spec, seed=seed)
        assert report.failed == [], [(t.name, t.output) for t in report.tests if t.status != "passed"]


def test_an_update_whose_backward_reshapes_a_weight_is_the_students_error(make_submission, spec):
    """Old judge: 'The grader itself failed ... please tell course staff' (before-update arrays of
    another shape went into arithmetic unchecked)."""
    path = make_submission(source=CORRECT + '''
_backward, _update = RNN.backward, RNN.update

def _reshaping_backward(self, d_loss):
    grads = _backward(self, d_loss)
    self.W_kept, self.W = self.W, self.W.reshape(-1)  # the bug: W left flat between backward and update
    return grads

def _restoring_update(self, lr):
    self.W = self.W_kept
    _update(self, lr)

RNN.backward, RNN.update = _reshaping_backward, _restoring_update
''')
    report = grade_submission(path, spec)
    assert report.status == "graded"
    update = next(t for t in report.tests if t.name == "update")
    assert update.status == "failed" and "grader itself" not in update.output, update.output
    assert "before update" in update.output


def test_a_grader_fault_is_not_scored_and_graded_again(make_submission, spec, monkeypatch):
    from grader.judge import checks

    def broken(ctx, check, result):
        raise RuntimeError("a bug of the grader's")

    monkeypatch.setitem(checks.KINDS, "update", broken)
    report = grade_submission(make_submission(), spec)
    data = report.to_dict()
    assert report.status == "error" and data["status"] == "error"
    assert "Not scored yet" in data["output"]
    update = next(t for t in report.tests if t.name == "update")
    assert update.fault == "grader" and "costs no points" in update.output
    from grader.course import gradebook
    from grader.report.views import render_markdown, render_text

    # every view says so; none shows the 9 the other checks would add up to
    assert ": not scored yet  (" in render_text(report).splitlines()[0]
    assert render_markdown(report).splitlines()[0].endswith(": not scored yet")
    row = {"id": "42", "score": report.score, "max_score": 10.0, "status": "error", "feedback": ""}
    assert gradebook.rows("canvas", [row], "a1")[1][-1] == ""
    assert gradebook.rows("moodle", [row], "a1")[1][4] == ""
    header, line = gradebook.rows("csv", [row], "a1")
    assert line[header.index("score")] == ""
    header, line = gradebook.rows("csv", [dict(row, status="graded")], "a1")
    assert line[header.index("score")] == f"{report.score:g}"


def test_a_batch_grades_a_grader_fault_again_on_the_next_run(tmp_path, spec, monkeypatch):
    """Item 4: the faulted report is kept as `error`, not reused, and the next run (grader mended) scores it."""
    import json
    import shutil

    from grader.course import batch
    from grader.judge import checks

    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    shutil.copy(EXAMPLES / "correct_vectorised.py", folder / "alice.py")

    def broken(ctx, check, result):
        raise RuntimeError("a bug of the grader's")

    with monkeypatch.context() as patch:  # forked workers inherit the broken check
        patch.setitem(checks.KINDS, "update", broken)
        batch.grade_folder(folder, out, spec, quiet=True, jobs=1)
    first = json.loads((out / "alice.json").read_text())
    assert first["status"] == "error" and "Not scored yet" in first["output"]
    batch.grade_folder(folder, out, spec, quiet=True, jobs=1)
    second = json.loads((out / "alice.json").read_text())
    assert second["status"] == "graded" and second["score"] == second["max_score"] == 10


def test_a_child_the_grader_cannot_start_again_is_its_own_fault_not_the_students(tmp_path, spec, monkeypatch):
    """A check whose child died (the student's crash) starts a new one; if that child cannot set its limits
    (an internal failure, before any student code), the later checks are not scored: no point is lost and
    the report is `error`, not blamed on the file as 'could not be loaded again'."""
    from grader.judge.context import Context
    from grader.sandbox.process import Failure

    path = tmp_path / "crashes_in_backward.py"
    path.write_text(CORRECT + '''

import os as _os
RNN.backward = lambda self, *args, **kwargs: _os._exit(3)
''')
    opened = []
    real_open = Context.open

    def open_then_fail(self):
        opened.append(1)
        if len(opened) == 1:
            return real_open(self)
        return {"failure": Failure("internal", None, "RLIMIT_AS could not be set")}

    monkeypatch.setattr(Context, "open", open_then_fail)
    report = grade_submission(path, spec)
    assert len(opened) >= 2, "the crash should have needed a new child"
    faulted = [t for t in report.tests if t.fault == "grader"]
    assert faulted and all(t.status == "error" and "costs no points" in t.output for t in faulted)
    assert not any("loaded again" in t.output for t in report.tests)
    assert report.status == "error"


@pytest.mark.parametrize("poison", ["np.inf", "-np.inf", "np.nan"])
def test_an_update_that_plants_one_infinite_entry_does_not_pass(tmp_path, spec, poison):
    """Red team (issue 25): an update that applies no gradient but sets one entry of every parameter to
    inf made the tolerance, scaled by the largest step, infinite: 10/10. It earns what a no-op does."""
    path = tmp_path / "poisoned_update.py"
    path.write_text(CORRECT + f'''

def _update(self, lr):
    for name in ("W", "R", "V", "bs", "by"):
        value = np.array(getattr(self, name), dtype=float)
        value.reshape(-1)[0] = {poison}
        setattr(self, name, value)

RNN.update = _update
''')
    report = grade_submission(path, spec)
    failed = {t.name for t in report.tests if t.status != "passed"}
    assert failed == {"update"}, failed
    update = next(t for t in report.tests if t.name == "update")
    assert "inf or NaN" in update.output and update.fault == "submission"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_numerical_gradient_that_ignores_eps_is_judged_at_its_own_step(tmp_path, spec, seed):
    """Item 2 (red team): real central differences at a fixed step of 0.2, whatever eps is given, keep
    full marks (at 0.2 differences are far from an exact gradient); at a fixed 1e-5 the result cannot be
    told from an exact gradient, so the check is lost, and the report says that eps is ignored."""
    def own_step(step: str):
        path = tmp_path / f"own_step_{step}.py"
        path.write_text(CORRECT + "\n_numerical = get_numerical_gradient\n\n"
                                  "def get_numerical_gradient(model, x, eps=1e-7):\n"
                                  f"    return _numerical(model, x, {step})\n")
        return grade_submission(path, spec, seed=seed)

    large = own_step("0.2")
    assert large.score == large.max_score, [(t.name, t.output) for t in large.tests if t.status != "passed"]
    tiny = own_step("1e-5")
    failed = {t.name: t.output for t in tiny.tests if t.status != "passed"}
    assert list(failed) == ["numerical_gradient"], failed
    assert "whatever eps it is given" in failed["numerical_gradient"]


NO_OP_UPDATE = CORRECT.replace("        self.W -= lr * self.grads['d_W']\n", "        return\n")
SIGN_UPDATE = (EXAMPLES / "mutant_update_sign.py").read_text()
UPDATE_FORGERIES = {  # red team, round 2: each made a wrong update pass (10/10); each earns what its bug does
    "weights made float16 60000 by backward, so rounding excused any step": NO_OP_UPDATE + '''

_backward = RNN.backward

def _backward_then_huge(self, *args, **kwargs):
    grads = _backward(self, *args, **kwargs)
    for name in ("W", "R", "V", "bs", "by"):
        setattr(self, name, np.full(getattr(self, name).shape, 60000.0, dtype=np.float16))
    return grads

RNN.backward = _backward_then_huge
''',
    "backward negated on its second call (update's probe) alone": SIGN_UPDATE + '''

_SEEN = {}
_backward = RNN.backward

def _backward_second_call_negated(self, d_loss):
    grads = _backward(self, d_loss)
    key = (self.W.shape, self.V.shape)
    _SEEN[key] = _SEEN.get(key, 0) + 1
    return {k: -v for k, v in grads.items()} if _SEEN[key] == 2 else grads

RNN.backward = _backward_second_call_negated
''',
}


@pytest.mark.parametrize("attack", list(UPDATE_FORGERIES))
def test_an_update_forged_through_backward_fails_update_alone(tmp_path, spec, attack):
    path = tmp_path / "forged_update.py"
    path.write_text(UPDATE_FORGERIES[attack])
    report = grade_submission(path, spec)
    failed = {t.name: t.output for t in report.tests if t.status != "passed"}
    assert list(failed) == ["update"], failed
    assert report.status == "graded"


def test_a_forged_load_reply_is_the_submissions_fault_never_the_graders(tmp_path, spec):
    """Red team, round 2: student code replaced the child's signature describer so the load reply lacked a
    parameter's "default"; the trusted interface check raised (status error, 'not scored yet', a free regrade
    every run). The load reply is now decoded in full: it is the submission's protocol violation."""
    path = tmp_path / "forged_load_reply.py"
    path.write_text(CORRECT + '''

def _no_default(value, bound):
    return None if value is None else {"params": [{"name": "x", "kind": "POSITIONAL_OR_KEYWORD"}]}

_serve = __import__("sys").modules.get("grader.child.serve")
_patched = _serve is not None and setattr(_serve, "_signature", _no_default)
''')
    report = grade_submission(path, spec)
    assert report.status == "graded" and report.score == 0
    assert not any(t.fault == "grader" for t in report.tests)
    assert "grader's channel" in report.tests[0].output


def test_gradients_under_numpy_string_keys_are_the_right_keys(tmp_path, spec):
    """Fairness (red team, round 2): numpy.str_ is a str; a backward keyed by them is correct."""
    path = tmp_path / "numpy_keys.py"
    path.write_text(CORRECT + '''

_backward = RNN.backward
RNN.backward = lambda self, d_loss: {np.str_(k): v for k, v in _backward(self, d_loss).items()}
''')
    report = grade_submission(path, spec)
    assert report.score == report.max_score, [(t.name, t.output) for t in report.tests if t.status != "passed"]


def test_on_a_function_pack_two_bugs_never_score_more_than_one(tmp_path):
    """Red team, round 2 (sigmoid-unit): f'(y) = y (1 - y) alone scores 2/5; adding a forward without the
    sigmoid made the grader compose the reference's backward with that variant, which the wrong f' then
    matched: 3/5. Backward is judged against the variant forward's exact gradient, computed here."""
    from grader.judge.spec import load as load_spec

    spec = load_spec("sigmoid-unit")
    one_bug = (EXAMPLES / "sigmoid-unit" / "mutant_prime_of_preactivation.py").read_text()
    two_bugs = tmp_path / "two_bugs.py"
    two_bugs.write_text(one_bug + "\n\ndef forward_function(x, hprev, Whx, Whh):\n"
                                  "    return np.dot(Whx, x) + np.dot(Whh, hprev)\n")
    alone = grade_submission(EXAMPLES / "sigmoid-unit" / "mutant_prime_of_preactivation.py", spec)
    both = grade_submission(two_bugs, spec)
    assert both.score < alone.score, (both.score, alone.score)
