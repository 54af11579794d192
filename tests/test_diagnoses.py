"""Named misconceptions are specific: each fires on its own mutants and on nothing else.

Driven by submissions_example/expectations.json, so it grows with the examples: every diagnosis the
grader can name has a single-bug mutant that it explains whole, and it stays silent on the correct
submissions and on every other example. The detectors are also crossed directly on the reference's
own wrong variants, in the grader's process, for every configuration of the spec.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from grader.judge import diagnoses
from grader.judge.compare import rel_error
from grader.judge.spec import EXAMPLES, load
from grader.report.views import render_text

EXPECTATIONS = json.loads((EXAMPLES / "expectations.json").read_text())
SPEC = load()
REFERENCE = SPEC.reference
TEXTS = {**diagnoses.CATALOGUE, **REFERENCE.DIAGNOSES}
SINGLE_BUG = {name: entry["diagnoses"][0] for name, entry in EXPECTATIONS.items()
              if name.startswith("mutant_") and len(entry["diagnoses"]) == 1}


def test_every_diagnosis_has_a_single_bug_mutant_and_every_expected_one_exists():
    from grader.judge.selftest import expectations
    from grader.judge.spec import available

    # a generic diagnosis may be shown by another spec's examples (a per-sample gradient needs a batch)
    elsewhere = {entry["diagnoses"][0] for other in available() if other.id != SPEC.id
                 for name, entry in expectations(other).items()
                 if name.startswith("mutant_") and len(entry["diagnoses"]) == 1}
    missing = set(TEXTS) - set(SINGLE_BUG.values()) - (elsewhere & set(diagnoses.CATALOGUE))
    assert missing == set(), "diagnoses without a mutant of their own"
    named = {d for entry in EXPECTATIONS.values() for d in entry["diagnoses"]}
    assert named <= set(TEXTS), "expectations name diagnoses the grader does not know"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("diagnosis_id", sorted(TEXTS))
def test_diagnosis_fires_on_its_own_mutants_and_nowhere_else(diagnosis_id, graded):
    own = sorted(name for name, entry in EXPECTATIONS.items() if diagnosis_id in entry["diagnoses"])
    fired = sorted(name for name in EXPECTATIONS if diagnosis_id in {d.id for d in graded(name).diagnoses})
    assert fired == own


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_diagnoses_explain_failed_checks_only_with_fixed_texts(name, graded):
    """A diagnosis names checks that failed, and its words are the catalogue's (nothing hidden is
    interpolated). A single-bug mutant's one diagnosis explains every check it fails."""
    report = graded(name)
    for d in report.diagnoses:
        assert set(d.checks) <= set(report.failed), d.id
        assert (d.message, d.hint) == TEXTS[d.id]
    if name in SINGLE_BUG:
        assert [(d.id, sorted(d.checks)) for d in report.diagnoses] == [
            (SINGLE_BUG[name], sorted(EXPECTATIONS[name]["fails"]))]


def test_text_view_shows_diagnoses_before_the_checks(graded):
    report = graded("seed_student.py")
    text = render_text(report)
    first_check = re.search(r"^  (ok|FAIL|ERROR) ", text, re.M).start()
    assert len(report.diagnoses) == 3
    for d in report.diagnoses:
        assert text.index(d.message) < first_check
        assert "Hint: " + d.hint.split()[0] in text


# ------------------------------------------------------------------ detectors crossed on the variants

def probes(salt: int):
    """Hidden-like weights, input and d_loss for every configuration with more than one step (with one
    step, several variants coincide with the reference and there is nothing to name)."""
    rng = np.random.default_rng(salt)
    for config in SPEC.configs:
        if config["steps"] > 1:
            weights = {p: rng.uniform(-0.6, 0.6, s) for p, s in SPEC.parameter_shapes(config).items()}
            x = rng.normal(size=(config["steps"], config["input_size"]))
            d_loss = rng.normal(size=config["output_size"])
            yield {"weights": weights, "x": x, "d_loss": d_loss,
                   "grads_ref": REFERENCE.backward(weights, x, d_loss)}


@pytest.mark.parametrize("variant_id", sorted(REFERENCE.MISCONCEPTIONS))
def test_gradient_detector_names_exactly_the_variant_that_made_the_gradient(variant_id):
    variant = REFERENCE.MISCONCEPTIONS[variant_id]
    wrong_keys = 0
    for probe in probes(1):
        got = variant(probe["weights"], probe["x"], probe["d_loss"])
        for key, want in probe["grads_ref"].items():
            if rel_error(got[key], want) > 1e-4:
                wrong_keys += 1
                assert diagnoses.gradient_misconceptions(REFERENCE, probe, key, got[key], 1e-4) == [variant_id]
    assert wrong_keys > 0


def test_gradient_detector_names_shape_mistakes_and_nothing_for_an_unknown_error():
    for probe in probes(2):
        for key, want in probe["grads_ref"].items():
            named = diagnoses.gradient_misconceptions
            assert named(REFERENCE, probe, key, want[..., None], 1e-4) == ["gradient_wrong_shape"]
            if want.ndim == 2 and min(want.shape) > 1:  # a transposed vector is only reshaped
                assert named(REFERENCE, probe, key, want.T.copy(), 1e-4) == ["gradient_transposed"]
            assert named(REFERENCE, probe, key, want + 0.3, 1e-4) == []


@pytest.mark.parametrize("variant_id", sorted(REFERENCE.VARIANTS))
def test_forward_detector_names_exactly_the_variant_that_made_the_outputs(variant_id):
    variant = REFERENCE.VARIANTS[variant_id]["forward"]
    for probe in probes(3):
        xs = [probe["x"], probe["x"][::-1].copy(), probe["x"] * 0.5]
        outputs = [variant(probe["weights"], x)[0] for x in xs]
        assert diagnoses.forward_misconceptions(REFERENCE, probe["weights"], xs, outputs, 1e-5) == [variant_id]


def test_forward_detector_names_kept_state_and_is_silent_on_right_outputs():
    for probe in probes(4):
        w, x = probe["weights"], probe["x"]
        xs = [x, x, x]
        right = [REFERENCE.forward(w, x)[0]] * 3
        assert diagnoses.forward_misconceptions(REFERENCE, w, xs, right, 1e-5) == []
        carried = [right[0], right[0] * 1.1, right[0] * 1.2]  # the first call on a fresh model is right
        assert diagnoses.forward_misconceptions(REFERENCE, w, xs, carried, 1e-5) == ["forward_keeps_state"]


def test_update_detector_tells_direction_size_and_skipping_apart():
    expected = -0.1 * np.random.default_rng(5).normal(size=(3, 4))
    named = diagnoses.update_misconceptions
    assert named(-expected, expected, 1e-4) == ["update_wrong_direction"]
    assert named(expected / 5, expected, 1e-4) == ["update_rescaled"]
    assert named(-expected / 5, expected, 1e-4) == ["update_wrong_direction", "update_rescaled"]
    assert named(np.zeros_like(expected), expected, 1e-4) == ["update_skips_parameter"]
    assert named(expected + 0.05, expected, 1e-4) == []


def test_shape_detector_names_swapped_dimensions_only():
    assert diagnoses.shape_misconceptions((4, 3), (3, 4)) == ["weights_stored_transposed"]
    assert diagnoses.shape_misconceptions((4, 4), (4, 4)) == []
    assert diagnoses.shape_misconceptions((4, 1), (4,)) == []
    assert diagnoses.shape_misconceptions((3, 5), (3, 4)) == []


def test_readme_lists_every_diagnosis_id():
    readme = (EXAMPLES.parent / "README.md").read_text()
    assert [d for d in sorted(TEXTS) if f"`{d}`" not in readme] == []


def test_renamed_gradient_keys_are_found_under_the_names_students_use():
    from grader.judge.checks.common import find_key

    for key in ("dW", "W", "grad_W", "d_w"):
        assert find_key({key: 1.0, "d_R": 2.0}, "d_W", "W") == (1.0, key)
    assert find_key({"d_R": 2.0, "dV": 3.0}, "d_W", "W") == (None, None)


@pytest.mark.parametrize("variant_id", sorted(REFERENCE.VARIANTS))
def test_each_variants_backward_is_the_exact_gradient_of_its_forward(variant_id):
    """A variant judges a student's backward, so its own backward must be right: checked against the
    grader's central differences of its forward."""
    from grader.judge.variants import central_gradient

    variant = REFERENCE.VARIANTS[variant_id]
    keys = {p: "d_" + p for p in ("W", "R", "V", "bs", "by")}
    for probe in probes(2):
        w, x, d = probe["weights"], probe["x"], probe["d_loss"]
        exact = variant["backward"](w, x, d)
        numeric = central_gradient(lambda w, x: np.ravel(variant["forward"](w, x)[0]), w, x, d, keys)
        for key in keys.values():
            assert np.allclose(exact[key], numeric[key], atol=1e-7), (variant_id, key)
