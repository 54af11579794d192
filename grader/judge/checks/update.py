"""What the model does to its own weights: `update` (each parameter moves by -lr times the gradient the
submission's own backward returned) and `weights_io` (get_weights and set_weights round-trip what
was set; a missing weight raises ValueError).
"""

from __future__ import annotations

import numpy as np

from grader.judge import diagnoses, layout
from grader.judge.checks.common import config_indices, fail, find_key, holds
from grader.judge import variants
from grader.judge.checks.gradients import gradient_probes, run_with_d_loss
from grader.judge.compare import as_array, describe_type, mismatch, nonfinite, rel_error, shape_text
from grader.judge.context import Context, Raised, call_step, get_step
from grader.report import ERROR, FAILED, PASSED, CheckResult


GRADIENT_AGREEMENT = 1e-4  # backward's gradient is the trusted one (the gradient checks' tolerance)
SET_AGREEMENT = 1e-6  # the weights read before update are those set (float32 storage rounds by 6e-8)


def check_update(ctx: Context, check: dict, result: CheckResult) -> None:
    """Each parameter must move by exactly -lr times the gradient the submission's backward returned.

    Probes whose gradients have the documented shapes decide; probes with only the sizes right (an
    (H, 1) bias gradient) are used, reshaped, only when there is nothing else, so a shape bug costs its
    gradient check and not update as well. Probes with unusable or all-zero gradients are skipped."""
    tol, rates = ctx.spec.setting(check, "tolerance"), ctx.spec.setting(check, "learning_rates")
    params = ctx.spec.parameters
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
                       (lambda d, steps=steps, after=after: steps + [call_step("m", "backward", d)] + after, d_loss),
                       index, weights, x))
    for (config, lr, where, (_, d_loss), index, weights, x), outcome in zip(
            probes, run_with_d_loss(ctx, [p[3] for p in probes])):
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
        inconsistent = _inconsistent_backward(ctx, index, weights, x, d_loss, grads)
        if inconsistent:
            verdicts[exact].append((f"{where}, {inconsistent}", [], FAILED))
            continue
        verdicts[exact].append(_judge_update(ctx, where, lr, grads, weights, before, after, tol))
    decisive = verdicts[True] or verdicts[False]
    if not decisive:
        reason = unusable[0] if unusable else "no probe could be run"
        return fail(ctx, result, f"update could not be judged because backward gave nothing to apply: {reason}.", ERROR)
    for message, found, status in decisive:
        if message:
            return fail(ctx, result, message, status, *found)
    result.output = "update moves every parameter by exactly -lr times the gradient backward returned."


def _inconsistent_backward(ctx: Context, index: int, weights: dict, x, d_loss, grads: dict) -> str | None:
    """Why update cannot be judged against what backward returned in its probe, or None. A backward that is
    the trusted gradient in the gradient checks' probe of this configuration must be it here too: else a
    backward that answers otherwise in update's probe alone (the negated gradient, say) could make a
    wrong update look exact. A backward that is wrong in both is judged as returned (its bug costs the
    gradient checks, not update)."""
    by = variants.judge(ctx)
    here = by.backward(weights, x, d_loss)
    probe = gradient_probes(ctx, [index])[0]
    returned = probe["outcome"].values[-1] if probe["outcome"].ok and probe["outcome"].values else None
    there = by.backward(probe["weights"], probe["x"], probe["d_loss"])
    for p, got in grads.items():
        key = ctx.spec.gradient_key(p)
        if _agrees(got, here.get(key)):
            continue
        earlier = as_array(find_key(returned, key, p)[0])[0] if isinstance(returned, dict) else None
        if earlier is not None and _agrees(earlier, there.get(key)):
            return (f"backward's '{key}' here is not the gradient of forward, though it was in the gradient "
                    "checks: update is judged only against the gradients backward returns for every model, so "
                    "backward must not answer differently from one call to the next.")
    return None


def _agrees(got, want) -> bool:
    want = None if want is None else np.asarray(want, dtype=float)
    return (got is not None and want is not None and got.size == want.size and not nonfinite(got)
            and rel_error(np.ravel(got), np.ravel(want)) <= GRADIENT_AGREEMENT)


def _judge_update(ctx: Context, where: str, lr: float, grads: dict, weights: dict, before: list, after: list,
                  tol: float):
    """(failure message or None, misconceptions, status) for one probe."""
    for p, b, a in zip(ctx.spec.parameters, before, after):
        b_arr, a_arr = as_array(b)[0], as_array(a)[0]
        for when, arr, value in (("before", b_arr, b), ("after", a_arr, a)):  # validated before any arithmetic
            if arr is None or arr.shape != grads[p].shape or arr.dtype.kind not in "fiu":
                got = f"shape {shape_text(arr.shape)}" if arr is not None else describe_type(value)
                return (f"{where}, {when} update `{p}` is {got}; expected an array of the shape "
                        f"{shape_text(grads[p].shape)} (backward and update must keep every weight's shape).",
                        [], FAILED)
            if nonfinite(arr):  # an inf would make any tolerance scaled by the step infinite
                return (f"{where}, {when} update `{p}` holds inf or NaN; update must move each weight by a "
                        "finite step, -lr times its gradient.", [], FAILED)
        if rel_error(np.ravel(b_arr).astype(float), np.ravel(weights[p])) > SET_AGREEMENT:
            # the steps are measured from the weights the grader set: a backward that moved them (to huge
            # values whose rounding would excuse any step, say) leaves nothing to measure from
            return (f"{where}, `{p}` was changed before update was called (by forward or backward); only "
                    "update may change the weights.", [], FAILED)
        step, expected = a_arr - b_arr, -lr * grads[p]
        if not _steps_agree(step, expected, tol, rounding=np.maximum(np.abs(a_arr), np.abs(b_arr)), dtype=a):
            return (f"{where}, update changed `{p}` by the wrong amount: expected exactly -lr times the "
                    f"'{ctx.spec.gradient_key(p)}' that your backward returned ({mismatch(step, expected)}).",
                    diagnoses.update_misconceptions(step, expected, tol), FAILED)
    return None, [], PASSED


def _steps_agree(step: np.ndarray, expected: np.ndarray, tol: float, rounding: np.ndarray, dtype) -> bool:
    """Relative agreement, allowing each entry the rounding of the dtype the submission stores its weights
    in: a float32 model updated with a zero gradient still moves by that rounding."""
    if not (np.all(np.isfinite(step)) and np.all(np.isfinite(expected))):
        return False  # never agreement by an infinite slack
    if rel_error(step, expected) <= tol:
        return True
    kind = np.dtype(getattr(dtype, "dtype", np.float64))
    # a float32 model's rounding, nothing coarser: float16's would excuse steps of 1e-3 of every weight
    resolution = min(np.finfo(kind).eps, np.finfo(np.float32).eps) if kind.kind == "f" else 0.0
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
        if not holds(got[p], first[p], ctx.layout.get(p)):
            return fail(ctx, result, f"{where}, get_weights()['{p}'] is not the model's current `{p}`.")
    if isinstance(set_result, Raised):
        return fail(ctx, result, f"{where}, set_weights() with all {len(params)} weights raised "
                                 f"{set_result.info['text']}.", ERROR)
    for p, value in zip(params, after):
        if not holds(value, second[p], ctx.layout.get(p)):
            return fail(ctx, result, f"{where}, after set_weights() `{p}` does not hold the value that was passed in.")
    for p, outcome_value in zip(required, partial_results):
        if not isinstance(outcome_value, Raised):
            return fail(ctx, result, f"{where}, set_weights() without '{p}' returned normally; expected it to raise "
                                     f"ValueError.")
        if outcome_value.type != "ValueError":
            return fail(ctx, result, f"{where}, set_weights() without '{p}' raised {outcome_value.type}; expected "
                                     f"ValueError.")
    result.output = "get_weights and set_weights round-trip every parameter; a missing weight raises ValueError."
