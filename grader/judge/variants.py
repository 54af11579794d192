"""What a submission's gradients are judged against: the reference, or a trusted variant of it.

When forward passes `forward_values`, the reference judges every gradient and the numerical gradient.
When it fails, the grader decides here, on the trusted side, whether that forward is a known variant of
the reference: one of the pack's `VARIANTS` that declares a `forward` (a misconception the pack names:
no hidden bias, sigmoid for tanh, ...). forward_values' own outputs on its hidden inputs are compared
with each variant's (`diagnoses.forward_misconceptions`). A match means the gradients are also judged
against that variant's gradients (its own `backward`, or the grader's central differences of its
forward), and the numerical gradient against that variant's differences, all computed here. The
submission's forward is never evaluated at a point chosen to judge another function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.judge.checks.forward import forward_agrees, forward_named
from grader.judge.context import Context

REFERENCE, VARIANT, STATEFUL, UNRECOGNISED = "reference", "variant", "stateful", "unrecognised"
GRADIENT_STEP = 1e-6  # the grader's own central differences of a variant without a backward

UNRECOGNISED_TEXT = ("Your forward differs from the reference in a way the grader does not recognise, so this "
                     "is compared with the reference's: fix forward first.")
STATEFUL_TEXT = ("Your forward keeps state from one call to the next, so differences taken by calling it again "
                 "and again drift: fix forward first.")


@dataclass(frozen=True)
class Judge:
    """The trusted function the gradients are judged against: the reference, or one variant of it.

    kind: REFERENCE (forward passed), VARIANT (forward is the variant `variant`), STATEFUL (forward keeps
    state; its first call on a fresh model is the reference's, so the reference judges) or UNRECOGNISED
    (forward is wrong in an unknown way; the reference judges and the feedback says so)."""

    kind: str
    variant: str | None
    forward: object  # (weights, x) -> y, ravelled
    backward: object  # (weights, x, d_loss) -> {gradient key: array}

    @property
    def follows_variant(self) -> bool:
        return self.kind == VARIANT

    def note(self) -> str:
        return {UNRECOGNISED: " " + UNRECOGNISED_TEXT, STATEFUL: " " + STATEFUL_TEXT}.get(self.kind, "")


def declared(reference) -> dict[str, dict]:
    """The pack's forward variants: id -> {"forward": f(w, x), "backward": g(w, x, d) (optional)}."""
    return {vid: v for vid, v in getattr(reference, "VARIANTS", {}).items() if isinstance(v, dict) and "forward" in v}


def judge(ctx: Context) -> Judge:
    """Who judges this submission's gradients (worked out once, from forward_values' verdict)."""
    if "judge" not in ctx.cache:
        ctx.cache["judge"] = _judge(ctx)
    return ctx.cache["judge"]


def _judge(ctx: Context) -> Judge:
    ref = ctx.spec.reference
    reference = (lambda w, x: np.ravel(ref.forward(w, x)[0]), ref.backward)
    if forward_agrees(ctx):
        return Judge(REFERENCE, None, *reference)
    named = forward_named(ctx)
    for variant_id, variant in declared(ref).items():
        if variant_id in named:
            return Judge(VARIANT, variant_id, *trusted_pair(ctx, variant))
    return Judge(STATEFUL if "forward_keeps_state" in named else UNRECOGNISED, None, *reference)


def trusted_pair(ctx: Context, variant: dict) -> tuple:
    """A variant's forward (ravelled) and gradient function: its own backward, or central differences."""
    def forward(w, x):
        return np.ravel(np.asarray(_first(variant["forward"](w, x)), dtype=float))

    if "backward" in variant:
        return forward, variant["backward"]
    keys = {p: ctx.spec.gradient_key(p) for p in ctx.spec.parameters}
    return forward, lambda w, x, d: central_gradient(forward, w, x, d, keys)


def _first(value):
    return value[0] if isinstance(value, tuple) else value


def central_gradient(forward, weights: dict, x, d_loss, keys: dict) -> dict:
    """The gradient of d_loss . forward(w, x), by central differences in float64 (trusted code only)."""
    d = np.ravel(np.asarray(d_loss, dtype=float))
    grads = {}
    for p, w in weights.items():
        g = np.zeros(w.shape)
        for i in np.ndindex(w.shape):
            plus, minus = w.copy(), w.copy()
            plus[i] += GRADIENT_STEP
            minus[i] -= GRADIENT_STEP
            change = forward({**weights, p: plus}, x) - forward({**weights, p: minus}, x)
            g[i] = float(d @ change) / (2 * GRADIENT_STEP)
        grads[keys[p]] = g
    return grads
