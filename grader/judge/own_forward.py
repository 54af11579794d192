"""Judging a submission against its own forward, for a forward that failed its own check.

When forward is wrong (a sigmoid for a tanh, say), a backward that is the exact gradient of that forward,
and a numerical gradient that differences it, are right in themselves: one bug costs the forward checks
only. To see that, the grader must evaluate the student's forward at weights of its choosing, and that
evaluation decides a score, so it must not be something the forward can steer:

- every evaluation runs in a fresh child (`Context.run_fresh`) that has loaded the file and seen no probe,
  no earlier call and no gradient the submission handed out, on a fresh model whose weights are set as
  attributes; nothing of the student's objects, classes or modules is modified;
- points around one base (a central difference w + h*u and w - h*u, say) never share a child: each child
  gets at most one point of each base, in random order, so a forward cannot recognise a difference being
  taken and answer its second half to suit; what it returns is a function of the point alone;
- a forward that is affine in its weights on a configuration is degenerate there: its gradient is the
  same everywhere, so matching it proves nothing. Such configurations are skipped; a forward that is
  degenerate on every configuration earns nothing this way.
"""

from __future__ import annotations

import numpy as np

from grader.judge.compare import as_array, rel_error
from grader.judge.context import Context, call_step
from grader.judge.layout import arrange

DIRECTIONS = 2  # random directions per judged quantity: a wrong gradient matches both by chance never
GRADIENT_STEP = 1e-5


def evaluate(ctx: Context, clusters: dict) -> dict:
    """forward(x) of the submission at every point, each on a fresh model, with the points of one cluster
    (one base) spread over different fresh children. clusters: key -> [(config, weights, x)]; returns
    key -> [output array or None (the call failed or returned no numbers)]. A point already evaluated
    for this submission (in children where its own cluster was spread the same way) is not asked again:
    the checks plan their points together (`plan`) so that one set of children serves them all."""
    known = ctx.cache.setdefault("own-forward-points", {})
    missing = {key: [point for point in points if _point_key(point) not in known] for key, points in clusters.items()}
    width = max((len(points) for points in missing.values()), default=0)
    for child in range(width):
        chosen = [(key, child) for key, points in missing.items() if child < len(points)]
        order = ctx.rng("own-forward-order", child).permutation(len(chosen))
        chosen = [chosen[i] for i in order]
        runs = []
        for key, at in chosen:
            config, weights, x = missing[key][at]
            runs.append(ctx.new_model(config, weights, name="e") + [call_step("e", "forward", x)])
        for (key, at), outcome in zip(chosen, ctx.run_fresh(runs)):
            found = as_array(outcome.values[-1])[0] if outcome.ok and outcome.values else None
            known[_point_key(missing[key][at])] = found
    return {key: [known[_point_key(point)] for point in points] for key, points in clusters.items()}


def _point_key(point: tuple) -> tuple:
    config, weights, x = point
    x = np.asarray(x)
    return (tuple(sorted(config.items())), tuple((p, w.shape, w.tobytes()) for p, w in sorted(weights.items())),
            x.shape, x.tobytes())


def _direction(rng, weights: dict, only: str | None = None) -> dict:
    """A random direction in weight space (in one parameter only, if named), of unit length."""
    u = {p: (rng.normal(size=w.shape) if only in (None, p) else np.zeros(w.shape)) for p, w in weights.items()}
    norm = np.sqrt(sum(float(np.sum(v * v)) for v in u.values()))
    return {p: v / norm for p, v in u.items()}


def _moved(weights: dict, direction: dict, step: float) -> dict:
    return {p: w + step * direction[p] for p, w in weights.items()}


def affine_clusters(ctx: Context, config: dict) -> tuple[str, dict]:
    """The points of the affinity test of one configuration: central differences along one direction at
    two unrelated weight points (two clusters)."""
    name = "affine " + ctx.describe(config)
    rng, h = ctx.rng("affine", name), 1e-3
    x = ctx.hidden_input(rng, config)
    points = [ctx.hidden_weights(rng, config), ctx.hidden_weights(rng, config)]
    direction = _direction(rng, points[0])
    return name, {(name, k): [(config, _moved(w, direction, sign * h), x) for sign in (1.0, -1.0)]
                  for k, w in enumerate(points)}


def is_affine(outputs: dict, name: str) -> bool | None:
    """From the affinity test's outputs: is the forward affine in its weights there? None if unknown."""
    slopes = []
    for k in range(2):
        plus, minus = outputs[(name, k)]
        if plus is None or minus is None:
            return None
        slopes.append(float(np.sum(plus) - np.sum(minus)))
    return rel_error(slopes[0], slopes[1]) <= 1e-7


# ------------------------------------------------------------------ backward against the own forward

def gradient_verdicts(ctx: Context, configs: dict[int, dict], parameters: list[str], tol: float, lookup,
                      also: dict | None = None) -> dict:
    """For each (configuration index, parameter): is backward the exact gradient of the submission's own
    forward there? "matches"; "flat" (that forward does not change with the parameter there, so there is
    nothing to follow); "degenerate" (that forward is affine there); or None (no, or it cannot be told).

    Backward is asked for its gradient at a base of its own per (configuration, parameter), in the
    current child; the forward is evaluated around that base in fresh children. Projection test
    (torch.autograd.gradcheck's fast mode): <gradient, u> against the central difference of
    d_loss . forward(x) along u, for random directions u in that parameter. `lookup(returned, p)` finds
    p's gradient in what backward returned (renamed keys included), or None. `also`: the points of a
    later check (`difference_clusters`), evaluated in the same children."""
    key = ("own-gradient", tuple(configs), tuple(parameters))
    if key in ctx.cache:
        return ctx.cache[key]
    bases, runs = [], []
    for index, config in configs.items():
        for p in parameters:
            rng = ctx.rng("own-gradient", index, p)
            weights, x = ctx.hidden_weights(rng, config), ctx.hidden_input(rng, config)
            d_loss = rng.normal(0.0, 1.0, ctx.spec.shape(ctx.spec.model["output"], config))
            directions = [_direction(rng, weights, only=p) for _ in range(DIRECTIONS)]
            bases.append((index, p, config, weights, x, d_loss, directions))
            backward = call_step("m", "backward", arrange(d_loss, ctx.layout.get("output")))
            runs.append(ctx.new_model(config, weights, seed=index) + [call_step("m", "forward", x), backward])
    returned = [o.values[-1] if o.ok else None for o in ctx.run_each(runs)]
    clusters, affine = {}, {}
    for index, p, config, weights, x, _, directions in bases:
        clusters[(index, p)] = [(config, _moved(weights, u, sign * GRADIENT_STEP), x)
                                for u in directions for sign in (1.0, -1.0)]
        if index not in affine:
            affine[index], more = affine_clusters(ctx, config)
            clusters.update(more)
    outputs = evaluate(ctx, {**(also or {}), **clusters})
    verdicts = {}
    for (index, p, _, _, _, d_loss, directions), gradients in zip(bases, returned):
        value = lookup(gradients, p) if isinstance(gradients, dict) else None
        verdicts[(index, p)] = _gradient_verdict(p, value, outputs[(index, p)], d_loss, directions,
                                                 is_affine(outputs, affine[index]), tol)
    ctx.cache[key] = verdicts
    return verdicts


def _gradient_verdict(p: str, value, outputs: list, d_loss, directions: list, affine, tol):
    if any(o is None or o.size != d_loss.size for o in outputs):
        return None
    losses = [float(d_loss.ravel() @ o.ravel()) for o in outputs]
    slopes = np.array([(losses[2 * k] - losses[2 * k + 1]) / (2 * GRADIENT_STEP) for k in range(len(directions))])
    if np.max(np.abs(slopes)) <= 1e-8:
        return "flat"  # nothing to follow here: a zero gradient of a parameter the forward does not read proves nothing
    grad = as_array(value)[0] if value is not None else None
    follows = grad is not None and grad.size == directions[0][p].size and rel_error(
        np.array([float(np.sum(grad.ravel() * u[p].ravel())) for u in directions]), slopes) <= max(tol, 1e-4)
    if follows and affine is False:
        return "matches"
    return "degenerate" if affine else None


# ------------------------------------------------------------------ differences against the own forward

def differences_verdicts(ctx: Context, probes: list[tuple], eps: float, tol: float) -> list[str | None]:
    """Do the student's differences follow the submission's own forward? probes: (index, config, weights,
    x, found: param -> the student's differences), all judged with one set of fresh children. The
    differences are projected on random directions and compared with that forward's central difference
    along each, with the same step eps (both then carry an error of order eps squared, hence the looser
    tolerance). Per probe: "degenerate" when that forward is affine there; None when they follow it;
    else a sentence."""
    clusters, plans = {}, []
    for index, config, weights, x, found in probes:
        name, more, directions = difference_clusters(ctx, index, config, weights, x, eps)
        clusters.update(more)
        plans.append((index, name, directions, found))
    outputs = evaluate(ctx, clusters)
    return [_differences_verdict(outputs, index, name, directions, found, eps, tol)
            for index, name, directions, found in plans]


def difference_clusters(ctx: Context, index: int, config: dict, weights: dict, x, eps: float) -> tuple[str, dict, list]:
    """The points `differences_verdicts` evaluates for one probe: its affinity test's, and central
    differences along random directions. Returns (the affinity test's name, clusters, directions)."""
    rng = ctx.rng("own-differences", index)
    directions = [_direction(rng, weights) for _ in range(DIRECTIONS)]
    name, clusters = affine_clusters(ctx, config)
    clusters[("differences", index)] = [(config, _moved(weights, u, sign * eps), x)
                                        for u in directions for sign in (1.0, -1.0)]
    return name, clusters, directions


def _differences_verdict(outputs: dict, index: int, name: str, directions: list, found: dict, eps: float,
                         tol: float) -> str | None:
    sums = [None if o is None else float(np.sum(o)) for o in outputs[("differences", index)]]
    affine = is_affine(outputs, name)
    if any(s is None for s in sums) or affine is None:
        return "evaluating your forward to check the differences failed"
    if affine:
        return "degenerate"
    slopes = np.array([(sums[2 * k] - sums[2 * k + 1]) / (2 * eps) for k in range(len(directions))])
    projections = np.array([sum(float(np.sum(found[p] * u[p])) for p in found) for u in directions])
    if rel_error(projections, slopes) > max(10 * tol, 1e-3):
        return ("its differences, taken together, do not follow sum(forward(x)) along random directions "
                f"(relative error {rel_error(projections, slopes):.2e})")
    return None
