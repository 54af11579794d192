"""Sound judging: a forward that can tell it is being watched gains nothing.

Each attack hands out garbage gradients (backward and get_numerical_gradient return 0.1 everywhere) and
gives a forward that tries to make the grader's re-runs agree with that garbage: from memory of where it
handed garbage out, from the weights it has seen, from call counts, from the call stack, from timing.
Judged soundly, each loses exactly what its bugs cost honestly. Honest styles that the old judge (which
patched the student's object) failed are checked beside them.
"""

from __future__ import annotations

import pytest

from grader.judge.grading import grade_submission
from grader.judge.spec import EXAMPLES

GRADIENTS = ["gradient_d_R", "gradient_d_V", "gradient_d_W", "gradient_d_bs", "gradient_d_by"]

# A correct tanh RNN whose forward goes through `_answer(self, w, y)`; backward and the numerical
# gradient hand out 0.1 everywhere, and say where they did it.
ATTACK = '''
import inspect, time
import numpy as np

SCALE = {scale}
handed_out = []   # (weights, d_loss or None, output there): where garbage was handed out
seen = []         # (weights, answer): every call of forward in this process
calls = [0]
last_time = [0.0]


def flat(m):
    return np.concatenate([np.ravel(getattr(m, k)) for k in ("W", "R", "V", "bs", "by")])


class RNN:
    def __init__(self, input_size, hidden_size, output_size):
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)

    def forward(self, x):
        self.x = x
        y = true_forward(self, x)
        w = flat(self)
        answer = _answer(self, w, y)
        calls[0] += 1
        last_time[0] = time.monotonic()
        seen.append((w, answer))
        return answer

    def backward(self, d_loss):
        handed_out.append((flat(self), np.asarray(d_loss, dtype=float).ravel(), true_forward(self, self.x)))
        return {{"d_" + k: np.full(np.shape(getattr(self, k)), 0.1) for k in ("W", "R", "V", "bs", "by")}}

    def update(self, lr):
        for k in ("W", "R", "V", "bs", "by"):
            setattr(self, k, getattr(self, k) - lr * 0.1)

    def get_weights(self):
        return {{k: getattr(self, k) for k in ("W", "R", "V", "bs", "by")}}

    def set_weights(self, weights):
        for k in ("W", "R", "V"):
            if k not in weights:
                raise ValueError(k)
        for k, v in weights.items():
            setattr(self, k, np.array(v, dtype=float))


def true_forward(model, x):
    a = np.zeros(model.W.shape[1])
    for t in range(x.shape[0]):
        a = np.tanh(x[t] @ model.W + a @ model.R + model.bs)
    return (a @ model.V + model.by) * SCALE


def get_numerical_gradient(model, x, eps):
    handed_out.append((flat(model), None, true_forward(model, x)))
    return {{"d_" + k: np.full(np.shape(getattr(model, k)), 0.1) for k in ("W", "R", "V", "bs", "by")}}


def _affine_from(w0, y0, d_loss, w, y):
    """An answer whose slope from (w0, y0) is 0.1 per weight entry, along d_loss (or along sum(y))."""
    if d_loss is None and handed_out and handed_out[-1][1] is not None and handed_out[-1][1].shape == y.shape:
        d_loss = handed_out[-1][1]
    c = np.full(y.shape, 0.1 / y.size) if d_loss is None else 0.1 * d_loss / float(d_loss @ d_loss)
    return y0 + c * float(np.sum(w - w0))


{strategy}
'''

STRATEGIES = {
    # near a point where garbage was handed out, be affine with the garbage as gradient
    "memory": '''
def _answer(self, w, y):
    for w0, d_loss, y0 in handed_out:
        if w0.shape == w.shape and np.max(np.abs(w - w0)) < 0.05:
            return _affine_from(w0, y0, d_loss, w, y)
    return y
''',
    # recognise the second half of a difference from the weights seen before, and answer it to suit
    "weights seen": '''
def _answer(self, w, y):
    for w0, y0 in reversed(seen):
        if w0.shape == w.shape and 0 < np.max(np.abs(w - w0)) < 0.05:
            return _affine_from(w0, y0, None, w, y)
    return y
''',
    # after the first few calls of a process, everything is affine around the first answer
    "call count": '''
def _answer(self, w, y):
    if calls[0] >= 3 and seen and seen[0][0].shape == w.shape:
        return _affine_from(seen[0][0], seen[0][1], None, w, y)
    return y
''',
    # called by anything but the student's own code (the grader's step loop): affine near the last call
    "stack": '''
def _answer(self, w, y):
    mine = any(f.function == "get_numerical_gradient" for f in inspect.stack())
    if not mine and seen and seen[-1][0].shape == w.shape:
        return _affine_from(seen[-1][0], seen[-1][1], None, w, y)
    return y
''',
    # calls in quick succession are a check being run: affine near the previous call
    "timing": '''
def _answer(self, w, y):
    if time.monotonic() - last_time[0] < 0.05 and seen and seen[-1][0].shape == w.shape:
        return _affine_from(seen[-1][0], seen[-1][1], None, w, y)
    return y
''',
    # the old judge put a patched forward into the instance: attack only when watched that way
    "watched": '''
def _answer(self, w, y):
    if "forward" not in vars(self):
        return y
    for w0, d_loss, y0 in handed_out:
        if w0.shape == w.shape and np.max(np.abs(w - w0)) < 0.05:
            return _affine_from(w0, y0, d_loss, w, y)
    return y
''',
}


def attack(tmp_path, strategy: str, scale: str) -> str:
    path = tmp_path / f"attack_{strategy.replace(' ', '_')}.py"
    path.write_text(ATTACK.format(scale=scale, strategy=STRATEGIES[strategy]))
    return path


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_forward_close_enough_to_pass_gets_the_reference_as_judge(tmp_path, spec, strategy):
    """forward = the RNN times (1 + 1e-5) passes forward_values; then the reference decides, and garbage
    gradients and differences fail: 4.5/10, as honestly."""
    report = grade_submission(attack(tmp_path, strategy, "(1 + 1e-5)"), spec)
    assert set(GRADIENTS + ["numerical_gradient"]) <= set(report.failed), report.failed
    assert report.score <= 4.5  # (a strategy that also bends forward_values' own calls loses that too)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_wrong_forward_cannot_steer_its_own_re_runs(tmp_path, spec, strategy):
    """forward = the RNN times 1.01 fails forward_values, so the grader follows that forward, in fresh
    children, one half of each difference per child: nothing the forward remembers, counts or sees on
    the stack makes the garbage match it. 3/10, as honestly."""
    report = grade_submission(attack(tmp_path, strategy, "1.01"), spec)
    assert sorted(report.failed) == sorted(GRADIENTS + ["forward_values", "numerical_gradient"]), report.failed
    assert report.score == pytest.approx(3.0)


def test_the_attacks_gain_nothing_without_the_deeper_isolation_layers(tmp_path, spec, monkeypatch):
    """The separation is by process, not by sandbox layer: with resource limits only, the same holds."""
    monkeypatch.setenv("GRADER_ISOLATION", "minimal")
    for strategy in ("memory", "weights seen"):
        report = grade_submission(attack(tmp_path, strategy, "1.01"), spec)
        assert report.score == pytest.approx(3.0), (strategy, report.failed)
        assert "landlock" in report.isolation["missing"]


def test_the_student_objects_are_never_patched(make_submission, spec):
    """A forward that refuses to run once anything of the grader's sits in its instance, class or module
    still gets full marks: the grader only sets the documented attributes and calls the documented
    methods."""
    path = make_submission(("    def forward(self, x: np.ndarray) -> np.ndarray:\n",
                            "    def forward(self, x: np.ndarray) -> np.ndarray:\n"
                            "        extra = set(vars(self)) - {'input_size', 'hidden_size', 'output_size', 'W', 'R',"
                            " 'V', 'bs', 'by', 'x', 'a', 'grads'}\n"
                            "        if extra or type(self).forward is not RNN.__dict__['forward']:\n"
                            "            raise RuntimeError(f'patched: {sorted(extra)}')\n"))
    assert grade_submission(path, spec).failed == []


HONEST_NUMGRAD = {
    "deepcopy": '''
def get_numerical_gradient(model, x, eps):
    import copy
    grads = {}
    for name in ("W", "R", "V", "bs", "by"):
        P = getattr(model, name)
        g = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            plus, minus = copy.deepcopy(model), copy.deepcopy(model)
            getattr(plus, name)[idx] += eps
            getattr(minus, name)[idx] -= eps
            g[idx] = (np.sum(plus.forward(x)) - np.sum(minus.forward(x))) / (2 * eps)
        grads["d_" + name] = g
    return grads
''',
    "shallow copy with copied arrays": '''
def get_numerical_gradient(model, x, eps):
    import copy
    grads = {}
    for name in ("W", "R", "V", "bs", "by"):
        P = getattr(model, name)
        g = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            values = []
            for sign in (1, -1):
                other = copy.copy(model)
                nudged = P.copy()
                nudged[idx] += sign * eps
                setattr(other, name, nudged)
                values.append(np.sum(other.forward(x)))
            g[idx] = (values[0] - values[1]) / (2 * eps)
        grads["d_" + name] = g
    return grads
''',
}


@pytest.mark.parametrize("style", sorted(HONEST_NUMGRAD))
def test_a_numerical_gradient_on_copies_of_the_model_gets_full_marks(make_submission, spec, style):
    text = (EXAMPLES / "correct_vectorised.py").read_text()
    head = text[: text.index("def get_numerical_gradient")]
    assert grade_submission(make_submission(source=head + HONEST_NUMGRAD[style]), spec).failed == []


def test_a_wrong_forward_with_its_own_consistent_backward_loses_forward_values_only(spec):
    """The variant route serves honest students: a sigmoid network (the declared variant) with the sigmoid's own
    gradients and a correct numerical gradient loses forward_values and nothing else."""
    report = grade_submission(EXAMPLES / "mutant_wrong_activation.py", spec)
    assert report.failed == ["forward_values"]


def test_a_forward_that_skips_its_last_step_costs_the_forward_checks_only(spec):
    """On T = 1 that forward reads no input and is affine: the grader does not fail the student's correct
    gradients and differences there, it judges them on the configurations where the forward is not
    degenerate."""
    report = grade_submission(EXAMPLES / "mutant_skips_last_step.py", spec)
    assert report.failed == ["forward_values"]
