"""Named misconceptions: how each is recognised from a submission's outputs, and what it means in a
student's terms, with a hint that gives nothing away.

Generic ones (about shapes, keys, update steps, initialisation, numerical gradients) are worded here;
those tied to one assignment's mathematics live in its reference module as `DIAGNOSES`, next to the
variant that detects them. The checks decide pass or fail; these functions only name the mistake.
"""

from __future__ import annotations

import copy

import numpy as np

from grader.judge.compare import as_array, rel_error
from grader.judge.returns import unpack
from grader.report import Diagnosis

CATALOGUE: dict[str, tuple[str, str]] = {
    "update_wrong_direction": (
        "update moves the weights up the gradient instead of down it.",
        "Gradient descent subtracts the step: each parameter becomes P - lr * d_P."),
    "update_rescaled": (
        "update applies a step of the wrong size.",
        "Use the gradients exactly as backward returned them; they already sum over all time steps, so no "
        "extra division (for example by the sequence length) is needed."),
    "update_skips_parameter": (
        "update leaves at least one parameter unchanged although its gradient is not zero.",
        "Every parameter returned by backward (including both biases) must be updated."),
    "gradient_transposed": (
        "A gradient has the values of the right answer, transposed.",
        "A gradient must have the same shape and layout as its parameter: d_P[i, j] is dL/dP[i, j]."),
    "gradient_wrong_shape": (
        "A gradient has the right values but the wrong shape (for example (H, 1) instead of (H,)).",
        "Return each gradient shaped exactly like its parameter; check what np.dot or np.outer give you when a "
        "size is 1, and flatten or index where needed."),
    "gradient_keys_renamed": (
        "backward's dictionary uses other key names than the documented ones.",
        "The keys must be exactly the documented gradient names, one per parameter."),
    "gradient_per_sample": (
        "A gradient has one entry per sample (or per time step) stacked along a first axis, instead of their sum.",
        "Sum each gradient over the batch and the time steps, so that it has exactly its parameter's shape."),
    "forward_keeps_state": (
        "forward gives a different answer for the same input depending on earlier calls.",
        "Every forward pass must start from a[0] = 0; do not carry the hidden state over from a previous call."),
    "vector_orientation": (
        "A vector (a bias, or forward's output) is kept in another orientation than documented, for example "
        "a column (n, 1) where (n,) is documented.",
        "Give every parameter and forward's output exactly the documented shape. The grader followed your "
        "orientation for the other checks, so only the shape checks cost you; with columns, numpy "
        "broadcasting quietly changes shapes (an (n, 1) plus an (n,) is (n, n))."),
    "weights_stored_transposed": (
        "A weight matrix is stored with its two dimensions swapped.",
        "Give every parameter exactly the documented shape (rows and columns in the documented order). The "
        "grader sets weights in that layout, so forward and backward must be written for it too."),
    "init_wrong_distribution": (
        "The weights are not drawn from the distribution the assignment gives.",
        "Draw each weight as the assignment says: the distribution, its bounds and its shape."),
    "init_nonzero_bias": (
        "The biases do not start at zero.",
        "Initialise every bias with np.zeros of the right shape."),
    "numgrad_one_sided": (
        "get_numerical_gradient uses a one-sided difference.",
        "Use the two-sided difference (f(w + eps) - f(w - eps)) / (2 * eps)."),
    "numgrad_changes_weights": (
        "get_numerical_gradient leaves the model's weights changed.",
        "After nudging a weight up and down, put back exactly the value it had."),
    "numgrad_keys_renamed": (
        "The numerical gradient's dictionary uses other key names than backward's.",
        "Name its keys exactly like backward's gradients."),
}


def make(diagnosis_id: str, check: str, texts: dict | None = None) -> Diagnosis:
    message, hint = (texts or {}).get(diagnosis_id) or CATALOGUE[diagnosis_id]
    return Diagnosis(diagnosis_id, message, hint, [check])


# ------------------------------------------------------------------ detection, from outputs only
# Each detector gets what the submission returned for a probe the grader chose, and the probe itself;
# none of them ever sees the submission's code. `reference` is the assignment's reference module, whose
# MISCONCEPTIONS (backward) and VARIANTS (forward, with its exact backward) say what a known mistake
# would return.

def shape_misconceptions(shape: tuple, expected: tuple) -> list[str]:
    """A parameter whose two dimensions are swapped (square ones cannot show it)."""
    if len(expected) == 2 and expected[0] != expected[1] and tuple(shape) == tuple(expected[::-1]):
        return ["weights_stored_transposed"]
    return []


def forward_misconceptions(reference, weights: dict, xs: list, outputs: list, tol: float) -> list[str]:
    """Which known mistake explains every output of one model (`outputs[i]` is forward(xs[i]), in call
    order, ravelled)."""
    expected = [reference.forward(weights, x)[0] for x in xs]
    right = [o.size == e.size and rel_error(o, e) <= tol for o, e in zip(outputs, expected)]
    if right[0] and not all(right):  # the first call on a fresh model is right, a later one is not
        return ["forward_keeps_state"]
    for variant_id, variant in getattr(reference, "VARIANTS", {}).items():
        if not isinstance(variant, dict) or "forward" not in variant:
            continue
        wrong = [np.ravel(_first(variant["forward"](weights, x))) for x in xs]
        if all(o.size == w.size and rel_error(o, w) <= tol for o, w in zip(outputs, wrong)):
            return [variant_id]
    return []


def _first(value):
    return value[0] if isinstance(value, tuple) else value


def gradient_misconceptions(reference, probe: dict, key: str, got: np.ndarray, tol: float) -> list[str]:
    """Which known mistake explains a wrong gradient `got` for the probe (weights, x, d_loss)."""
    want = probe["grads_ref"][key]
    if got.shape != want.shape or layout_misconceptions(got, want, tol):
        return layout_misconceptions(got, want, tol)
    for variant_id, variant in getattr(reference, "MISCONCEPTIONS", {}).items():
        if rel_error(got, variant(probe["weights"], probe["x"], probe["d_loss"])[key]) <= tol:
            return [variant_id]
    return []


def layout_misconceptions(got: np.ndarray, want: np.ndarray, tol: float) -> list[str]:
    """The right values in the wrong shape, transposed, or not yet summed over a batch."""
    if got.shape != want.shape and got.size == want.size and rel_error(got.reshape(want.shape), want) <= tol:
        return ["gradient_wrong_shape"]
    if got.ndim == 2 and got.shape == want.T.shape and rel_error(got.T, want) <= tol:
        return ["gradient_transposed"]
    summed = got.sum(axis=0) if got.ndim >= 2 and got.shape[0] > 1 else None
    if summed is not None and summed.size == want.size and rel_error(summed.reshape(want.shape), want) <= tol:
        return ["gradient_per_sample"]  # (B, O) stacked for a bias kept as a column (O, 1) too
    return []


def function_misconceptions(reference, function: str, args: list, output: str, got, want, tol: float,
                            described: dict) -> list[str]:
    """Which known mistake explains a wrong `output` of a module-level function, given the arguments
    the reference was called with: a layout slip, or one of the reference's `VARIANTS` (id ->
    {function name: a wrong version of it}) returning the same thing."""

    got = as_array(got)[0]
    if got is None:
        return []
    want = np.asarray(want, dtype=float)
    found = layout_misconceptions(got, want, tol)
    if found or got.shape != want.shape:
        return found
    for variant_id, versions in getattr(reference, "VARIANTS", {}).items():
        if function in versions:
            wrong, _ = unpack(described, versions[function](*copy.deepcopy(args)))
            if wrong and output in wrong and np.shape(wrong[output]) == got.shape and \
                    rel_error(got, wrong[output]) <= tol:
                return [variant_id]
    return []


def update_misconceptions(step: np.ndarray, expected: np.ndarray, tol: float) -> list[str]:
    """What an update that moved a parameter by `step` instead of `expected` (= -lr * gradient) did."""
    if not np.any(step) and np.any(expected):
        return ["update_skips_parameter"]
    found = []
    scale = float(np.sum(step * expected) / max(float(np.sum(expected * expected)), 1e-300))
    if rel_error(step, scale * expected) <= tol:
        if scale < 0:
            found.append("update_wrong_direction")
        if abs(abs(scale) - 1.0) > 1e-3:
            found.append("update_rescaled")
    return found
