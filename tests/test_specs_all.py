"""Every shipped spec: its reference scores full marks, each of its examples fails exactly the checks
its expectations.json lists (with exactly the named misconceptions), `grade --list-specs` lists it, and
no engine module knows any spec by name (assignments are data plus a reference, never code).

rnn-seq2one's own examples are covered check by check in test_examples.py; here, every other spec's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.judge import spec as specs
from grader.cli import main
from grader.judge.grading import grade_submission
from grader.report import PASSED
from grader.judge.selftest import expectations

SPECS = specs.available()
OTHER_EXAMPLES = [(s.id, name) for s in SPECS if s.id != specs.DEFAULT_SPEC for name in sorted(expectations(s))]
ENGINE = Path(specs.__file__).parent.parent  # the whole package, every sub-package


@pytest.mark.parametrize("spec_id", [s.id for s in SPECS])
def test_reference_scores_full_marks(spec_id):
    spec = specs.load(spec_id)
    report = grade_submission(specs.REFERENCES / spec.data["reference"], spec)
    assert report.score == report.max_score > 0, [(t.name, t.output) for t in report.tests if t.status != PASSED]
    assert report.diagnoses == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("spec_id, name", OTHER_EXAMPLES)
def test_example_fails_exactly_its_expected_checks(spec_id, name):
    spec = specs.load(spec_id)
    entry = expectations(spec)[name]
    report = grade_submission(spec.examples / name, spec)
    assert sorted(report.failed) == sorted(entry["fails"]), [
        (t.name, t.output) for t in report.tests if t.status != PASSED]
    assert sorted(d.id for d in report.diagnoses) == sorted(entry["diagnoses"])
    assert report.score == pytest.approx(sum(c["points"] for c in spec.checks if c["name"] not in entry["fails"]))
    for test in report.tests:
        if test.status != PASSED:
            assert test.output, f"{test.name} failed without saying why"


@pytest.mark.parametrize("spec_id", [s.id for s in SPECS if s.id != specs.DEFAULT_SPEC])
def test_every_spec_has_a_correct_example_and_single_bug_mutants(spec_id):
    spec = specs.load(spec_id)
    entries = expectations(spec)
    files = {p.name for p in spec.examples.iterdir() if p.suffix in (".py", ".ipynb")}
    assert files == set(entries), "every example file has an expectation, and every expectation a file"
    assert any(not e["fails"] for n, e in entries.items() if n.startswith("correct")), "a correct example"
    assert sum(bool(e["fails"]) for n, e in entries.items() if n.startswith("mutant_")) >= 3
    for name, entry in entries.items():
        assert set(entry["fails"]) <= {c["name"] for c in spec.checks}, name


def test_list_specs_gives_one_line_per_spec_with_its_summary():
    result = CliRunner().invoke(main, ["--list-specs"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == [s.id for s in SPECS]
    for line, spec in zip(lines, SPECS):
        assert spec.summary in line
    assert sum("(default)" in line for line in lines) == 1


def test_spec_option_selects_a_spec_by_id():
    spec = SPECS[-1]
    correct = next(n for n, e in expectations(spec).items() if not e["fails"])
    result = CliRunner().invoke(main, ["--spec", spec.id, str(spec.examples / correct), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert f'"id": "{spec.id}"' in result.output


def test_no_engine_module_names_a_spec():
    """Assignment-specific knowledge lives in specs/, reference/ and support/, never in grader/ (the
    default spec's id as the default aside)."""
    ids = [s.id for s in SPECS]
    for path in sorted(ENGINE.rglob("*.py")):
        text = path.read_text()
        for spec_id in ids:
            uses = [m.start() for m in re.finditer(re.escape(spec_id) + r"(?![a-z0-9-])", text)]
            if spec_id == specs.DEFAULT_SPEC:
                allowed = 1 if path.name == "spec.py" else text.count(f'default="{spec_id}"')
                assert len(uses) <= allowed, f"{path.name} names {spec_id}"
            else:
                assert not uses, f"{path.name} names {spec_id}"


@pytest.mark.parametrize("spec_id", [s.id for s in SPECS])
def test_reference_diagnoses_have_report_safe_ids_and_texts(spec_id):
    texts = getattr(specs.load(spec_id).reference, "DIAGNOSES", {})
    for diagnosis_id, (message, hint) in texts.items():
        assert re.fullmatch(r"[a-z0-9_]+", diagnosis_id), diagnosis_id
        assert message.endswith(".") and hint.endswith("."), diagnosis_id


FUNCTION_VARIANTS = [(s.id, v, f) for s in SPECS if s.functions for v, fs in getattr(s.reference, "VARIANTS", {}).items()
                     for f in fs]


@pytest.mark.parametrize("spec_id, variant_id, function_name", FUNCTION_VARIANTS)
def test_each_function_variant_is_named_as_itself(spec_id, variant_id, function_name):
    """Crossed in the grader's process: what a variant returns, where it differs from the reference, is
    named as that variant by the detector the checks use (and as no other)."""
    import copy

    import numpy as np

    from grader.judge import diagnoses
    from grader.judge.compare import rel_error
    from grader.judge.checks.functions import draw, unpack

    spec = specs.load(spec_id)
    function = spec.functions[function_name]
    rng = np.random.default_rng(1)
    config = spec.configs[0]
    if "backward_of" in function:
        forward = spec.functions[function["backward_of"]]
        inputs = {a: draw(rng, spec.data["inputs"][a], config, spec) for a in forward["args"]}
        ref_forward, _ = unpack(forward, getattr(spec.reference, function["backward_of"])(*copy.deepcopy(list(inputs.values()))))
        upstream = {a: rng.normal(size=np.shape(ref_forward[t])) for a, t in function.get("upstream", {}).items()}
        args = [upstream.get(a, ref_forward.get(a, inputs.get(a))) for a in function["args"]]
    else:
        args = [draw(rng, spec.data["inputs"][a], config, spec) for a in function["args"]]
    want, _ = unpack(function, getattr(spec.reference, function_name)(*copy.deepcopy(args)))
    wrong, _ = unpack(function, spec.reference.VARIANTS[variant_id][function_name](*copy.deepcopy(args)))
    caches = set(function.get("caches", []))  # (compared never: a variant may return a real cache)
    differing = [n for n in want if n in wrong and wrong[n] is not None and n not in caches and
                 not (np.shape(wrong[n]) == np.shape(want[n]) and rel_error(wrong[n], want[n]) <= 1e-4)]
    assert differing, "the variant returns what the reference returns"
    for name in differing:
        assert diagnoses.function_misconceptions(spec.reference, function_name, args, name, wrong[name], want[name],
                                                 1e-4, function) == [variant_id], name


def test_support_modules_reach_the_child_only_when_the_spec_names_them():
    """rnn-cell's correct example defines no softmax: it imports rnn_utils, which the spec ships."""
    import copy

    spec = specs.load("rnn-cell")
    correct = spec.examples / "correct.py"
    assert "def softmax" not in correct.read_text() and "from rnn_utils import *" in correct.read_text()
    assert grade_submission(correct, spec).score == spec.max_score
    without = specs.Spec(copy.deepcopy(spec.data), spec.path)
    del without.data["support"]
    report = grade_submission(correct, without)
    outputs = {t.name: t.output for t in report.tests}
    assert "rnn_utils" in outputs["interface"]  # the failed import is reported while loading
    assert "softmax" in outputs["rnn_cell_forward_yt_pred"]  # and the call that needed it fails


def test_a_missing_function_or_key_is_said_in_words_and_costs_only_its_checks(tmp_path):
    """A file with only rnn_cell_backward, returning 'dX' for 'dxt': the other functions' checks say
    they are missing; the cell's other gradients pass on the documented cache; the renamed key is named."""
    spec = specs.load("rnn-cell")
    path = tmp_path / "partial.py"
    path.write_text(
        "import numpy as np\n\n"
        "def rnn_cell_backward(da_next, cache):\n"
        "    a_next, a_prev, xt, parameters = cache\n"
        "    dz = da_next * (1 - a_next ** 2)\n"
        "    return {'dX': parameters['Wax'].T @ dz, 'da_prev': parameters['Waa'].T @ dz, 'dWax': dz @ xt.T,\n"
        "            'dWaa': dz @ a_prev.T, 'dba': dz.sum(axis=1, keepdims=True)}\n")
    report = grade_submission(path, spec)
    by_name = {t.name: t for t in report.tests}
    passed = {n for n, t in by_name.items() if t.status == PASSED}
    assert passed == {f"rnn_cell_backward_{g}" for g in ("da_prev", "dWax", "dWaa", "dba")}
    assert "defines no function `rnn_forward`" in by_name["rnn_forward_a"].output
    assert "no key 'dxt' (its keys: 'dX'" in by_name["rnn_cell_backward_dxt"].output


def test_the_rnn_cell_notebook_as_handed_in_scores_full_marks():
    """The issue's acceptance case: the first code cell imports rnn_utils (shipped with the spec) and
    public_tests (not shipped: the failed import is reported, never held against the student)."""
    import json

    spec = specs.load("rnn-cell")
    path = spec.examples / "correct_notebook.ipynb"
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    first = "".join(cells[0]["source"])
    assert "from rnn_utils import *" in first and "from public_tests import *" in first
    report = grade_submission(path, spec)
    assert (report.status, report.score, report.max_score) == ("graded", 14.0, 14.0)
    interface = next(t for t in report.tests if t.name == "interface")
    assert "public_tests" in interface.output and "rnn_utils" not in interface.output
