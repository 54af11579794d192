"""The numerical-gradient judge: the student's differences on a fresh model, against the reference's
two-sided differences when forward passes, or the student's own forward's along random directions
(own_forward.py) when it does not; and the arithmetic behind it, cs231n's loop made exact.
"""

from __future__ import annotations

import numpy as np

from grader.judge import layout, own_forward
from grader.judge.checks.common import config_indices, fail, find_key, holds, keys_text
from grader.judge.checks.forward import forward_agrees, forward_named
from grader.judge.compare import as_array, describe_type, mismatch, nonfinite, rel_error, shape_text
from grader.judge.context import Context, get_step
from grader.report import ERROR, FAILED, CheckResult


def check_numerical_gradient(ctx: Context, check: dict, result: CheckResult) -> None:
    """The student's differences, on a fresh model, against two-sided differences of sum(forward(x)): of the
    reference's forward, computed here, when the submission's forward passes forward_values; else of the
    submission's own forward, evaluated in fresh children (`own_forward`) where it is not degenerate."""
    eps, tol, model = ctx.spec.setting(check, "eps"), ctx.spec.setting(check, "tolerance"), ctx.spec.model
    function = next(iter(model["functions"]))
    params, agrees = ctx.spec.parameters, forward_agrees(ctx)
    probes = []
    for index, config, weights, x in probe_points(ctx, check):
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
    for (_, config, *_), (problem, named) in zip(returned, verdicts):
        if problem == "degenerate":  # judged where that forward is not affine
            continue
        keeps_state = not agrees and "forward_keeps_state" in forward_named(ctx)
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


def probe_points(ctx: Context, check: dict) -> list[tuple]:
    """(index, configuration, hidden weights, hidden input) of each probe: what the check asks about."""
    points = []
    for index in config_indices(ctx, check):
        config = affordable(ctx, ctx.spec.configs[index], ctx.spec.setting(check, "most_entries"))
        rng = ctx.rng(check["name"], index)
        points.append((index, config, ctx.hidden_weights(rng, config), ctx.hidden_input(rng, config)))
    return points


def planned_own_clusters(ctx: Context) -> dict:
    """The points this check will evaluate with the submission's own forward (when forward is wrong),
    so that the gradient checks evaluate them in their fresh children too: one set of children for both."""
    clusters = {}
    for check in (c for c in ctx.spec.checks if c["kind"] == "numerical_gradient"):
        for index, config, weights, x in probe_points(ctx, check):
            clusters.update(own_forward.difference_clusters(ctx, index, config, weights, x,
                                                            ctx.spec.setting(check, "eps"))[1])
    return clusters


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
    changed = [p for p, v in zip(params, after) if not holds(v, weights[p], ctx.layout.get(p))]
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
    coords = difference_coordinates(weights, ctx.spec.setting(check, "full_up_to"), ctx.spec.setting(check, "samples"),
                                    ctx.rng(check["name"], index, "coordinates"))
    two_sided, one_sided = _reference_differences(ctx.spec.fingerprint, ref, weights, x, eps, coords)
    for p, got in found.items():
        key, got = ctx.spec.gradient_key(p), got.reshape(-1)[coords[p]]
        if rel_error(got, two_sided[p]) > tol:
            named = ["numgrad_one_sided"] if rel_error(got, one_sided[p]) <= tol else []
            return f"'{key}' is not the two-sided difference of sum(forward(x)) ({mismatch(got, two_sided[p])})", named
    if any(len(coords[p]) < weights[p].size for p in found):
        return _against_exact_gradient(ctx, found, weights, x, coords, two_sided, tol), []
    return None, []


_REMEMBERED: dict[str, tuple] = {}  # digest of the inputs -> the reference's differences
REMEMBER_MOST = 64


def _reference_differences(fingerprint: str, ref, weights: dict, x, eps: float, coords: dict) -> tuple[dict, dict]:
    """The reference's two- and one-sided differences (two forward calls per entry, the grader's largest
    cost for a correct submission). Hidden weights and inputs depend on the seed only, so every
    submission of a batch asks for the same ones: remembered by a digest of everything they depend on."""
    import hashlib

    digest = hashlib.sha256(f"{fingerprint} {eps!r}".encode())
    for name in sorted(weights):
        digest.update(name.encode() + np.ascontiguousarray(weights[name]).tobytes()
                      + np.ascontiguousarray(coords[name]).tobytes())
    digest.update(np.ascontiguousarray(x).tobytes() + str(np.shape(x)).encode())
    key = digest.hexdigest()
    if key not in _REMEMBERED:
        if len(_REMEMBERED) >= REMEMBER_MOST:
            _REMEMBERED.clear()
        values = [float(np.sum(ref.forward(w, x)[0])) for w in nudged_weight_sets(weights, eps, coords)]
        two_sided, one_sided = differences_at(values, eps, coords)
        for array in (*two_sided.values(), *one_sided.values()):
            array.flags.writeable = False  # shared by every later submission: nobody may change it
        _REMEMBERED[key] = two_sided, one_sided
    return _REMEMBERED[key]


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
