"""The gradient checks: one forward+backward probe per configuration, shared and judged per key, against
the reference, or (forward failed its own check and is a known variant) against that variant's gradient,
computed in the grader's process (variants.py).
"""

from __future__ import annotations

import numpy as np

from grader.judge import diagnoses, layout, variants
from grader.judge.checks.common import config_indices, fail, find_key, keys_text
from grader.judge.compare import as_array, describe_type, mismatch, nonfinite, rel_error, shape_text
from grader.judge.context import Context, call_step
from grader.judge.layout import arrange
from grader.report import ERROR, FAILED, CheckResult


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
    step = outcome.raised_in or {}
    return not outcome.ok and not outcome.died and step.get("do") == "call" and step.get("method") == "backward"


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


def check_gradient(ctx: Context, check: dict, result: CheckResult) -> None:
    """One gradient, per configuration, against the reference's; where the submission's forward is a
    known variant (variants.py), also against that variant's gradient, computed here. A variant that does
    not read the parameter (its gradient is zero where the reference's is not) credits nothing: then the
    forward's mistake is named."""
    name, tol = check["parameter"], ctx.spec.setting(check, "tolerance")
    key, judged, flat = ctx.spec.gradient_key(name), 0, []
    for probe in gradient_probes(ctx, config_indices(ctx, check)):
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
        by = variants.judge(ctx)
        if by.follows_variant:
            own = _variant_gradient(ctx, by, probe)[key]
            if not np.any(own):  # that forward does not read the parameter here: nothing to follow
                flat.append(probe)
                continue
            if own.shape == got.shape and rel_error(got, own) <= tol:
                judged += 1
                continue
            return fail(ctx, result, f"{where}, '{key}' is neither the expected gradient nor the gradient of your "
                                     f"own forward, which the grader recognised ({mismatch(got, own)}).", FAILED,
                        *diagnoses.gradient_misconceptions(ctx.spec.reference, probe, key, got, tol))
        return fail(ctx, result, f"{where}, '{key}' is wrong ({mismatch(got, want)}).{by.note()}", FAILED,
                    *diagnoses.gradient_misconceptions(ctx.spec.reference, probe, key, got, tol))
    if not judged and flat:
        probe = flat[0]
        return fail(ctx, result, f"For {ctx.describe(probe['config'])} and a random d_loss, '{key}' is wrong; your "
                                 f"forward does not change at all when `{name}` changes, so fix forward first.",
                    FAILED, variants.judge(ctx).variant)
    result.output = f"'{key}' matches the expected gradient on every configuration."


def _variant_gradient(ctx: Context, by, probe: dict) -> dict:
    """The variant's gradient of d_loss . y at the probe, computed here (once per probe)."""
    if "grads_variant" not in probe:
        probe["grads_variant"] = by.backward(probe["weights"], probe["x"], probe["d_loss"])
    return probe["grads_variant"]
