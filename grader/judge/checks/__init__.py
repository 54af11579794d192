"""The checks of a model-class assignment (CONTRACT §2), one function per check kind.

Each check builds its own model and sets hidden weights as attributes, so that one bug costs only the
checks that cover it. Every comparison happens here, in the grader's process, on plain data that came
back from the child; feedback names the configuration and the size of the error, never the expected
values.
"""

from __future__ import annotations

import os
import traceback

import numpy as np

from grader.judge import diagnoses
from grader.judge import layout
from grader.judge import own_forward
from grader.judge.compare import as_array, describe_type, mismatch, nonfinite, rel_error, same_values, shape_text
from grader.judge.context import Context, Raised, call_step, get_step
from grader.judge.layout import arrange
from grader.report import ERROR, FAILED, PASSED, CheckResult


MAX_OUTPUT = 1500  # characters of feedback per check: a student reads it, a submission cannot flood it


def run_check(ctx: Context, check: dict) -> CheckResult:
    result = CheckResult(check["name"], float(check["points"]), tags=[check["kind"]])
    try:
        (KINDS.get(check["kind"]) or _kinds_elsewhere()[check["kind"]])(ctx, check, result)
        if result.status == FAILED and not result.diagnoses and check.get("hint"):
            result.output += f" {check['hint']}"
        if len(result.output) > MAX_OUTPUT:
            result.output = result.output[: MAX_OUTPUT - 3] + "..."
    except Exception as exc:  # the grader's own failure is never the student's
        result.status = ERROR
        result.output = (f"The grader itself failed while running this check ({type(exc).__name__}: {exc}). "
                         "This is not a problem with your code; please tell course staff.")
        if os.environ.get("GRADER_DEBUG"):  # course staff chasing a grader bug get the traceback on stderr
            traceback.print_exc()
    return result


def _kinds_elsewhere() -> dict:
    """Check kinds with modules of their own, which build on this module's helpers."""
    from grader.judge.checks import functions as function_checks
    from grader.judge.checks import interface as interface_check
    return {**function_checks.KINDS, "interface": interface_check.check_interface}


def keys_text(returned: dict, most: int = 8) -> str:
    keys = [repr(str(k))[:40] for k in list(returned)[:most]]
    more = f" and {len(returned) - most} more" if len(returned) > most else ""
    return (", ".join(keys) or "none") + more


def fail(ctx: Context, result: CheckResult, message: str, status: str = FAILED, *found: str) -> None:
    """Mark a check failed (or errored) with one message, and name the misconceptions it matches."""
    result.status, result.output = status, message
    texts = getattr(ctx.spec.reference, "DIAGNOSES", {})
    for diagnosis_id in found:
        result.diagnoses.append(diagnoses.make(diagnosis_id, result.name, texts))


def config_indices(ctx: Context, check: dict) -> list[int]:
    return check.get("configs", list(range(len(ctx.spec.configs))))


# ------------------------------------------------------------------ construction

def construction_probes(ctx: Context) -> list[tuple[int, dict, dict, object]]:
    """(index, sizes, documented shapes, outcome) of constructing a model of each distinct size and
    reading every parameter: made once, read by init_shapes and by the layout discovery."""
    if "construction" not in ctx.cache:
        seen, probes = set(), []
        for index, full in enumerate(ctx.spec.configs):
            config = {k: full[k] for k in ctx.spec.model["sizes"]}
            if tuple(config.values()) not in seen:
                seen.add(tuple(config.values()))
                shapes = ctx.spec.parameter_shapes(config)
                steps = ctx.new_model(config, None, seed=index)
                probes.append((index, config, shapes, steps + [get_step("m", n, keep_going=True) for n in shapes]))
        ctx.cache["construction"] = [(index, config, shapes, outcome) for (index, config, shapes, _), outcome
                                     in zip(probes, ctx.run_each([p[3] for p in probes]))]
    return ctx.cache["construction"]


def discover_layout(ctx: Context) -> None:
    """The submission's own orientation of each documented vector parameter, where it keeps one in another
    orientation on every size tried (layout.py): the checks that set weights then follow it."""
    found: dict[str, set] = {}
    for _, _, shapes, outcome in construction_probes(ctx):
        for (name, shape), value in zip(shapes.items(), outcome.values[1:] if outcome.ok else []):
            arr = None if isinstance(value, Raised) else as_array(value)[0]
            if arr is not None and int(np.prod(shape)) > 1:
                found.setdefault(name, set()).add(layout.followed(arr.shape, shape) or
                                                  ("documented" if arr.shape == shape else "other"))
    ctx.layout.update({name: how.pop() for name, how in found.items()
                       if len(how) == 1 and next(iter(how)) not in ("documented", "other")})


def check_init_shapes(ctx: Context, check: dict, result: CheckResult) -> None:
    wanted = set(config_indices(ctx, check))
    for index, config, shapes, outcome in construction_probes(ctx):
        if not wanted & _same_sizes(ctx, config):
            continue
        if not outcome.ok:
            return fail(ctx, result, f"For {ctx.describe(config)}: {outcome.problem}.", ERROR)
        for (name, shape), value in zip(shapes.items(), outcome.values[1:]):
            problem = _shape_problem(name, value, shape)
            if problem:
                arr = None if isinstance(value, Raised) else as_array(value)[0]
                found = diagnoses.shape_misconceptions(arr.shape, shape) if arr is not None else []
                if name in ctx.layout:
                    problem += f" (a {ctx.layout[name]} vector: the other checks follow that, this one cannot)"
                    found = ["vector_orientation"]
                return fail(ctx, result, f"After `{_call(ctx, config)}`, {problem}.", FAILED, *found)
    result.output = "All parameters have the documented shapes."


def _same_sizes(ctx: Context, sizes: dict) -> set[int]:
    return {i for i, c in enumerate(ctx.spec.configs) if all(c[k] == v for k, v in sizes.items())}


def _call(ctx: Context, config: dict) -> str:
    return f"{ctx.spec.model['class']}({', '.join(f'{k}={v}' for k, v in config.items())})"


def _shape_problem(name: str, value, shape: tuple) -> str | None:
    if isinstance(value, Raised):
        return f"reading `{name}` raised {value.info['text']}"
    arr, why = as_array(value)
    if arr is None:
        return f"`{name}` is {why}; expected an array of shape {shape_text(shape)}"
    if arr.shape != shape:
        return f"`{name}` has shape {shape_text(arr.shape)}; expected {shape_text(shape)}"
    return None


def check_init_values(ctx: Context, check: dict, result: CheckResult) -> None:
    """Each parameter's values after construction, judged against the draw the spec gives it."""
    config, plan = check["config"], init_plan(check, ctx.spec.model["sizes"])
    names = list(plan)
    steps = ctx.new_model(config, None, seed=7)
    steps += [get_step("m", name, keep_going=True) for name in names]
    outcome = ctx.run(steps)
    if not outcome.ok:
        return fail(ctx, result, f"For `{_call(ctx, config)}`: {outcome.problem}.", ERROR)
    values = dict(zip(names, outcome.values[1:]))
    shapes = ctx.spec.parameter_shapes(config)
    for name in names:  # only values that cannot be judged fail here: shapes are init_shapes' business
        arr = None if isinstance(values[name], Raised) else as_array(values[name])[0]
        if arr is None or arr.size == 0:
            problem = _shape_problem(name, values[name], shapes[name])
            return fail(ctx, result, f"After `{_call(ctx, config)}`, {problem}.")
    for name, draw in plan.items():
        found = _init_problem(as_array(values[name])[0], draw, config)
        if found:
            diagnosis = "init_nonzero_bias" if draw["draw"] == "zeros" else "init_wrong_distribution"
            return fail(ctx, result, f"After `{_call(ctx, config)}`, `{name}` {found}.", FAILED, diagnosis)
    result.output = _init_passed_text(check, plan, config)


def init_plan(check: dict, sizes: list[str]) -> dict[str, dict]:
    """The draw of each parameter, in the order they are judged: the spec's per-parameter `init`
    ({"draw": "uniform", "low", "high"} or {"draw": "uniform", "gain", "fan_in"} for a bound
    sqrt(gain / fan_in), {"draw": "identity"}, {"draw": "zeros"}), or the older `uniform` + `zero` pair
    (one U(low, high) for the listed weights, then zeros)."""
    if "init" in check:
        return dict(check["init"])
    uniform = check["uniform"]
    plan = {name: {"draw": "uniform", "low": uniform["low"], "high": uniform["high"]}
            for name in uniform["parameters"]}
    plan.update({name: {"draw": "zeros"} for name in check.get("zero", [])})
    return plan


def _uniform_bounds(draw: dict, config: dict) -> tuple[float, float]:
    if "fan_in" in draw:
        bound = float(np.sqrt(draw["gain"] / config[draw["fan_in"]]))
        return -bound, bound
    return draw["low"], draw["high"]


def _uniform_text(draw: dict, config: dict) -> str:
    low, high = _uniform_bounds(draw, config)
    if "fan_in" in draw:
        return f"U(-b, b) with b = sqrt({draw['gain']:g} / {draw['fan_in']}) = {high:.4g}"
    return f"U({low:g}, {high:g})"


def _init_problem(v: np.ndarray, draw: dict, config: dict) -> str | None:
    """What is wrong with one parameter's initial values (None: nothing)."""
    if draw["draw"] == "zeros":
        return "is not all zeros" if nonfinite(v) or np.any(v != 0) else None
    if nonfinite(v):
        return "contains NaN or inf"
    if draw["draw"] == "identity":
        square = v.ndim == 2 and v.shape[0] == v.shape[1]
        return None if square and np.array_equal(v, np.eye(v.shape[0])) else "is not the identity matrix"
    low, high = _uniform_bounds(draw, config)
    width, std, label = high - low, (high - low) / np.sqrt(12), _uniform_text(draw, config)
    shown = f"{low:g}, {high:g}" if "fan_in" not in draw else f"{low:.4g}, {high:.4g}"
    if v.min() < low - 1e-9 or v.max() > high + 1e-9:
        return f"has values outside [{shown}] (from {v.min():.3g} to {v.max():.3g})"
    if v.max() - v.min() < 0.9 * width:
        return f"spans only [{v.min():.3g}, {v.max():.3g}], narrower than {label} would"
    if abs(v.mean() - (low + high) / 2) > 0.1 * width or not 0.8 * std < v.std() < 1.2 * std:
        return (f"has mean {v.mean():.3g} and standard deviation {v.std():.3g}; "
                f"{label} has mean {(low + high) / 2:g} and about {std:.3g}")
    return None


def _init_passed_text(check: dict, plan: dict, config: dict) -> str:
    if "init" not in check:  # the older form keeps its sentence
        low, high = check["uniform"]["low"], check["uniform"]["high"]
        return f"W, R and V look like U({low:g}, {high:g}) draws; the biases start at zero."
    parts = []
    for name, draw in plan.items():
        what = {"zeros": "starts at zero", "identity": "is the identity"}.get(draw["draw"])
        parts.append(f"{name} {what or 'looks like a ' + _uniform_text(draw, config) + ' draw'}")
    return "; ".join(parts) + "."


# ------------------------------------------------------------------ forward

def check_forward_shape(ctx: Context, check: dict, result: CheckResult) -> None:
    runs = []
    for index in config_indices(ctx, check):
        config, rng = ctx.spec.configs[index], ctx.rng(check["name"], index)
        steps = ctx.new_model(config, ctx.hidden_weights(rng, config), seed=index)
        steps.append(call_step("m", "forward", ctx.hidden_input(rng, config)))
        runs.append(steps)
    for index, outcome in zip(config_indices(ctx, check), ctx.run_each(runs)):
        config = ctx.spec.configs[index]
        if not outcome.ok:
            return fail(ctx, result, f"For {ctx.describe(config)}: {outcome.problem}.", ERROR)
        want = ctx.spec.shape(ctx.spec.model["output"], config)
        arr, why = as_array(outcome.values[-1])
        if arr is None:
            hint = " Did you forget to `return` it?" if outcome.values[-1] is None else ""
            return fail(ctx, result, f"For {ctx.describe(config)}, forward returned {why}; expected an array of "
                                f"shape {shape_text(want)}.{hint}")
        if arr.shape != want:
            convention = layout.followed(arr.shape, want) and any(p in ctx.layout for p in ctx.spec.parameters)
            return fail(ctx, result, f"For {ctx.describe(config)}, forward returned shape {shape_text(arr.shape)}; "
                                     f"expected {shape_text(want)}.", FAILED,
                        *(["vector_orientation"] if convention else []))
    result.output = "forward returns the documented shape for every configuration tried."


def check_forward_values(ctx: Context, check: dict, result: CheckResult) -> None:
    status, message, found = forward_values_verdict(ctx, check)
    if status != PASSED:
        return fail(ctx, result, message, status, *found)
    result.output = message


def forward_agrees(ctx: Context) -> bool:
    """Does the submission's forward pass the spec's forward_values check? Then the reference decides every
    gradient and numerical gradient: there is nothing of the student's own forward left to follow."""
    return forward_values_verdict(ctx, _forward_values_check(ctx))[0] == PASSED


def _forward_values_check(ctx: Context) -> dict:
    return next((c for c in ctx.spec.checks if c["kind"] == "forward_values"),
                {"name": "forward_values", "kind": "forward_values"})


def _forward_named(ctx: Context) -> list[str]:
    """The misconceptions forward_values named (its verdict is worked out once)."""
    return forward_values_verdict(ctx, _forward_values_check(ctx))[2]


def forward_values_verdict(ctx: Context, check: dict) -> tuple[str, str, list[str]]:
    """(status, message, misconceptions) of forward_values, worked out once per submission."""
    key = ("forward-values", check["name"])
    if key not in ctx.cache:
        ctx.cache[key] = _forward_values(ctx, check)
    return ctx.cache[key]


def _forward_values(ctx: Context, check: dict) -> tuple[str, str, list[str]]:
    ref, tol, calls = ctx.spec.reference, check.get("tolerance", 1e-5), check.get("calls", 3)
    probes = []
    for index in config_indices(ctx, check):
        config, rng = ctx.spec.configs[index], ctx.rng(check["name"], index)
        weights = ctx.hidden_weights(rng, config)
        xs = [ctx.hidden_input(rng, config) for _ in range(calls)]
        steps = ctx.new_model(config, weights, seed=index)
        steps += [call_step("m", "forward", x) for x in xs]
        probes.append((config, weights, xs, steps))
    for (config, weights, xs, _), outcome in zip(probes, ctx.run_each([p[3] for p in probes])):
        if not outcome.ok:
            return ERROR, f"For {ctx.describe(config)}: {outcome.problem}.", []
        ys = outcome.values[-calls:]
        for call, (x, y) in enumerate(zip(xs, ys), start=1):
            want = ref.forward(weights, x)[0]
            got, why = as_array(y)
            if got is None or got.size != want.size:
                what = why or f"an array of {got.size} values"
                return (FAILED, f"For {ctx.describe(config)}, forward returned {what}; expected {want.size} "
                                "value(s).", [])
            got = got.ravel()
            if nonfinite(got):
                return FAILED, f"For {ctx.describe(config)}, call {call} of forward returned NaN or inf.", []
            if rel_error(got, want) > tol:
                outputs = [as_array(y)[0] for y in ys]
                found = [] if any(o is None for o in outputs) else \
                    diagnoses.forward_misconceptions(ref, weights, xs, [o.ravel() for o in outputs], tol)
                return FAILED, (f"For {ctx.describe(config)}, call {call} of {calls} on the same model: "
                                f"forward's output is wrong ({mismatch(got, want)})."), found
    return PASSED, f"forward matches the reference on every configuration, over {calls} calls per model.", []


# ------------------------------------------------------------------ gradients

def gradient_probe(ctx: Context, index: int) -> dict:
    """One forward and one backward on a fresh model; shared by the gradient checks, judged per key."""
    return gradient_probes(ctx, [index])[0]


def gradient_probes(ctx: Context, indices: list[int]) -> list[dict]:
    """The gradient probes of these configurations, the missing ones made in one round trip."""
    missing = [i for i in indices if ("gradient-probe", i) not in ctx.cache]
    drafts = []
    for index in missing:
        config, rng = ctx.spec.configs[index], ctx.rng("gradient", index)
        weights, x = ctx.hidden_weights(rng, config), ctx.hidden_input(rng, config)
        d_loss = rng.normal(0.0, 1.0, ctx.spec.shape(ctx.spec.model["output"], config))
        steps = ctx.new_model(config, weights, seed=index) + [call_step("m", "forward", x)]
        drafts.append(({"index": index, "config": config, "weights": weights, "x": x, "d_loss": d_loss},
                       lambda d, steps=steps: steps + [call_step("m", "backward", d)]))
    ref = ctx.spec.reference
    for (probe, _), outcome in zip(drafts, run_with_d_loss(ctx, [(build, p["d_loss"]) for p, build in drafts])):
        weights, x = probe["weights"], probe["x"]
        ctx.cache[("gradient-probe", probe["index"])] = dict(
            probe, outcome=outcome, y_ref=ref.forward(weights, x)[0],
            grads_ref=ref.backward(weights, x, probe["d_loss"]))
    return [ctx.cache[("gradient-probe", i)] for i in indices]


def run_with_d_loss(ctx: Context, drafts: list[tuple]) -> list:
    """Run probes that call backward(d_loss): drafts are (build(d_loss) -> steps, documented d_loss). When
    backward raises on the documented d_loss and forward returns the same vector in another orientation
    (an (O, 1) column), they run again with d_loss in forward's orientation (layout.py)."""
    def run() -> list:
        return ctx.run_each([build(arrange(d_loss, ctx.layout.get("output"))) for build, d_loss in drafts])

    outcomes = run()
    if "output" not in ctx.layout and any(_backward_raised(o) for o in outcomes):
        ctx.layout["output"] = _output_orientation(ctx)
        if ctx.layout["output"]:
            outcomes = run()
    return outcomes


def _backward_raised(outcome) -> bool:
    return not outcome.ok and not outcome.died and (outcome.problem or "").startswith("backward() raised")


def _output_orientation(ctx: Context) -> str | None:
    """The orientation forward returns its output in, when it is the documented vector in another one on
    every configuration where that can be told."""
    runs = []
    for index, config in enumerate(ctx.spec.configs):
        rng = ctx.rng("output-orientation", index)
        runs.append(ctx.new_model(config, ctx.hidden_weights(rng, config), seed=index) +
                    [call_step("m", "forward", ctx.hidden_input(rng, config))])
    seen = set()
    for config, outcome in zip(ctx.spec.configs, ctx.run_each(runs)):
        want = ctx.spec.shape(ctx.spec.model["output"], config)
        arr = as_array(outcome.values[-1])[0] if outcome.ok and outcome.values else None
        if arr is not None and int(np.prod(want)) > 1:
            seen.add(layout.followed(arr.shape, want))
    return seen.pop() if len(seen) == 1 else None


def find_key(returned: dict, key: str, name: str):
    """The value under `key`, or under a renamed key (dW, W, grad_W) with the key it was found under."""
    if key in returned:
        return returned[key], key
    for k, v in returned.items():
        if normalise_key(k) == name.lower():
            return v, k
    return None, None


def normalise_key(key: str) -> str:
    k = str(key).lower().replace("_", "")
    for prefix in ("grad", "d"):
        if k.startswith(prefix) and len(k) > len(prefix):
            return k[len(prefix):]
    return k


def check_gradient(ctx: Context, check: dict, result: CheckResult) -> None:
    name, tol = check["parameter"], check.get("tolerance", 1e-4)
    key, judged, skipped = ctx.spec.gradient_key(name), 0, []
    for probe in gradient_probes(ctx, config_indices(ctx, check)):
        index = probe["index"]
        config, outcome = probe["config"], probe["outcome"]
        where = f"For {ctx.describe(config)} and a random d_loss"
        if not outcome.ok:
            return fail(ctx, result, f"{where}: {outcome.problem}.", ERROR)
        returned = outcome.values[-1]
        if not isinstance(returned, dict):
            return fail(ctx, result, f"{where}, backward returned {describe_type(returned)}; expected a dict with "
                                f"keys {', '.join(ctx.spec.gradient_key(p) for p in ctx.spec.parameters)}.")
        value, found_key = find_key(returned, key, name)
        if found_key is None:
            return fail(ctx, result, f"{where}, backward's dict has no key '{key}' (its keys: {keys_text(returned)}).")
        want = probe["grads_ref"][key]
        got, why = as_array(value)
        if got is None:
            return fail(ctx, result, f"{where}, backward's '{found_key}' is {why}; expected an array.")
        if found_key != key:
            agrees = got.shape == want.shape and rel_error(got, want) <= tol
            return fail(ctx, result, f"{where}, backward returned this gradient under '{found_key}'; the key must be "
                                f"'{key}'." + (" Its values are right." if agrees else ""),
                        FAILED, "gradient_keys_renamed")
        documented = layout.as_documented(got, want.shape, ctx.layout.get(name))
        if documented is None:
            return fail(ctx, result, f"{where}, '{key}' has shape {shape_text(got.shape)}; expected "
                                f"{shape_text(want.shape)}, the shape of {name}.", FAILED,
                        *diagnoses.gradient_misconceptions(ctx.spec.reference, probe, key, got, tol))
        got = documented
        if nonfinite(got):
            return fail(ctx, result, f"{where}, '{key}' contains NaN or inf.")
        if rel_error(got, want) <= tol:
            judged += bool(np.any(want))  # matching an all-zero gradient (R when T = 1) shows little
            continue
        own = None if forward_agrees(ctx) else _own_gradient_verdicts(ctx, tol)[(index, name)]
        if own == "matches":
            judged += 1
            continue
        if own in ("flat", "degenerate"):  # judged where that forward reads the parameter and is not affine
            if _degenerate_everywhere(ctx, name, tol):  # then there is nowhere to follow it
                return _forward_first(ctx, result, key, name, [(own, probe)], tol)
            skipped.append((own, probe))
            continue
        return fail(ctx, result, f"{where}, '{key}' is wrong ({mismatch(got, want)}).", FAILED,
                    *diagnoses.gradient_misconceptions(ctx.spec.reference, probe, key, got, tol))
    if not judged and skipped:
        return _forward_first(ctx, result, key, name, skipped, tol)
    result.output = f"'{key}' matches the expected gradient on every configuration."


def _degenerate_everywhere(ctx: Context, name: str, tol: float) -> bool:
    verdicts = _own_gradient_verdicts(ctx, tol)
    return all(v in ("flat", "degenerate") for (_, p), v in verdicts.items() if p == name)


def _forward_first(ctx: Context, result: CheckResult, key: str, name: str, skipped: list, tol: float) -> None:
    """A wrong gradient, on every configuration where it was wrong, of a forward that does not read the
    parameter there or is affine there: nothing right to follow, so the forward's mistake is named."""
    flat = [probe for why, probe in skipped if why == "flat"]
    if not flat:
        return fail(ctx, result, f"'{key}' could not be judged: your forward is wrong and affine in its weights on "
                                 "every configuration tried, so any gradient of it is the same everywhere; fix "
                                 "forward first.")
    probe = flat[0]
    y = as_array(probe["outcome"].values[-2])[0]
    found = [] if y is None else diagnoses.forward_misconceptions(
        ctx.spec.reference, probe["weights"], [probe["x"]], [y.ravel()], tol)
    return fail(ctx, result, f"For {ctx.describe(probe['config'])} and a random d_loss, '{key}' is wrong; your "
                             f"forward does not change at all when `{name}` changes, so fix forward first.",
                FAILED, *found)


def _own_gradient_verdicts(ctx: Context, tol: float) -> dict:
    """own_forward's verdicts for every configuration and parameter of the spec's gradient checks, worked
    out together (one set of fresh children for all of them)."""
    gradient_checks = [c for c in ctx.spec.checks if c["kind"] == "gradient"]
    configs = {i: ctx.spec.configs[i] for c in gradient_checks for i in config_indices(ctx, c)}
    return own_forward.gradient_verdicts(ctx, configs, [c["parameter"] for c in gradient_checks], tol,
                                         lookup=lambda returned, p: find_key(returned, ctx.spec.gradient_key(p), p)[0])


# ------------------------------------------------------------------ update

def check_update(ctx: Context, check: dict, result: CheckResult) -> None:
    """Each parameter must move by exactly -lr times the gradient the submission's backward returned.

    Probes whose gradients have the documented shapes decide; probes with only the sizes right (an
    (H, 1) bias gradient) are used, reshaped, only when there is nothing else, so a shape bug costs its
    gradient check and not update as well. Probes with unusable or all-zero gradients are skipped."""
    tol, rates, params = check.get("tolerance", 1e-4), check.get("learning_rates", [0.1]), ctx.spec.parameters
    verdicts = {True: [], False: []}  # exact shapes? -> [(failure message or None, misconceptions, status)]
    unusable, probes = [], []
    for n, index in enumerate(config_indices(ctx, check)):
        config, rng = ctx.spec.configs[index], ctx.rng(check["name"], index)
        weights, x = ctx.hidden_weights(rng, config), ctx.hidden_input(rng, config)
        d_loss, lr = rng.normal(0.0, 1.0, ctx.spec.shape(ctx.spec.model["output"], config)), rates[n % len(rates)]
        steps = ctx.new_model(config, weights, seed=index) + [call_step("m", "forward", x)]
        weights_now = [get_step("m", p) for p in params]
        after = weights_now + [call_step("m", "update", lr)] + weights_now
        probes.append((config, lr, f"For {ctx.describe(config)} and lr={lr:g}",
                       (lambda d, steps=steps, after=after: steps + [call_step("m", "backward", d)] + after, d_loss)))
    for (config, lr, where, _), outcome in zip(probes, run_with_d_loss(ctx, [p[3] for p in probes])):
        if outcome.died:  # a hang or crash costs one call's limit, not one per probe
            return fail(ctx, result, f"{where}: {outcome.problem}.", ERROR)
        grads, exact, why = _usable_gradients(ctx, outcome, config)
        if grads is None:  # backward's own faults belong to the gradient checks
            unusable.append(f"{where}, {why}")
            continue
        if not outcome.ok:
            verdicts[exact].append((f"{where}: {outcome.problem}.", [], ERROR))
            continue
        before = outcome.values[-2 * len(params) - 1: -len(params) - 1]
        after = outcome.values[-len(params):]
        verdicts[exact].append(_judge_update(ctx, where, lr, grads, before, after, tol))
    decisive = verdicts[True] or verdicts[False]
    if not decisive:
        reason = unusable[0] if unusable else "no probe could be run"
        return fail(ctx, result, f"update could not be judged because backward gave nothing to apply: {reason}.", ERROR)
    for message, found, status in decisive:
        if message:
            return fail(ctx, result, message, status, *found)
    result.output = "update moves every parameter by exactly -lr times the gradient backward returned."


def _judge_update(ctx: Context, where: str, lr: float, grads: dict, before: list, after: list, tol: float):
    """(failure message or None, misconceptions, status) for one probe."""
    for p, b, a in zip(ctx.spec.parameters, before, after):
        b_arr, a_arr = as_array(b)[0], as_array(a)[0]
        if b_arr is None or a_arr is None or a_arr.shape != grads[p].shape:
            got = shape_text(a_arr.shape) if a_arr is not None else describe_type(a)
            return (f"{where}, after update `{p}` is {got}; expected it to keep the shape "
                    f"{shape_text(grads[p].shape)}.", [], FAILED)
        step, expected = a_arr - b_arr, -lr * grads[p]
        if not _steps_agree(step, expected, tol, rounding=np.maximum(np.abs(a_arr), np.abs(b_arr)), dtype=a):
            return (f"{where}, update changed `{p}` by the wrong amount: expected exactly -lr times the "
                    f"'{ctx.spec.gradient_key(p)}' that your backward returned ({mismatch(step, expected)}).",
                    diagnoses.update_misconceptions(step, expected, tol), FAILED)
    return None, [], PASSED


def _steps_agree(step: np.ndarray, expected: np.ndarray, tol: float, rounding: np.ndarray, dtype) -> bool:
    """Relative agreement, allowing each entry the rounding of the dtype the submission stores its weights
    in: a float32 model updated with a zero gradient still moves by that rounding."""
    if rel_error(step, expected) <= tol:
        return True
    kind = np.dtype(getattr(dtype, "dtype", np.float64))
    resolution = np.finfo(kind).eps if kind.kind == "f" else 0.0
    slack = tol * float(np.max(np.abs(step) + np.abs(expected))) + 4 * resolution * rounding
    return bool(np.all(np.abs(step - expected) <= slack))


def _usable_gradients(ctx: Context, outcome, config) -> tuple[dict | None, bool, str]:
    """The gradients backward returned, keyed by parameter and shaped like it, if update can be judged
    against them; whether they had the documented shapes; else why not."""
    values = outcome.values
    backward_at = 1 + len(ctx.spec.parameters) + 1
    if len(values) <= backward_at:
        return None, False, outcome.problem or "backward did not return"
    returned = values[backward_at]
    if not isinstance(returned, dict):
        return None, False, f"backward returned {describe_type(returned)}, not a dict of gradients"
    grads, exact = {}, True
    for p, documented in ctx.spec.parameter_shapes(config).items():
        shape = layout.student_shape(documented, ctx.layout.get(p))  # the weights are kept that way
        value, _ = find_key(returned, ctx.spec.gradient_key(p), p)
        arr = as_array(value)[0] if value is not None else None
        if arr is None or arr.size != int(np.prod(shape)) or nonfinite(arr):
            return None, False, f"backward returned no usable '{ctx.spec.gradient_key(p)}'"
        exact = exact and arr.shape == shape
        grads[p] = arr.reshape(shape)
    if all(not np.any(g) for g in grads.values()):
        return None, False, "backward returned all-zero gradients"
    return grads, exact, ""


# ------------------------------------------------------------------ weights in and out

def check_weights_io(ctx: Context, check: dict, result: CheckResult) -> None:
    index = config_indices(ctx, check)[0]
    config, rng = ctx.spec.configs[index], ctx.rng(check["name"], index)
    first, second = ctx.hidden_weights(rng, config), ctx.hidden_weights(rng, config)
    params, model = ctx.spec.parameters, ctx.spec.model
    required = model.get("required_weights", params)
    where = f"For {ctx.describe({k: config[k] for k in model['sizes']})}"
    steps = ctx.new_model(config, first, seed=index)
    steps.append(call_step("m", "get_weights", keep_going=True))
    steps.append(call_step("m", "set_weights", second, keep_going=True))
    steps += [get_step("m", p, keep_going=True) for p in params]
    for missing in required:
        partial = {p: v for p, v in second.items() if p != missing}
        steps.append(call_step("m", "set_weights", partial, keep_going=True))
    outcome = ctx.run(steps)
    if not outcome.ok:
        return fail(ctx, result, f"{where}: {outcome.problem}.", ERROR)
    start = 1 + len(params)
    got, set_result = outcome.values[start], outcome.values[start + 1]
    after = outcome.values[start + 2: start + 2 + len(params)]
    partial_results = outcome.values[start + 2 + len(params):]
    if isinstance(got, Raised):
        return fail(ctx, result, f"{where}, get_weights() raised {got.info['text']}.", ERROR)
    if not isinstance(got, dict):
        return fail(ctx, result, f"{where}, get_weights() returned {describe_type(got)}; expected a dict with keys "
                                 f"{', '.join(params)}.")
    missing = [p for p in params if p not in got]
    if missing:
        return fail(ctx, result, f"{where}, get_weights() has no key(s) {', '.join(missing)}; expected all of "
                                 f"{', '.join(params)}.")
    for p in params:
        if not _holds(got[p], first[p], ctx.layout.get(p)):
            return fail(ctx, result, f"{where}, get_weights()['{p}'] is not the model's current `{p}`.")
    if isinstance(set_result, Raised):
        return fail(ctx, result, f"{where}, set_weights() with all five weights raised {set_result.info['text']}.", ERROR)
    for p, value in zip(params, after):
        if not _holds(value, second[p], ctx.layout.get(p)):
            return fail(ctx, result, f"{where}, after set_weights() `{p}` does not hold the value that was passed in.")
    for p, outcome_value in zip(required, partial_results):
        if not isinstance(outcome_value, Raised):
            return fail(ctx, result, f"{where}, set_weights() without '{p}' returned normally; expected it to raise "
                                     f"ValueError.")
        if outcome_value.type != "ValueError":
            return fail(ctx, result, f"{where}, set_weights() without '{p}' raised {outcome_value.type}; expected "
                                     f"ValueError.")
    result.output = "get_weights and set_weights round-trip every parameter; a missing weight raises ValueError."


def _holds(value, want: np.ndarray, how: str | None = None) -> bool:
    """Does a value the submission gave back hold exactly `want` (in the documented shape, or in the
    submission's own orientation `how` of a vector), up to the rounding of float32 at most (students who
    store float32 are right; a float16 store loses what was set)?"""
    if isinstance(value, Raised):
        return False
    arr = as_array(value)[0]
    arr = None if arr is None else layout.as_documented(arr, want.shape, how)
    dtype = np.dtype(getattr(value, "dtype", np.float64))
    if dtype.kind != "f" or dtype.itemsize < 4:
        dtype = np.dtype(np.float32)
    return arr is not None and same_values(arr, want, dtype)


# ------------------------------------------------------------------ numerical gradient

def check_numerical_gradient(ctx: Context, check: dict, result: CheckResult) -> None:
    """The student's differences, on a fresh model, against two-sided differences of sum(forward(x)): of the
    reference's forward, computed here, when the submission's forward passes forward_values; else of the
    submission's own forward, evaluated in fresh children (`own_forward`) where it is not degenerate."""
    eps, tol, model = check.get("eps", 1e-2), check.get("tolerance", 1e-4), ctx.spec.model
    function = next(iter(model["functions"]))
    params, agrees = ctx.spec.parameters, forward_agrees(ctx)
    probes = []
    for index in config_indices(ctx, check):
        config = affordable(ctx, ctx.spec.configs[index], check.get("most_entries", 400))
        rng = ctx.rng(check["name"], index)
        weights, x = ctx.hidden_weights(rng, config), ctx.hidden_input(rng, config)
        steps = ctx.new_model(config, weights, seed=index)
        # eps goes positionally: a student may name it epsilon, h or delta
        steps.append({"do": "func", "name": function, "args": [{"$ref": "m"}, x, eps]})
        steps += [get_step("m", p) for p in params]
        probes.append((index, config, weights, x, steps))
    returned = []
    for (index, config, weights, x, _), outcome in zip(probes, ctx.run_each([p[4] for p in probes])):
        where = f"For {ctx.describe(config)} and eps={eps:g}"
        found = _returned_differences(ctx, function, where, weights, outcome)
        if isinstance(found, tuple):  # what is wrong with it
            return fail(ctx, result, *found)
        returned.append((index, config, weights, x, found))
    if agrees:
        verdicts = [_against_reference(ctx, check, *probe, eps, tol) for probe in returned]
    else:
        verdicts = [(problem, []) for problem in own_forward.differences_verdicts(ctx, returned, eps, tol)]
    judged = 0
    for (index, config, *_), (problem, named) in zip(returned, verdicts):
        if problem == "degenerate":  # judged where that forward is not affine
            continue
        keeps_state = not agrees and "forward_keeps_state" in _forward_named(ctx)
        if problem and keeps_state and not problem.startswith("evaluating"):
            problem += ("; your forward keeps state from one call to the next, so differences taken by calling it "
                        "again and again drift: fix forward first")
            named = ["forward_keeps_state"]
        if problem:
            status = ERROR if problem.startswith("evaluating") else FAILED
            return fail(ctx, result, f"For {ctx.describe(config)} and eps={eps:g}, {problem}.", status, *named)
        judged += 1
    if not judged:
        return fail(ctx, result, f"{function} could not be judged: your forward is wrong and affine in its weights "
                                 "on every configuration tried, so its differences are the same everywhere; fix "
                                 "forward first.")
    result.output = f"{function} returns the two-sided differences of sum(forward(x)) and restores the weights."


def _returned_differences(ctx: Context, function: str, where: str, weights: dict, outcome):
    """The student's differences keyed by parameter, or (message, status, misconceptions) saying what is
    wrong with what the function returned or did to the model."""
    params = ctx.spec.parameters
    if not outcome.ok:
        return f"{where}: {outcome.problem}.", ERROR
    returned, after = outcome.values[-len(params) - 1], outcome.values[-len(params):]
    if not isinstance(returned, dict):
        return (f"{where}, {function}() returned {describe_type(returned)}; expected a dict with keys "
                f"{', '.join(ctx.spec.gradient_key(p) for p in params)}.", FAILED)
    changed = [p for p, v in zip(params, after) if not _holds(v, weights[p], ctx.layout.get(p))]
    if changed:
        return (f"{where}, {function}() left the model's `{', '.join(changed)}` changed; every weight must be "
                "restored after it is nudged.", FAILED, "numgrad_changes_weights")
    found = {}
    for p in params:
        key = ctx.spec.gradient_key(p)
        value, found_key = find_key(returned, key, p)
        if found_key is None:
            return f"{where}, {function}()'s dict has no key '{key}' (its keys: {keys_text(returned)}).", FAILED
        if found_key != key:
            return (f"{where}, {function}() returned this gradient under '{found_key}'; the key must be '{key}'.",
                    FAILED, "numgrad_keys_renamed")
        got, why = as_array(value)
        documented = None if got is None else layout.as_documented(got, weights[p].shape, ctx.layout.get(p))
        if documented is None:
            what = why or f"shape {shape_text(got.shape)}"
            return f"{where}, '{key}' is {what}; expected shape {shape_text(weights[p].shape)}.", FAILED
        got = documented
        if nonfinite(got):
            return f"{where}, '{key}' contains NaN or inf.", FAILED
        found[p] = got
    return found


def _against_reference(ctx: Context, check: dict, index: int, config: dict, weights: dict, x, found: dict,
                       eps: float, tol: float) -> tuple[str | None, list[str]]:
    """The student's differences entry by entry against the reference's two-sided differences (a random
    sample of entries above `full_up_to`, every other entry then held to the exact gradient): what is
    wrong, if anything, and the misconception that explains it."""
    ref = ctx.spec.reference
    coords = difference_coordinates(weights, check.get("full_up_to", 200), check.get("samples", 8),
                                    ctx.rng(check["name"], index, "coordinates"))
    values = [float(np.sum(ref.forward(w, x)[0])) for w in nudged_weight_sets(weights, eps, coords)]
    two_sided, one_sided = differences_at(values, eps, coords)
    for p, got in found.items():
        key, got = ctx.spec.gradient_key(p), got.reshape(-1)[coords[p]]
        if rel_error(got, two_sided[p]) > tol:
            named = ["numgrad_one_sided"] if rel_error(got, one_sided[p]) <= tol else []
            return f"'{key}' is not the two-sided difference of sum(forward(x)) ({mismatch(got, two_sided[p])})", named
    if any(len(coords[p]) < weights[p].size for p in found):
        return _against_exact_gradient(ctx, found, weights, x, coords, two_sided, tol), []
    return None, []


def affordable(ctx: Context, config: dict, most: int) -> dict:
    """The configuration itself when its model has at most `most` weight entries; else the same with its
    sizes halved, largest first, until it has, and every other dimension (the sequence) cut to 5. The
    student's own differences cost two forward calls per entry: at hidden size 64 that is ~9,000 calls,
    and they prove nothing more than on a small model."""
    def entries(c: dict) -> int:
        return sum(int(np.prod(shape)) for shape in ctx.spec.parameter_shapes(c).values())

    if entries(config) <= most:
        return config
    small = {k: (v if k in ctx.spec.model["sizes"] else min(v, 5)) for k, v in config.items()}
    while entries(small) > most and max(small[s] for s in ctx.spec.model["sizes"]) > 1:
        largest = max(ctx.spec.model["sizes"], key=lambda s: small[s])
        small[largest] = max(1, small[largest] // 2)
    return small


def difference_coordinates(weights: dict, full_up_to: int, samples: int, rng) -> dict[str, np.ndarray]:
    """Which entries of each weight to difference (flat indices): all of them for a small model, else a
    random sample per weight. Full differences cost two forward calls per entry."""
    if sum(w.size for w in weights.values()) <= full_up_to:
        return {p: np.arange(w.size) for p, w in weights.items()}
    return {p: np.sort(rng.choice(w.size, min(w.size, samples), replace=False)) for p, w in weights.items()}


def nudged_weight_sets(weights: dict, eps: float, coords: dict) -> list[dict]:
    """The weights themselves, then each chosen entry nudged by +eps and by -eps (the cs231n loop)."""
    sets = [weights]
    for p, indices in coords.items():
        for i in indices:
            for sign in (1.0, -1.0):
                nudged = weights[p].copy()
                flat = nudged.reshape(-1)
                flat[i] = flat[i] + sign * eps
                sets.append(dict(weights, **{p: nudged}))
    return sets


def differences_at(values: list[float], eps: float, coords: dict):
    """Two- and one-sided differences from sum(forward) at the weight sets of `nudged_weight_sets`."""
    base, rest = values[0], iter(values[1:])
    two, one = {}, {}
    for p, indices in coords.items():
        pairs = [(next(rest), next(rest)) for _ in indices]
        two[p] = np.array([(plus - minus) / (2 * eps) for plus, minus in pairs])
        one[p] = np.array([(plus - base) / eps for plus, _ in pairs])
    return two, one


def _against_exact_gradient(ctx: Context, found: dict, weights: dict, x, coords: dict, two_sided: dict,
                            tol: float) -> str | None:
    """Every entry against the reference's exact gradient of sum(forward), allowing the truncation error
    that two-sided differences have, as measured on the differenced entries (ten times it)."""
    exact = ctx.spec.reference.backward(weights, x, np.ones(ctx.spec.reference.forward(weights, x)[0].shape))
    keys = {p: ctx.spec.gradient_key(p) for p in found}
    truncation = max(float(np.max(np.abs(two_sided[p] - exact[keys[p]].reshape(-1)[coords[p]]))) for p in found)
    scale = max(float(np.max(np.abs(exact[keys[p]]))) for p in found)
    for p, got in found.items():
        worst = float(np.max(np.abs(got - exact[keys[p]])))
        if worst > 10 * truncation + tol * scale:
            return (f"'{keys[p]}' is not the two-sided difference of sum(forward(x)) for every entry "
                    f"(the largest error is {worst / max(scale, 1e-12):.2e} of the largest gradient entry)")
    return None


KINDS = {
    "init_shapes": check_init_shapes,
    "init_values": check_init_values,
    "forward_shape": check_forward_shape,
    "forward_values": check_forward_values,
    "gradient": check_gradient,
    "update": check_update,
    "weights_io": check_weights_io,
    "numerical_gradient": check_numerical_gradient,
}
