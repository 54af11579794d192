"""The checks of a function-style assignment: module-level functions that return tuples (or dicts) of
values and caches, as in `h, cache = rnn_step_forward(...)` and `grads = rnn_backward(d, cache)`.

What a function takes and returns is the spec's (`functions`, `inputs`); what it should return is the
reference module's function of the same name, run here in the grader's process on the same hidden
inputs. One bug, one blame:

- `function_outputs` compares the value outputs (never the caches) of one function, by name.
- `function_gradient` judges one gradient a backward function returns. Backward is first given the
  cache the student's own forward made; when that fails (a wrong forward makes a wrong cache), it is
  given the reference's cache, which follows the documented cache layout. Either route passing passes,
  so a forward bug costs the forward's checks and not the backward's too.
- A function that calls another one of the assignment (`calls`: rnn_forward calls rnn_cell_forward) is
  also right when it returns what the reference's version returns on top of a known variant of its
  callee (`VARIANTS`) that the submission's callee was recognised as on its own probes, so a declared
  bug in the step function costs the step function's checks only. Where the callee is the backward's own
  forward (`backward_of`), the target is that variant forward's exact gradient instead (the reference's
  backward code on top of it keeps the true forward's derivative: a second bug could match it). All of it
  is computed here.
"""

from __future__ import annotations

import copy
import types

import numpy as np

from grader.judge import diagnoses
from grader.judge.checks.common import config_indices, fail, keys_text
from grader.judge.compare import as_array, mismatch, nonfinite, rel_error, shape_text
from grader.judge.context import Context, func_step
from grader.judge.returns import item_key, unpack
from grader.report import ERROR, FAILED, CheckResult


# ------------------------------------------------------------------ hidden inputs

def draw(rng: np.random.Generator, entry: dict, config: dict, spec) -> np.ndarray | dict | int:
    """One argument's hidden value: an array of the documented shape, a dict of them, or a size."""
    if "dict" in entry:
        return {name: draw(rng, sub, config, spec) for name, sub in entry["dict"].items()}
    if "size" in entry:  # a size passed as an argument, such as T
        return int(config[entry["size"]])
    shape = spec.shape(entry["shape"], config)
    if entry.get("draw") == "indices":  # class indices (characters), a list as a notebook would pass
        return rng.integers(0, int(config[entry["below"]]), shape).tolist()
    if entry.get("draw", "normal") == "weights":
        return rng.uniform(-0.6, 0.6, shape)
    return rng.normal(0.0, 1.0, shape)


def where(ctx: Context, config: dict) -> str:
    return f"For {ctx.describe(config)}"


def missing(ctx: Context, name: str) -> str | None:
    """Why `name` cannot be called at all (the file does not define it as a function), or None."""
    kind = ctx.load.get("members", {}).get(name, {}).get("kind", "missing")
    if kind == "function":
        return None
    what = "no function" if kind == "missing" else f"a {kind}, not a function, named"
    args = ", ".join(ctx.spec.functions[name]["args"])
    return f"Your file defines {what} `{name}`; this check calls {name}({args})."


# ------------------------------------------------------------------ one forward function's outputs

def forward_probe(ctx: Context, name: str, index: int) -> dict:
    """The hidden inputs of `name` for configuration `index`, the reference's outputs, and the
    submission's reply; shared by the checks of that function."""
    key = ("function-probe", name, index)
    if key not in ctx.cache:
        function, config = ctx.spec.functions[name], ctx.spec.configs[index]
        rng = ctx.rng("function", name, index)
        args = {a: draw(rng, ctx.spec.data["inputs"][a], config, ctx.spec) for a in function["args"]}
        expected, _ = unpack(function, getattr(ctx.spec.reference, name)(*copy.deepcopy(list(args.values()))))
        outcome = ctx.run([func_step(name, list(args.values()))])
        ctx.cache[key] = {"config": config, "args": args, "expected": expected, "outcome": outcome}
    return ctx.cache[key]


def check_function_outputs(ctx: Context, check: dict, result: CheckResult) -> None:
    name, tol = check["function"], ctx.spec.setting(check, "tolerance")
    function = ctx.spec.functions[name]
    caches = set(function.get("caches", []))
    outputs = check.get("outputs") or [n for n in function["returns"] if n not in caches]
    if missing(ctx, name):
        return fail(ctx, result, missing(ctx, name))
    for index in config_indices(ctx, check):
        probe = forward_probe(ctx, name, index)
        at = where(ctx, probe["config"])
        if not probe["outcome"].ok:
            return fail(ctx, result, f"{at}: {probe['outcome'].problem}.", ERROR)
        returned, problem = unpack(function, probe["outcome"].values[-1])
        if problem:
            return fail(ctx, result, f"{at}, {name}() {problem}.")
        for output in outputs:
            message = _compare(f"{at}, {name}()'s `{output}`", returned.get(output), probe["expected"][output], tol)
            if message and _matches_composition(ctx, probe, name, list(probe["args"].values()), output,
                                                returned.get(output), tol):
                continue
            if message:
                args = list(probe["args"].values())
                found = diagnoses.function_misconceptions(ctx.spec.reference, name, args, output,
                                                          returned.get(output), probe["expected"][output], tol,
                                                          function)
                return fail(ctx, result, message + ".", FAILED, *found)
    result.output = f"{name}() returns the expected {', '.join(f'`{o}`' for o in outputs)} for every configuration."


def _compare(what: str, value, want, tol: float) -> str | None:
    """Why `value` is not `want` (shape first, then values), in a sentence; None when it is."""
    want = np.asarray(want, dtype=float)
    got, why = as_array(value)
    if got is None:
        return f"{what} is {why}; expected an array of shape {shape_text(want.shape)}"
    if want.ndim == 0 and got.size == 1:  # a number: a float, a numpy scalar or a one-element array
        got = got.reshape(())
    if got.shape != want.shape:
        return f"{what} has shape {shape_text(got.shape)}; expected {shape_text(want.shape)}"
    if nonfinite(got):
        return f"{what} contains NaN or inf"
    if rel_error(got, want) > tol:
        return f"{what} is wrong ({mismatch(got, want)})"
    return None


# ------------------------------------------------------------------ one gradient of a backward function

def backward_probe(ctx: Context, name: str, index: int) -> dict:
    """A backward call on the cache the submission's own forward made, and what the reference returns
    for the same forward inputs and upstream gradients."""
    key = ("backward-probe", name, index)
    if key not in ctx.cache:
        function = ctx.spec.functions[name]
        forward_name = function["backward_of"]
        forward = ctx.spec.functions[forward_name]
        config = ctx.spec.configs[index]
        rng = ctx.rng("backward", name, index)
        inputs = {a: draw(rng, ctx.spec.data["inputs"][a], config, ctx.spec) for a in forward["args"]}
        ref_forward, _ = unpack(forward, getattr(ctx.spec.reference, forward_name)(
            *copy.deepcopy(list(inputs.values()))))
        upstream = {arg: rng.normal(0.0, 1.0, np.shape(ref_forward[target]))
                    for arg, target in function.get("upstream", {}).items()}
        caches = [a for a in function["args"] if a in forward.get("caches", [])]

        def args(cache_of) -> list:
            return [upstream[a] if a in upstream else cache_of(a) if a in caches else inputs[a]
                    for a in function["args"]]

        expected, _ = unpack(function, getattr(ctx.spec.reference, name)(*copy.deepcopy(args(ref_forward.get))))
        steps = [func_step(forward_name, list(inputs.values()), keep="f", keep_going=True)] if caches else []
        steps.append(func_step(name, args(lambda a: {"$ref": "f", "item": item_key(forward, a)})))
        ctx.cache[key] = {"config": config, "function": function, "expected": expected, "outcome": ctx.run(steps),
                          "reference_args": args(ref_forward.get), "caches": caches}
    return ctx.cache[key]


def on_reference_cache(ctx: Context, name: str, index: int, probe: dict):
    """The same backward call given the reference's cache (the documented layout) instead of the
    submission's own; run once per probe, only when the own-cache route did not pass."""
    if "on_reference_cache" not in probe:
        probe["on_reference_cache"] = ctx.run([func_step(name, probe["reference_args"])])
    return probe["on_reference_cache"]


def check_function_gradient(ctx: Context, check: dict, result: CheckResult) -> None:
    name, gradient, tol = check["function"], check["gradient"], ctx.spec.setting(check, "tolerance")
    function = ctx.spec.functions[name]
    if missing(ctx, name):
        return fail(ctx, result, missing(ctx, name))
    for index in config_indices(ctx, check):
        probe = backward_probe(ctx, name, index)
        upstream = function.get("upstream")
        at = f"{where(ctx, probe['config'])}" + (f" and a random {' and '.join(upstream)}" if upstream else "")
        verdicts = [_judge_gradient(function, name, gradient, probe["outcome"], probe["expected"], at, tol)]
        if verdicts[0] and probe["caches"]:
            verdicts.append(_judge_gradient(function, name, gradient, on_reference_cache(ctx, name, index, probe),
                                            probe["expected"], at + " (given the documented cache)", tol))
        if all(verdicts) and verdicts[-1][2] is not None and _matches_composition(
                ctx, probe, name, probe["reference_args"], gradient, verdicts[-1][2], tol):
            continue
        if all(verdicts) and any(c is not None and gradient in c and not np.any(c[gradient])
                                 for c in probe.get("composed", [])):
            of = function["gradients"].get(gradient, gradient)
            return fail(ctx, result, f"{at}, `{gradient}` cannot be judged: your {function['backward_of']}() does "
                                     f"not change at all when `{of}` changes (a known mistake, named above), so "
                                     "its gradient is zero: fix forward first.")
        if all(verdicts):
            message, status, got = verdicts[-1]
            found = [] if got is None else diagnoses.function_misconceptions(
                ctx.spec.reference, name, probe["reference_args"], gradient, got, probe["expected"][gradient], tol,
                function)
            return fail(ctx, result, message, status, *found)
    result.output = f"{name}()'s `{gradient}` matches the expected gradient on every configuration."


def composed(ctx: Context, name: str, args: list) -> list[dict]:
    """What the reference's `name` returns on `args` when a function it calls (the spec's `calls`) is a
    known variant (the reference's `VARIANTS`) that the submission's own callee was recognised as on the
    callee's own probes. Everything here is the grader's code: the submission is never called at points
    chosen to judge its caller."""
    function = ctx.spec.functions[name]
    reference = getattr(ctx.spec.reference, name)
    found = []
    for versions in getattr(ctx.spec.reference, "VARIANTS", {}).values():
        swapped = {c: versions[c] for c in function["calls"] if c in versions}
        if not swapped or not all(_callee_is(ctx, c, version) for c, version in swapped.items()):
            continue
        if function.get("backward_of") in swapped:  # its own forward is the variant: that forward's gradient
            found.append(_gradient_of(ctx, function, swapped[function["backward_of"]], args))
            continue
        namespace = {**reference.__globals__, **swapped}
        rebuilt = types.FunctionType(reference.__code__, namespace, reference.__name__, reference.__defaults__,
                                     reference.__closure__)
        found.append(unpack(function, rebuilt(*copy.deepcopy(args)))[0])
    return found


def _gradient_of(ctx: Context, function: dict, variant_forward, args: list) -> dict | None:
    """The exact gradient of sum(upstream * output) of a variant forward, by central differences here (the
    functions are a few dozen entries): what a backward of that forward must return. The reference's backward
    code run on top of the variant is not that (it keeps the sigmoid's derivative where the variant has none,
    so a second bug that matched it raised the score). None where backward's arguments do not hold the
    forward's own (a cache instead)."""
    forward = ctx.spec.functions[function["backward_of"]]
    named = dict(zip(function["args"], copy.deepcopy(args)))
    if not all(a in named for a in forward["args"]) or len(function.get("upstream", {})) != 1:
        return None
    (upstream, output), = function["upstream"].items()

    def objective(values: dict) -> float:
        returned = unpack(forward, variant_forward(*[values[a] for a in forward["args"]]))[0] or {}
        return float(np.sum(np.asarray(named[upstream], dtype=float) * np.asarray(returned[output], dtype=float)))

    gradients, eps = {}, 1e-6
    for key, of in function["gradients"].items():
        point = {a: np.array(named[a], dtype=float) for a in forward["args"]}
        grad = np.zeros_like(point[of])
        for i in np.ndindex(grad.shape):
            saved = point[of][i]
            point[of][i] = saved + eps
            plus = objective(point)
            point[of][i] = saved - eps
            grad[i] = (plus - objective(point)) / (2 * eps)
            point[of][i] = saved
        gradients[key] = grad
    return gradients


def _callee_is(ctx: Context, callee: str, version) -> bool:
    """Does the submission's `callee` return what `version` (a trusted variant) returns, on every
    configuration of the callee's own probes?"""
    key = ("callee-is", callee, id(version))
    if key not in ctx.cache:
        ctx.cache[key] = all(_callee_matches(ctx, callee, version, i) for i in range(len(ctx.spec.configs)))
    return ctx.cache[key]


def _callee_matches(ctx: Context, callee: str, version, index: int) -> bool:
    function = ctx.spec.functions[callee]
    if "backward_of" in function:
        probe = backward_probe(ctx, callee, index)
        args, outcome = probe["reference_args"], on_reference_cache(ctx, callee, index, probe)
    else:
        probe = forward_probe(ctx, callee, index)
        args, outcome = list(probe["args"].values()), probe["outcome"]
    if not outcome.ok:
        return False
    returned, problem = unpack(function, outcome.values[-1])
    want, _ = unpack(function, version(*copy.deepcopy(args)))
    caches = set(function.get("caches", []))
    names = [n for n in (want or {}) if n not in caches]
    return not problem and bool(names) and all(
        _compare("", returned.get(n), want[n], ctx.spec.setting({"kind": "function_outputs"}, "tolerance")) is None
        for n in names)


def _matches_composition(ctx: Context, probe: dict, name: str, args: list, output: str, got, tol: float) -> bool:
    """Is `got` what the reference returns on top of a recognised variant of its callee (and not all
    zeros, which any stub would give)?"""
    if not ctx.spec.functions[name].get("calls"):
        return False
    if "composed" not in probe:
        probe["composed"] = composed(ctx, name, args)
    arr = as_array(got)[0]
    for candidate in probe["composed"]:
        want = (candidate or {}).get(output)
        if want is not None and arr is not None and np.any(want) and _compare("", arr, want, tol) is None:
            return True
    return False


def _judge_gradient(function: dict, name: str, gradient: str, outcome, expected: dict, at: str, tol: float):
    """None when backward's `gradient` is right; else (message, status, what it returned or None)."""
    if not outcome.ok:
        return f"{at}: {outcome.problem}.", ERROR, None
    returned, problem = unpack(function, outcome.values[-1])
    if problem:
        return f"{at}, {name}() {problem}.", FAILED, None
    if gradient not in returned:
        return f"{at}, {name}()'s dict has no key '{gradient}' (its keys: {keys_text(outcome.values[-1])}).", \
            FAILED, None
    message = _compare(f"{at}, {name}()'s `{gradient}`", returned[gradient], expected[gradient], tol)
    return None if message is None else (message + ".", FAILED, returned[gradient])


KINDS = {
    "function_outputs": check_function_outputs,
    "function_gradient": check_function_gradient,
}
