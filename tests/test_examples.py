"""Every example in submissions_example/ fails exactly the checks its expectation lists."""

from __future__ import annotations

import json

import pytest

from grader.report import validate
from grader.judge.spec import EXAMPLES, load

EXPECTATIONS = json.loads((EXAMPLES / "expectations.json").read_text())
CHECKS = [c["name"] for c in load().checks]


def test_every_example_has_an_expectation_and_every_expectation_a_file():
    files = {p.name for p in EXAMPLES.iterdir() if p.suffix in (".py", ".ipynb")}
    assert files == set(EXPECTATIONS)
    for name, entry in EXPECTATIONS.items():
        assert set(entry["fails"]) <= set(CHECKS), name


def test_enough_examples_of_each_kind():
    names = list(EXPECTATIONS)
    assert sum(n.startswith("correct_") for n in names) >= 2
    assert sum(n.startswith("mutant_") for n in names) >= 12
    assert sum(n.startswith("hostile_") for n in names) >= 6


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_example_fails_exactly_its_expected_checks(name, graded):
    report = graded(name)
    data = report.to_dict()
    validate(data)
    assert sorted(report.failed) == sorted(EXPECTATIONS[name]["fails"]), [
        (t.name, t.output) for t in report.tests if t.status != "passed"]
    expected_score = sum(c["points"] for c in load().checks if c["name"] not in EXPECTATIONS[name]["fails"])
    assert report.score == pytest.approx(expected_score)
    for test in report.tests:
        if test.status != "passed":
            assert test.output, f"{test.name} failed without saying why"
    # each named misconception fires on its own example and stays silent on every other one
    assert sorted(d.id for d in report.diagnoses) == EXPECTATIONS[name]["diagnoses"]


@pytest.mark.parametrize("name", ["correct_vectorised.py", "correct_loops.py"])
def test_correct_examples_score_full_marks(name, graded):
    report = graded(name)
    assert (report.score, report.max_score) == (10.0, 10.0)
    assert report.diagnoses == []


def test_seed_student_is_told_what_is_wrong(graded):
    """The real student's two bugs are named, with a hint, and only those."""
    report = graded("seed_student.py")
    ids = {d.id: d.checks for d in report.diagnoses}
    assert ids == {"gradient_wrong_shape": ["gradient_d_bs"], "update_wrong_direction": ["update"],
                   "update_rescaled": ["update"]}
    by_name = {t.name: t for t in report.tests}
    assert "output_size=1" in by_name["gradient_d_bs"].output and "(3, 1)" in by_name["gradient_d_bs"].output
    # the notebook's get_ipython() lines were not run, and the student is told so
    assert "IPython commands (lines 401, 407)" in by_name["interface"].output
    assert by_name["interface"].status == "passed"


def test_hang_in_update_costs_only_update_and_one_limit(graded):
    report = graded("hostile_hang_update.py")
    assert report.failed == ["update"]
    outputs = {t.name: t.output for t in report.tests}
    assert "did not finish within 5 s" in outputs["update"]
    assert not [name for name, text in outputs.items() if name != "update" and "did not finish" in text]


# ------------------------------------------------------------------ the correct examples, without the grader

def _load_example(name: str):
    """Import an example of ours in this process (never a hostile one): the oracle below must not
    depend on the grader it is evidence for."""
    import contextlib
    import importlib.util
    import io

    spec = importlib.util.spec_from_file_location(f"example_{name[:-3]}", EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    with contextlib.redirect_stdout(io.StringIO()):
        spec.loader.exec_module(module)
    return module


def _oracle_problems(module, reference) -> list[str]:
    """What a TA checking by hand against the reference would find wrong (empty: the example is correct).

    The spec's tolerances (forward 1e-5, gradients and update 1e-4, numerical gradient 1e-4 at eps=1e-2),
    on the spec's configurations and two more, with weights set as attributes and through set_weights."""
    import contextlib
    import io

    import numpy as np

    from grader.judge.compare import rel_error, same_values

    names, problems = ("W", "R", "V", "bs", "by"), []
    rng = np.random.default_rng(2024)
    configs = [{k: c[k] for k in ("input_size", "hidden_size", "output_size", "steps")} for c in load().configs]
    configs += [dict(input_size=2, hidden_size=6, output_size=2, steps=7), dict(input_size=5, hidden_size=1,
                                                                                  output_size=1, steps=2)]
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        np.random.seed(0)
        big = module.RNN(40, 50, 30)
        for n, (shape, zero) in {"W": ((40, 50), False), "R": ((50, 50), False), "V": ((50, 30), False),
                                 "bs": ((50,), True), "by": ((30,), True)}.items():
            v = np.asarray(getattr(big, n))
            if v.shape != shape:
                problems.append(f"init {n} shape {v.shape}")
            elif zero and np.any(v != 0):
                problems.append(f"init {n} not zero")
            elif not zero and not (v.min() >= -0.2 and v.max() <= 0.2 and v.max() - v.min() > 0.36
                                   and abs(v.std() - 0.4 / np.sqrt(12)) < 0.1 * 0.4 / np.sqrt(12)):
                problems.append(f"init {n} is not U(-0.2, 0.2)")
        for c, via_set_weights in [(c, s) for c in configs for s in (False, True)]:
            I, H, O, T = c["input_size"], c["hidden_size"], c["output_size"], c["steps"]
            w = {"W": rng.uniform(-.6, .6, (I, H)), "R": rng.uniform(-.6, .6, (H, H)),
                 "V": rng.uniform(-.6, .6, (H, O)), "bs": rng.uniform(-.6, .6, H), "by": rng.uniform(-.6, .6, O)}
            x, d_loss = rng.normal(size=(T, I)), rng.normal(size=O)
            where = f"{c} via {'set_weights' if via_set_weights else 'attributes'}"

            def fresh(I=I, H=H, O=O, via_set_weights=via_set_weights, w=w):  # (bound now, not at call time)
                m = module.RNN(I, H, O)
                if via_set_weights:
                    m.set_weights({k: v.copy() for k, v in w.items()})
                else:
                    for k, v in w.items():
                        setattr(m, k, v.copy())
                return m

            m = fresh()
            y_ref = reference.forward(w, x)[0]
            for call in range(3):
                y = np.asarray(m.forward(x.copy()))
                if y.shape != (O,) or rel_error(y, y_ref) > 1e-5:
                    problems.append(f"{where}: forward call {call + 1}")
            m = fresh()
            m.forward(x.copy())
            g = m.backward(d_loss.copy())
            g_ref = reference.backward(w, x, d_loss)
            for k in names:
                got = np.asarray(g.get("d_" + k))
                if got.shape != w[k].shape or rel_error(got, g_ref["d_" + k]) > 1e-4:
                    problems.append(f"{where}: d_{k}")
            before = {k: np.array(getattr(m, k), dtype=float) for k in names}
            m.update(0.37)
            for k in names:
                after = np.asarray(getattr(m, k))
                step, want = after.astype(float) - before[k], -0.37 * g_ref["d_" + k]
                # a float32 model rounds a weight it was handed in float64 when it stores it again: an
                # exactly-zero gradient (d_R when T = 1) then moves it by that rounding, and no TA minds
                rounding = 4 * np.finfo(after.dtype).eps * np.max(np.abs(before[k])) if after.dtype.kind == "f" else 0
                if step.shape != w[k].shape or (rel_error(step, want) > 1e-4
                                                 and np.max(np.abs(step - want)) > rounding):
                    problems.append(f"{where}: update {k}")
            m = fresh()
            got = m.get_weights()
            if set(got) != set(names) or not all(same_values(np.asarray(got[k]), w[k]) for k in names):
                problems.append(f"{where}: get_weights")
            for missing in ("W", "R", "V"):
                try:
                    m.set_weights({k: v for k, v in w.items() if k != missing})
                    problems.append(f"{where}: set_weights without {missing} did not raise")
                except ValueError:
                    pass
            m = fresh()
            held = {k: np.array(getattr(m, k)) for k in names}
            num = module.get_numerical_gradient(m, x.copy(), 1e-2)
            for k in names:
                if not same_values(np.asarray(getattr(m, k)), held[k], held[k].dtype):
                    problems.append(f"{where}: numerical gradient left {k} changed")
                want = np.zeros(held[k].shape)
                for i in np.ndindex(held[k].shape):
                    sums = []
                    for sign in (1, -1):
                        nudged = {n: held[n].astype(float) for n in names}
                        nudged[k][i] += sign * 1e-2
                        sums.append(np.sum(reference.forward(nudged, x)[0]))
                    want[i] = (sums[0] - sums[1]) / 2e-2
                got = np.asarray(num.get("d_" + k))
                if got.shape != want.shape or rel_error(got, want) > 1e-4:
                    problems.append(f"{where}: numerical d_{k}")
    if len(sink.getvalue().encode()) > 64 * 1024:
        problems.append("prints more than 64 KiB")
    return problems


CORRECT_EXAMPLES = sorted(n for n in EXPECTATIONS if n.startswith("correct_") and n.endswith(".py"))


@pytest.mark.parametrize("name", CORRECT_EXAMPLES)
def test_correct_example_is_correct_by_the_reference_alone(name):
    """Each correct_* example is checked against the reference's pure forward/backward here, with no
    grader involved, so `fails: []` in expectations.json is a fact about the code, not about the grader."""
    assert EXPECTATIONS[name]["fails"] == [] and EXPECTATIONS[name]["diagnoses"] == []
    assert _oracle_problems(_load_example(name), load().reference) == []
