"""Issue 25 item 3: whatever the submission hands back, at any step of any check, the report never says
the grader failed. The child is replaced here by an in-process stand-in that runs the reference's own
solution (trusted code) and answers one chosen step with an odd value instead; every check of every
spec is run with each odd value at each step it takes (a sample of steps for the long ones)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from grader.judge import spec as spec_module
from grader.judge.checks import run_check
from grader.judge.context import Context, Outcome, Raised


class Sub(np.ndarray):
    """An ndarray subclass a student might return."""


ODD = {
    "wrong shape": lambda real: np.zeros((2, 3, 4)),
    "0-d": lambda real: np.array(2.5),
    "object array": lambda real: np.array([object(), 1], dtype=object),
    "NaN": lambda real: np.full(np.shape(real), np.nan) if isinstance(real, np.ndarray) else float("nan"),
    "subclass": lambda real: (np.asarray(real, dtype=float) if isinstance(real, np.ndarray) else np.ones(3)).view(Sub),
    "list": lambda real: [1.0, [2.0, 3.0]],
    "dict": lambda real: {"d_W": "x", 3: None},
    "dict of odd values": lambda real: ({k: np.zeros((5, 1, 2)) for k in real} if isinstance(real, dict)
                                        else {"a": np.zeros(2)}),
    "None": lambda real: None,
    "text": lambda real: "not a number",
    "tuple": lambda real: (np.zeros(2), "x"),
}


def _solution(spec):
    """The reference module as a student's file: a fresh import, so nothing it does touches the grader's."""
    module_spec = importlib.util.spec_from_file_location("fuzz_solution", spec.reference_path)
    module = importlib.util.module_from_spec(module_spec)
    for name, source in spec.support_modules().items():  # a support module the solution imports
        support = type(sys)(name)
        exec(compile(source, name, "exec"), support.__dict__)
        sys.modules.setdefault(name, support)
    module_spec.loader.exec_module(module)
    return module


class FakeChild(Context):
    """A Context whose 'child' runs the steps here and answers step number `odd_at` with `odd(real)`."""

    def setup(self, module, odd_at=None, odd=None):
        self.module, self.odd_at, self.odd, self.steps_seen = module, odd_at, odd, 0
        self.load = {"members": {n: {"kind": "function"} for n in (self.spec.functions or {})}}
        return self

    def _run(self, runs):
        return [self._one(steps) for steps in runs]

    def _one(self, steps) -> Outcome:
        objects, values = {}, []

        def resolve(value):
            if isinstance(value, dict) and set(value) == {"$ref"}:
                return objects[value["$ref"]]
            if isinstance(value, dict) and set(value) == {"$ref", "item"}:
                kept, item = objects[value["$ref"]], value["item"]
                return kept[item] if not isinstance(kept, dict) or item in kept else kept[str(item)]
            if isinstance(value, list):
                return [resolve(v) for v in value]
            return value

        for step in steps:
            try:
                if step["do"] == "new":
                    np.random.seed(step.get("seed", 0) % 2**32)
                    objects[step["as"]] = value = getattr(self.module, step["cls"])(**step["args"]) \
                        if isinstance(step["args"], dict) else getattr(self.module, step["cls"])(*step["args"])
                    value = None
                elif step["do"] == "set":
                    setattr(objects[step["obj"]], step["attr"], np.array(step["value"]))
                    value = None
                elif step["do"] == "get":
                    value = getattr(objects[step["obj"]], step["attr"])
                elif step["do"] == "call":
                    value = getattr(objects[step["obj"]], step["method"])(*resolve(step["args"]))
                else:  # func
                    value = getattr(self.module, step["name"])(*resolve(step["args"]))
                    if step.get("as"):
                        objects[step["as"]] = value
            except Exception as exc:
                info = {"type": type(exc).__name__, "message": str(exc)[:100], "text": type(exc).__name__}
                if not step.get("continue"):
                    return Outcome(values, f"step raised {info['text']}", raised_in=step)
                values.append(Raised(info))
                continue
            if self.steps_seen == self.odd_at:
                value = self.odd(value)
            self.steps_seen += 1
            values.append(value)
        return Outcome(values)


def _context(spec, module, **odd) -> FakeChild:
    ctx = FakeChild(spec=spec, path=spec.reference_path, seed=spec.seed, display_name="fuzz")
    return ctx.setup(module, **odd)


SPECS = [s.id for s in spec_module.available()]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("spec_id", SPECS)
def test_no_odd_value_at_any_step_makes_the_grader_fail(spec_id):
    spec = spec_module.load(spec_id)
    module = _solution(spec)
    faults = []
    for check in spec.checks:
        if check["kind"] == "interface":
            continue
        clean = _context(spec, module)
        result = run_check(clean, check)
        assert result.status == "passed", (check["name"], result.output)  # the stand-in is the reference
        total = clean.steps_seen
        positions = sorted(set(np.linspace(0, total - 1, min(total, 160)).astype(int).tolist()))
        for at in positions:
            for name, odd in ODD.items():
                ctx = _context(spec, module, odd_at=at, odd=odd)
                result = run_check(ctx, check)
                if result.fault == "grader" or "grader itself" in result.output:
                    faults.append((check["name"], at, name, result.output[:200]))
    assert faults == []
