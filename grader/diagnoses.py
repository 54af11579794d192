"""Named misconceptions: what a failure means in a student's terms, and a hint that gives nothing away.

Generic ones (about shapes, keys, update steps, initialisation, numerical gradients) live here; those
tied to one assignment's mathematics live in its reference module as `DIAGNOSES`, next to the variant
that detects them.
"""

from __future__ import annotations

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
        "The keys must be exactly d_W, d_R, d_V, d_bs and d_by."),
    "forward_keeps_state": (
        "forward gives a different answer for the same input depending on earlier calls.",
        "Every forward pass must start from a[0] = 0; do not carry the hidden state over from a previous call."),
    "init_wrong_distribution": (
        "The weight matrices are not drawn from U(-0.2, 0.2).",
        "Use np.random.uniform(-0.2, 0.2, shape) for W, R and V."),
    "init_nonzero_bias": (
        "The biases do not start at zero.",
        "Initialise bs and by with np.zeros of the right length."),
    "numgrad_one_sided": (
        "get_numerical_gradient uses a one-sided difference.",
        "Use the two-sided difference (f(w + eps) - f(w - eps)) / (2 * eps)."),
    "numgrad_changes_weights": (
        "get_numerical_gradient leaves the model's weights changed.",
        "After nudging a weight up and down, put back exactly the value it had."),
    "numgrad_keys_renamed": (
        "get_numerical_gradient's dictionary uses other key names than backward's.",
        "Name the keys like the gradients of backward: d_W, d_R, d_V, d_bs, d_by."),
}


def make(diagnosis_id: str, check: str, texts: dict | None = None) -> Diagnosis:
    message, hint = (texts or {}).get(diagnosis_id) or CATALOGUE[diagnosis_id]
    return Diagnosis(diagnosis_id, message, hint, [check])
