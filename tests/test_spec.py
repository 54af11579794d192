"""Specs are data validated against specs/spec.schema.json; problems are reported in one sentence."""

from __future__ import annotations

import copy
import json

import pytest

from grader.judge import spec as specs


def test_default_spec_loads_and_has_the_contract_checks_and_points():
    spec = specs.load()
    points = {c["name"]: c["points"] for c in spec.checks}
    assert points == {"interface": 0, "init_shapes": 0.5, "init_values": 0.5, "forward_shape": 0.5,
                      "forward_values": 1.5, "gradient_d_W": 0.5, "gradient_d_R": 0.5, "gradient_d_V": 0.5,
                      "gradient_d_bs": 0.5, "gradient_d_by": 0.5, "update": 1.0, "weights_io": 0.5,
                      "numerical_gradient": 3.0}
    assert spec.max_score == 10
    outputs = {c["output_size"] for c in spec.configs}
    steps = {c["steps"] for c in spec.configs}
    assert 1 in outputs and max(outputs) > 1 and 1 in steps and max(steps) > 1


def test_every_shipped_spec_is_valid():
    files = {p.stem for p in specs.SPECS.glob("*.json") if not p.name.endswith(".schema.json")}
    shipped = [s.id for s in specs.available()]  # each one loaded, so validated
    assert shipped[0] == specs.DEFAULT_SPEC and set(shipped) == files and len(files) >= 3


def test_a_spec_can_be_loaded_by_path(tmp_path):
    data = json.loads((specs.SPECS / "rnn-seq2one.json").read_text())
    data["id"] = "my-copy"
    path = tmp_path / "copy.json"
    path.write_text(json.dumps(data))
    assert specs.load(str(path)).id == "my-copy"


@pytest.mark.parametrize("change, words", [
    (lambda d: d.pop("checks"), "'checks' is a required property"),
    (lambda d: d["checks"].append({"name": "x", "kind": "telepathy", "points": 1}), "telepathy"),
    (lambda d: d["checks"].append(dict(d["checks"][1])), "unique"),
    (lambda d: d["checks"][-1].__setitem__("configs", [99]), "config that does not exist"),
    (lambda d: d.__setitem__("reference", "missing.py"), "not found"),
])
def test_invalid_specs_are_refused_with_a_reason(change, words):
    data = copy.deepcopy(json.loads((specs.SPECS / "rnn-seq2one.json").read_text()))
    change(data)
    with pytest.raises(specs.SpecError, match=words):
        specs.validate(data)


def test_unknown_spec_name_lists_the_known_ones():
    with pytest.raises(specs.SpecError, match="known specs: rnn-seq2one"):
        specs.load("no-such-assignment")


def test_a_valid_spec_is_schema_checked_once_then_remembered(tmp_path, monkeypatch):
    """Importing jsonschema costs ~50 ms of every `grade`: a spec that passed the schema is remembered
    by the hash of both; a changed or invalid spec is checked again, every time."""
    import sys

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    specs.load()
    assert len(list((tmp_path / "rnn-grader" / "valid-specs").iterdir())) == 1
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # importing it now raises ImportError
    assert specs.load().id == "rnn-seq2one"
    data = json.loads((specs.SPECS / "rnn-seq2one.json").read_text())
    data["checks"][0]["kind"] = "telepathy"
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ImportError):
        specs.load(str(path))  # not remembered: it needs the schema check
    monkeypatch.delitem(sys.modules, "jsonschema")
    for _ in range(2):
        with pytest.raises(specs.SpecError, match="telepathy"):
            specs.load(str(path))
    assert len(list((tmp_path / "rnn-grader" / "valid-specs").iterdir())) == 1
