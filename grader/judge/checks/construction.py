"""The constructor's checks: parameter shapes (`init_shapes`, also where the submission's own vector
orientation is discovered, layout.py) and their initial values (`init_values`, one draw per parameter).
"""

from __future__ import annotations

import numpy as np

from grader.judge import diagnoses, layout
from grader.judge.checks.common import call_text, config_indices, fail, shape_problem
from grader.judge.compare import as_array, nonfinite
from grader.judge.context import Context, Raised, get_step
from grader.report import ERROR, FAILED, CheckResult


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
    for _, config, shapes, outcome in construction_probes(ctx):
        if not wanted & _same_sizes(ctx, config):
            continue
        if not outcome.ok:
            return fail(ctx, result, f"For {ctx.describe(config)}: {outcome.problem}.", ERROR)
        for (name, shape), value in zip(shapes.items(), outcome.values[1:]):
            problem = shape_problem(name, value, shape)
            if problem:
                arr = None if isinstance(value, Raised) else as_array(value)[0]
                found = diagnoses.shape_misconceptions(arr.shape, shape) if arr is not None else []
                if name in ctx.layout:
                    problem += f" (a {ctx.layout[name]} vector: the other checks follow that, this one cannot)"
                    found = ["vector_orientation"]
                return fail(ctx, result, f"After `{call_text(ctx, config)}`, {problem}.", FAILED, *found)
    result.output = "All parameters have the documented shapes."


def _same_sizes(ctx: Context, sizes: dict) -> set[int]:
    return {i for i, c in enumerate(ctx.spec.configs) if all(c[k] == v for k, v in sizes.items())}


def check_init_values(ctx: Context, check: dict, result: CheckResult) -> None:
    """Each parameter's values after construction, judged against the draw the spec gives it."""
    config, plan = check["config"], init_plan(check, ctx.spec.model["sizes"])
    names = list(plan)
    steps = ctx.new_model(config, None, seed=7)
    steps += [get_step("m", name, keep_going=True) for name in names]
    outcome = ctx.run(steps)
    if not outcome.ok:
        return fail(ctx, result, f"For `{call_text(ctx, config)}`: {outcome.problem}.", ERROR)
    values = dict(zip(names, outcome.values[1:]))
    shapes = ctx.spec.parameter_shapes(config)
    for name in names:  # only values that cannot be judged fail here: shapes are init_shapes' business
        arr = None if isinstance(values[name], Raised) else as_array(values[name])[0]
        if arr is None or arr.size == 0:
            problem = shape_problem(name, values[name], shapes[name])
            return fail(ctx, result, f"After `{call_text(ctx, config)}`, {problem}.")
    for name, draw in plan.items():
        found = _init_problem(as_array(values[name])[0], draw, config)
        if found:
            diagnosis = "init_nonzero_bias" if draw["draw"] == "zeros" else "init_wrong_distribution"
            return fail(ctx, result, f"After `{call_text(ctx, config)}`, `{name}` {found}.", FAILED, diagnosis)
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
