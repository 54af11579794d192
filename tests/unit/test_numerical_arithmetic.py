"""The numerical-gradient judge's arithmetic: which entries to difference, the nudged weights, the
two- and one-sided differences, and the size a student's own differences are asked for at."""

from __future__ import annotations

import numpy as np

from grader.judge.checks.numerical import affordable, difference_coordinates, differences_at, nudged_weight_sets
from grader.judge.spec import load


def quadratic(weights: dict) -> float:
    return float(sum(np.sum(w ** 2) for w in weights.values()))


def test_central_differences_of_a_quadratic_are_exact_and_one_sided_ones_are_not():
    rng = np.random.default_rng(1)
    weights = {"W": rng.normal(size=(2, 3)), "b": rng.normal(size=3)}
    coords = difference_coordinates(weights, full_up_to=100, samples=4, rng=rng)
    assert all(len(coords[p]) == w.size for p, w in weights.items())  # small: every entry
    values = [quadratic(w) for w in nudged_weight_sets(weights, 1e-2, coords)]
    two, one = differences_at(values, 1e-2, coords)
    for p, w in weights.items():
        assert np.allclose(two[p], 2 * w.ravel(), atol=1e-10)
        assert np.allclose(one[p], 2 * w.ravel() + 1e-2, atol=1e-10)  # the eps * f'' of a one-sided step


def test_large_models_are_sampled_and_each_nudge_moves_one_entry():
    rng = np.random.default_rng(2)
    weights = {"W": np.zeros((20, 20))}
    coords = difference_coordinates(weights, full_up_to=100, samples=8, rng=rng)
    assert len(coords["W"]) == 8 and len(set(coords["W"])) == 8
    sets = nudged_weight_sets(weights, 0.5, coords)
    assert len(sets) == 1 + 2 * 8
    assert all(np.count_nonzero(s["W"]) == 1 for s in sets[1:])
    assert np.count_nonzero(weights["W"]) == 0  # the weights themselves are untouched


def test_a_large_configuration_is_shrunk_for_the_students_own_differences():
    spec = load()
    big = {"input_size": 64, "hidden_size": 64, "output_size": 10, "steps": 50}

    class Ctx:
        pass

    ctx = Ctx()
    ctx.spec = spec
    small = affordable(ctx, big, 400)
    entries = sum(int(np.prod(s)) for s in spec.parameter_shapes(small).values())
    assert entries <= 400 and small["steps"] == 5
    assert affordable(ctx, spec.configs[0], 400) == spec.configs[0]
