"""forward's checks: the shape it returns (`forward_shape`) and its values against the reference over
several calls on one model (`forward_values`), whose verdict also decides who judges the gradients:
the reference when forward passes, or a trusted variant of it (variants.py) when it does not.
"""

from __future__ import annotations

from grader.judge import diagnoses, layout
from grader.judge.checks.common import config_indices, fail
from grader.judge.compare import as_array, mismatch, nonfinite, rel_error, shape_text
from grader.judge.context import Context, call_step
from grader.report import ERROR, FAILED, PASSED, CheckResult


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


def forward_named(ctx: Context) -> list[str]:
    """The misconceptions forward_values named (its verdict is worked out once)."""
    return forward_values_verdict(ctx, _forward_values_check(ctx))[2]


def forward_values_verdict(ctx: Context, check: dict) -> tuple[str, str, list[str]]:
    """(status, message, misconceptions) of forward_values, worked out once per submission."""
    key = ("forward-values", check["name"])
    if key not in ctx.cache:
        ctx.cache[key] = _forward_values(ctx, check)
    return ctx.cache[key]


def _forward_values(ctx: Context, check: dict) -> tuple[str, str, list[str]]:
    ref, tol, calls = ctx.spec.reference, ctx.spec.setting(check, "tolerance"), ctx.spec.setting(check, "calls")
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
