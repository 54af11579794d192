"""The contract's principles for every check: honest variation passes, NaN never does, a constant
model earns nothing, reports are reproducible, and feedback never shows hidden expected values.

(List caches and copying get_weights, and credit for the exact gradients of a wrong forward, are
proved by correct_loops.py and mutant_wrong_activation.py in tests/test_examples.py.)"""

from __future__ import annotations

import re

import pytest

import grader.judge.grading

from grader.judge.grading import grade_submission
from grader.report import validate
from grader.judge.spec import EXAMPLES

GRADIENTS = ["gradient_d_W", "gradient_d_R", "gradient_d_V", "gradient_d_bs", "gradient_d_by"]


def test_float32_arithmetic_passes(make_submission, spec):
    """A student who computes in float32 throughout is not penalised for rounding."""
    f32 = "np.float32"
    path = make_submission(
        ("x = np.asarray(x, dtype=np.float64)", f"x = np.asarray(x, dtype={f32})"),
        ("a = np.zeros((T + 1, self.hidden_size))", f"a = np.zeros((T + 1, self.hidden_size), dtype={f32})"),
        ("u = x @ self.W + self.bs", f"u = x @ self.W.astype({f32}) + self.bs.astype({f32})"),
        ("a[t] @ self.R)", f"a[t] @ self.R.astype({f32}))"),
        ("return a[T] @ self.V + self.by", f"return a[T] @ self.V.astype({f32}) + self.by.astype({f32})"),
        ("d_loss = np.asarray(d_loss, dtype=np.float64)", f"d_loss = np.asarray(d_loss, dtype={f32})"),
        ("d_s = np.zeros((T, self.hidden_size))", f"d_s = np.zeros((T, self.hidden_size), dtype={f32})"),
        ("d_a = self.V @ d_loss", f"d_a = self.V.astype({f32}) @ d_loss"),
        ("d_a = self.R @ d_s[t]", f"d_a = self.R.astype({f32}) @ d_s[t]"))
    report = grade_submission(path, spec)
    assert report.failed == [], [(t.name, t.output) for t in report.tests if t.status != "passed"]


def test_nan_never_passes(make_submission, spec):
    path = make_submission(("return a[T] @ self.V + self.by", "return (a[T] @ self.V + self.by) * np.nan"))
    report = grade_submission(path, spec)
    assert "forward_values" in report.failed
    assert "NaN" in {t.name: t.output for t in report.tests}["forward_values"]


def test_constant_model_with_zero_gradients_earns_no_gradient_or_update_points(make_submission, spec):
    source = make_submission().read_text()
    constant = source + '''

def _forward(self, x):
    self._x = x
    return np.zeros(self.V.shape[1])

def _backward(self, d_loss):
    self.grads = {k: np.zeros_like(getattr(self, k[2:])) for k in ("d_W", "d_R", "d_V", "d_bs", "d_by")}
    return self.grads

RNN.forward, RNN.backward = _forward, _backward
'''
    report = grade_submission(make_submission(source=constant, name="constant.py"), spec)
    for name in GRADIENTS + ["update", "forward_values"]:
        assert name in report.failed, name
    assert "all-zero" in {t.name: t.output for t in report.tests}["update"]


def test_same_submission_spec_and_seed_give_the_same_report(spec):
    first = grade_submission(EXAMPLES / "mutant_truncated_bptt.py", spec).to_dict()
    second = grade_submission(EXAMPLES / "mutant_truncated_bptt.py", spec).to_dict()
    for report in (first, second):
        validate(report)
        report.pop("execution_time")
    assert first == second


def test_the_seed_changes_the_hidden_probes(spec):
    one = grade_submission(EXAMPLES / "mutant_truncated_bptt.py", spec, seed=1)
    two = grade_submission(EXAMPLES / "mutant_truncated_bptt.py", spec, seed=2)
    assert one.failed == two.failed and one.seed == 1
    assert [t.output for t in one.tests] != [t.output for t in two.tests]


def test_feedback_never_prints_arrays_of_values():
    """Hidden expected values must not leak: no array of numbers appears in any feedback."""
    number_list = re.compile(r"\[\s*-?\d+\.\d+[\s,]+-?\d+\.\d+")
    for name in ("mutant_truncated_bptt.py", "mutant_wrong_activation.py", "mutant_numgrad_one_sided.py",
                 "mutant_update_sign.py", "seed_student.py"):
        from grader.judge.spec import load
        for test in grade_submission(EXAMPLES / name, load()).tests:
            assert not number_list.search(test.output), (name, test.name, test.output)


def test_uncopyable_model_state_does_not_cost_the_numerical_gradient(make_submission, spec):
    """Nothing of the model is copied or reset by the grader: an attribute that cannot be copied is harmless."""
    path = make_submission(("        self.grads = {}\n", "        self.grads = {}\n        self.log = (i for i in range(3))\n"))
    assert grade_submission(path, spec).failed == []


def test_a_grader_failure_is_never_blamed_on_the_student(monkeypatch, spec):
    from grader.judge import checks

    def broken(ctx, check, result):
        raise KeyError("a bug in the grader")

    monkeypatch.setitem(checks.KINDS, "weights_io", broken)
    report = grade_submission(EXAMPLES / "correct_vectorised.py", spec)
    assert report.failed == ["weights_io"]
    output = {t.name: t.output for t in report.tests}["weights_io"]
    assert "not a problem with your code" in output and "Traceback" not in output


def test_failures_without_a_named_misconception_say_where_to_look(spec):
    report = grade_submission(EXAMPLES / "mutant_forward_shape.py", spec)
    assert "check what np.dot or @ return" in {t.name: t.output for t in report.tests}["forward_shape"]


def test_a_forward_that_goes_wrong_then_returns_nothing_is_judged_not_crashed_on(make_submission, spec):
    """Call 1 wrong, later calls None: the check fails on call 1 and the grader does not trip over call 2."""
    path = make_submission(("return a[T] @ self.V + self.by",
                            "self.calls = getattr(self, 'calls', 0) + 1\n"
                            "        return (a[T] @ self.V + self.by + 1.0) if self.calls == 1 else None"))
    report = grade_submission(path, spec)
    output = {t.name: t for t in report.tests}["forward_values"]
    assert output.status == "failed" and "call 1 of 3" in output.output


def test_a_misshaped_gradient_that_update_cannot_apply_costs_only_its_gradient_check(spec, tmp_path):
    """(H, 1) d_bs when output_size is 1, and an update that applies it as returned (so it raises
    there): the update is right for every gradient of the documented shape, so it keeps its point."""
    source = (EXAMPLES / "mutant_bias_grad_column.py").read_text()
    source = source.replace("self.bs -= lr * self.grads['d_bs'].ravel()", "self.bs -= lr * self.grads['d_bs']")
    path = tmp_path / "no_ravel.py"
    path.write_text(source)
    assert grade_submission(path, spec).failed == ["gradient_d_bs"]


# ------------------------------------------------------------------ numerical gradient at scale

def sampled_spec(tmp_path, samples: int):
    """The default spec, with numerical_gradient's sampled path forced on its small models."""
    import json

    from grader.judge.spec import SPECS

    data = json.loads((SPECS / "rnn-seq2one.json").read_text())
    for check in data["checks"]:
        if check["kind"] == "numerical_gradient":
            check.update(full_up_to=10, samples=samples)
    path = tmp_path / "sampled.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("example", ["correct_vectorised.py", "correct_loops.py", "mutant_numgrad_one_sided.py",
                                     "mutant_numgrad_keys.py", "mutant_numgrad_no_restore.py",
                                     "mutant_wrong_activation.py", "mutant_stateful_forward.py",
                                     "mutant_forward_no_bias.py", "seed_student.py"])
def test_sampled_differences_judge_numerical_gradient_like_full_ones(example, tmp_path):
    """Above `full_up_to` weight entries the check differences a sample of entries and holds the rest
    to the exact gradient (or, for a forward of the student's own, to random directional differences):
    it must reach the same verdict, and name the same misconception, as differencing every entry."""
    import json

    from grader.judge.spec import EXAMPLES, load

    path = sampled_spec(tmp_path, samples=3)
    expected = json.loads((EXAMPLES / "expectations.json").read_text())[example]
    report = grader.judge.grading.grade_submission(EXAMPLES / example, load(path))
    numgrad = next(t for t in report.tests if t.name == "numerical_gradient")
    assert (numgrad.status != "passed") == ("numerical_gradient" in expected["fails"]), numgrad.output
    named = {d.id for d in numgrad.diagnoses}
    assert named - {"forward_keeps_state"} == {d for d in expected["diagnoses"] if d.startswith("numgrad")}, numgrad.output


def test_sampled_differences_catch_an_error_in_entries_they_did_not_difference(make_submission, tmp_path):
    """A numerical gradient that is wrong only in its last entry of W: the sample (of other entries)
    cannot see it, the check of every entry against the exact gradient must."""
    from grader.judge.spec import load

    path = sampled_spec(tmp_path, samples=1)
    wrong_last_entry = ("        grads['d_' + name] = grad\n",
                        "        if name == 'W':\n            grad.reshape(-1)[-1] *= 1.5\n"
                        "        grads['d_' + name] = grad\n")
    # with the reference's forward the exact gradient judges every entry; with a forward of the
    # student's own (sigmoid), random directional differences of that forward do
    sigmoid = (EXAMPLES / "mutant_wrong_activation.py").read_text()
    for sub, other_failures in ((make_submission(wrong_last_entry), []),
                                (make_submission(wrong_last_entry, source=sigmoid, name="sig.py"), ["forward_values"])):
        for seed in range(4):  # whatever the sample, the last entry is judged
            report = grader.judge.grading.grade_submission(sub, load(path), seed=seed)
            numgrad = next(t for t in report.tests if t.name == "numerical_gradient")
            assert numgrad.status == "failed", (sub.name, seed)
            assert [t.name for t in report.tests if t.status != "passed"] == [*other_failures, "numerical_gradient"]


@pytest.mark.parametrize("example", ["correct_vectorised.py", "mutant_numgrad_one_sided.py",
                                     "mutant_numgrad_no_restore.py", "mutant_wrong_activation.py"])
def test_numerical_gradient_on_a_large_model_is_asked_for_on_a_smaller_one(example, tmp_path):
    """At hidden size 64 a student's differences cost ~9,000 forward calls; the check asks for them on a
    model of at most `most_entries` weights (says which) and reaches the same verdict."""
    import json

    from grader.judge.spec import EXAMPLES, SPECS, load

    data = json.loads((SPECS / "rnn-seq2one.json").read_text())
    data["configs"] = [dict(c, hidden_size=64, steps=50) for c in data["configs"]]
    path = tmp_path / "large.json"
    path.write_text(json.dumps(data))
    expected = json.loads((EXAMPLES / "expectations.json").read_text())[example]
    report = grader.judge.grading.grade_submission(EXAMPLES / example, load(path))
    numgrad = next(t for t in report.tests if t.name == "numerical_gradient")
    assert (numgrad.status != "passed") == ("numerical_gradient" in expected["fails"]), numgrad.output
    assert {d.id for d in numgrad.diagnoses} == {d for d in expected["diagnoses"] if d.startswith("numgrad")}
    if numgrad.status != "passed":
        assert "hidden_size=64" not in numgrad.output and "T=5" in numgrad.output, numgrad.output


def test_a_lossy_set_weights_is_judged_against_what_was_set(make_submission, spec):
    """A set_weights that stores float16 loses what was set: weights_io fails, however exact the float16
    round trip is on its own terms. float32 (an honest style) keeps full marks (correct_float32.py)."""
    path = make_submission(("setattr(self, k, np.array(weights[k], dtype=np.float64))",
                            "setattr(self, k, np.array(weights[k], dtype=np.float16))"))
    assert grade_submission(path, spec).failed == ["weights_io"]
