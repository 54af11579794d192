"""The numerical-gradient judge: the student's differences, on fresh models, at the spec's eps and at a
larger eps where real differences and an exact gradient cannot be confused, against the trusted
differences of the reference (or of the known variant the submission's forward is, variants.py),
computed here; and the arithmetic behind it, cs231n's loop made exact.
"""

from __future__ import annotations

import numpy as np

from grader.judge import layout, variants
from grader.judge.checks.common import config_indices, fail, find_key, holds, keys_text
from grader.judge.compare import as_array, describe_type, mismatch, nonfinite, rel_error, shape_text
from grader.judge.context import Context, get_step
from grader.report import ERROR, FAILED, CheckResult

LARGE_STEPS = (0.1, 0.2, 0.4)  # tried in turn for the second call: the first that tells differences apart
TOLD_APART = 20  # ... from the exact gradient by this many tolerances, on some parameter


def check_numerical_gradient(ctx: Context, check: dict, result: CheckResult) -> None:
    """The student's differences at eps and at a large eps, each on a fresh model, against the trusted
    two-sided differences of sum(forward(x)) at the same eps: of the reference, or also of the variant
    the submission's forward was recognised as. At the large eps an exact gradient is far (TOLD_APART
    tolerances) from the differences, so a function that returns one earns nothing."""
    eps, tol, model = ctx.spec.setting(check, "eps"), ctx.spec.setting(check, "tolerance"), ctx.spec.model
    function = next(iter(model["functions"]))
    by = variants.judge(ctx)
    candidates = [(None, variants.Judge(variants.REFERENCE, None, *_reference_pair(ctx)))]
    if by.follows_variant:
        candidates.append((by.variant, by))
    probes, runs = [], []
    for index, config, weights, x in probe_points(ctx, check):
        trusted = [Trusted(ctx, check, index, config, weights, x, name, judge) for name, judge in candidates]
        large = _large_step(trusted, tol)
        for step in (eps, large):
            steps = ctx.new_model(config, weights, seed=index)
            # eps goes positionally: a student may name it epsilon, h or delta
            steps.append({"do": "func", "name": function, "args": [{"$ref": "m"}, x, step]})
            steps += [get_step("m", p) for p in ctx.spec.parameters]
            runs.append(steps)
        probes.append((config, weights, trusted, large))
    outcomes = ctx.run_each(runs)
    told, own_step_untold = 0, False
    for n, (config, weights, trusted, large) in enumerate(probes):
        found = []
        for step, outcome in zip((eps, large), outcomes[2 * n: 2 * n + 2]):
            got = _returned_differences(ctx, function, f"For {ctx.describe(config)} and eps={step:g}", weights,
                                        outcome)
            if isinstance(got, tuple):  # what is wrong with it
                return fail(ctx, result, *got)
            found.append(got)
        problem, named, judged = _judge_probe(ctx, trusted, found, eps, large, tol, by)
        if problem:
            return fail(ctx, result, f"For {ctx.describe(config)}, {problem}.", FAILED, *named)
        told += judged == TOLD
        own_step_untold = own_step_untold or judged == OWN_STEP_UNTOLD
    if not told and own_step_untold:
        return fail(ctx, result, f"{function} returns the same result whatever eps it is given, and at the step it "
                                 "takes itself that result cannot be told from an exact gradient on any configuration "
                                 "tried, so it does not show that it takes differences: use the eps argument.")
    if not told:
        return fail(ctx, result, f"{function} could not be judged: on every configuration tried, the differences of "
                                 "the forward it is compared with cannot be told from an exact gradient; fix forward "
                                 f"first.{by.note()}")
    result.output = (f"{function} returns the two-sided differences of sum(forward(x)) at every eps it is given and "
                     "restores the weights.")


def _reference_pair(ctx: Context) -> tuple:
    ref = ctx.spec.reference
    return (lambda w, x: np.ravel(ref.forward(w, x)[0])), ref.backward


class Trusted:
    """One trusted forward (the reference or a variant) at one probe: its differences at any eps and its
    exact gradient of sum(forward), on the entries the check differences; computed here, remembered."""

    def __init__(self, ctx: Context, check: dict, index: int, config: dict, weights: dict, x, name, judge):
        self.ctx, self.weights, self.x, self.name, self.judge = ctx, weights, x, name, judge
        self.coords = difference_coordinates(weights, ctx.spec.setting(check, "full_up_to"),
                                             ctx.spec.setting(check, "samples"),
                                             ctx.rng(check["name"], index, "coordinates"))
        self.keys = {p: ctx.spec.gradient_key(p) for p in weights}
        self.ones = np.ones(ctx.spec.shape(ctx.spec.model["output"], config))
        self._exact = None

    def differences(self, eps: float) -> tuple[dict, dict]:
        return _trusted_differences(self.ctx.spec.fingerprint, self.name, self.judge.forward, self.weights, self.x,
                                    eps, self.coords)

    def exact(self) -> dict:
        """The exact gradient of sum(forward), every entry, keyed by parameter."""
        if self._exact is None:
            grads = self.judge.backward(self.weights, self.x, self.ones)
            self._exact = {p: np.asarray(grads[k], dtype=float).reshape(self.weights[p].shape)
                           for p, k in self.keys.items()}
        return self._exact

    def floor(self, eps: float) -> float:
        """The rounding an honest float32 model's differences carry: a few float32 steps of sum(forward),
        over 2 eps. Differences within it of each other agree (a parameter forward does not read gives
        noise around 0 on both sides)."""
        level = abs(float(np.sum(self.judge.forward(self.weights, self.x))))
        return 8 * float(np.finfo(np.float32).eps) * (1.0 + level) / eps

    def agrees(self, found: dict, eps: float, tol: float) -> bool:
        two, floor = self.differences(eps)[0], self.floor(eps)
        return all(_close(found[p].reshape(-1)[self.coords[p]], two[p], tol, floor) for p in two)

    def told_apart(self, eps: float, tol: float) -> bool:
        """Would an exact gradient fail against the differences at eps by TOLD_APART times the tolerance?"""
        return not self.agrees(self.exact(), eps, TOLD_APART * tol)


def _close(a, b, tol: float, floor: float) -> bool:
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    return rel_error(a, b) <= tol or float(np.max(np.abs(a - b), initial=0.0)) <= floor


def _large_step(trusted: list, tol: float) -> float:
    """The first of LARGE_STEPS at which every trusted forward's differences are told from its exact
    gradient; else the largest."""
    for step in LARGE_STEPS:
        if all(t.told_apart(step, tol) for t in trusted):
            return step
    return LARGE_STEPS[-1]


TOLD, UNTOLD, OWN_STEP_UNTOLD = "told apart", "not told apart", "own step, not told apart"  # what a probe showed


def _judge_probe(ctx: Context, trusted: list, found: list, eps: float, large: float, tol: float, by):
    """(problem or None, misconceptions, whether this probe told differences from an exact gradient). The
    differences pass when, at both steps, they are one trusted forward's (the reference's or the
    recognised variant's)."""
    small, big = found
    for t in trusted:
        two_small, _ = t.differences(eps)
        if not t.agrees(small, eps, tol):
            own = _its_own_step(t, small, big, large, tol)  # eps ignored: judged at the step it takes
            if own is not None:
                return None, [], TOLD if t.told_apart(own, tol) else OWN_STEP_UNTOLD
            continue
        if any(len(t.coords[p]) < t.weights[p].size for p in small):  # the rest held to the exact gradient
            problem = _against_exact_gradient(ctx, small, t, two_small, tol)
            if problem:
                return problem, [], UNTOLD
        if t.agrees(big, large, tol):
            return None, [], TOLD if t.told_apart(large, tol) else UNTOLD
        own = _its_own_step(t, small, big, large, tol)
        if own is not None:
            return None, [], TOLD if t.told_apart(own, tol) else OWN_STEP_UNTOLD
        return _not_numerical(ctx, t, small, big, eps, large, tol), [], UNTOLD
    t = trusted[-1]  # the one the feedback is about: the variant when there is one
    two, one = t.differences(eps)
    for p, got in small.items():
        key, got = ctx.spec.gradient_key(p), got.reshape(-1)[t.coords[p]]
        if not _close(got, two[p], tol, t.floor(eps)):
            named = ["numgrad_one_sided"] if _close(got, one[p], tol, t.floor(eps)) else []
            if by.kind == variants.STATEFUL:
                named = ["forward_keeps_state"]
            return (f"eps={eps:g}, '{key}' is not the two-sided difference of sum(forward(x)) "
                    f"({mismatch(got, two[p])}).{by.note()}".rstrip("."), named, UNTOLD)
    return "its differences are wrong", [], UNTOLD


def _not_numerical(ctx: Context, t: Trusted, small: dict, big: dict, eps: float, large: float,
                   tol: float) -> str:
    """Right at eps, wrong at the large eps, and not differences at a step of its own told from an exact
    gradient: why."""
    ignores = all(_close(small[p], big[p], tol, t.floor(large)) for p in small)
    if not ignores:
        two = t.differences(large)[0]
        key = next((ctx.spec.gradient_key(p) for p in big
                    if not _close(big[p].reshape(-1)[t.coords[p]], two[p], tol, t.floor(large))), "a gradient")
        return (f"eps={large:g}, '{key}' is not the two-sided difference of sum(forward(x)); the grader also asks "
                "for a large eps, where real differences and an exact gradient are far apart")
    return (f"your function returns the same result whatever eps it is given (eps={eps:g} and eps={large:g}), and "
            "at its own step that result cannot be told from an exact gradient, so it does not show that it takes "
            "differences: use the eps argument")


def _its_own_step(t: Trusted, small: dict, big: dict, large: float, tol: float) -> float | None:
    """For a function that returns the same whatever eps it is given: the step at which its result is the
    trusted forward's two-sided differences, or None. The probe then counts as numerical only where that
    step tells differences from an exact gradient (the caller asks `told_apart`)."""
    if not all(_close(small[p], big[p], tol, t.floor(large)) for p in small):
        return None
    estimate = _own_step(t, small, large)
    if estimate is None:
        return None
    # the estimate, then the round steps students write near it (higher-order terms bend the estimate)
    near = sorted((m * 10.0 ** e for e in range(-8, 1) for m in (1, 2, 2.5, 5) if estimate / 4 <= m * 10.0 ** e
                   <= estimate * 4), key=lambda h: abs(np.log(h / estimate)))
    return next((h for h in [estimate, *near[:8]] if t.agrees(small, h, tol)), None)


def _own_step(t: Trusted, found: dict, large: float) -> float | None:
    """The step of a function that ignores eps, estimated from how far it is from the exact gradient:
    two-sided differences err by about c * eps^2, with c measured at the large step."""
    exact, two = t.exact(), t.differences(large)[0]
    dev = np.concatenate([found[p].reshape(-1)[t.coords[p]] - exact[p].reshape(-1)[t.coords[p]] for p in two])
    c = np.concatenate([(two[p] - exact[p].reshape(-1)[t.coords[p]]) / large ** 2 for p in two])
    if not np.any(c) or not np.all(np.isfinite(dev)):
        return None
    k = float(dev @ c) / float(c @ c)
    return float(np.sqrt(k)) if 1e-16 <= k <= 1.0 else None


def probe_points(ctx: Context, check: dict) -> list[tuple]:
    """(index, configuration, hidden weights, hidden input) of each probe: what the check asks about."""
    points = []
    for index in config_indices(ctx, check):
        config = affordable(ctx, ctx.spec.configs[index], ctx.spec.setting(check, "most_entries"))
        rng = ctx.rng(check["name"], index)
        points.append((index, config, ctx.hidden_weights(rng, config), ctx.hidden_input(rng, config)))
    return points


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


_REMEMBERED: dict[str, tuple] = {}  # digest of the inputs -> the reference's differences
REMEMBER_MOST = 64


def _trusted_differences(fingerprint: str, name, forward, weights: dict, x, eps: float,
                         coords: dict) -> tuple[dict, dict]:
    """A trusted forward's two- and one-sided differences (two forward calls per entry, the grader's largest
    cost for a correct submission). Hidden weights and inputs depend on the seed only, so every
    submission of a batch asks for the same ones: remembered by a digest of everything they depend on."""
    import hashlib

    digest = hashlib.sha256(f"{fingerprint} {name} {eps!r}".encode())
    for p in sorted(weights):
        digest.update(p.encode() + np.ascontiguousarray(weights[p]).tobytes()
                      + np.ascontiguousarray(coords[p]).tobytes())
    digest.update(np.ascontiguousarray(x).tobytes() + str(np.shape(x)).encode())
    key = digest.hexdigest()
    if key not in _REMEMBERED:
        if len(_REMEMBERED) >= REMEMBER_MOST:
            _REMEMBERED.clear()
        values = [float(np.sum(forward(w, x))) for w in nudged_weight_sets(weights, eps, coords)]
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


def _against_exact_gradient(ctx: Context, found: dict, t: Trusted, two_sided: dict, tol: float) -> str | None:
    """Every entry against the trusted exact gradient of sum(forward), allowing the truncation error that
    two-sided differences have, as measured on the differenced entries (ten times it)."""
    exact, coords = t.exact(), t.coords
    truncation = max(float(np.max(np.abs(two_sided[p] - exact[p].reshape(-1)[coords[p]]))) for p in found)
    scale = max(float(np.max(np.abs(exact[p]))) for p in found)
    for p, got in found.items():
        worst = float(np.max(np.abs(got - exact[p])))
        if worst > 10 * truncation + tol * scale:
            return (f"'{ctx.spec.gradient_key(p)}' is not the two-sided difference of sum(forward(x)) for every entry "
                    f"(the largest error is {worst / max(scale, 1e-12):.2e} of the largest gradient entry)")
    return None
