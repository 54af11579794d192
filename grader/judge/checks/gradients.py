"""The gradient checks: one forward+backward probe per configuration, shared and judged per key, against
the reference, or (forward failed its own check) against the submission's own forward, evaluated in
fresh children (own_forward.py), on configurations where that forward reads the parameter and is not
affine.
"""

from __future__ import annotations

import numpy as np

from grader.judge import diagnoses, layout, own_forward
from grader.judge.checks import numerical
from grader.judge.checks.common import config_indices, fail, find_key, keys_text
from grader.judge.checks.forward import forward_agrees
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


def check_gradient(ctx: Context, check: dict, result: CheckResult) -> None:
    name, tol = check["parameter"], ctx.spec.setting(check, "tolerance")
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
                                         lookup=lambda returned, p: find_key(returned, ctx.spec.gradient_key(p), p)[0],
                                         also=numerical.planned_own_clusters(ctx))
