"""Reference for `rnn-affine-batched` (seed 001): a batch-major sigmoid RNN with an affine/softmax head.

    h<t> = sigmoid(h<t-1> Wh^T + x<t> We^T + b1)   x (N, T, d), h (N, T, Dh), Wh (Dh, Dh), We (Dh, d), b1 (Dh,)
    theta = h U + b2                              U (Dh, V), b2 (V,), theta (N, T, V)

Interface choices where the seed leaves it open (the spec's description says the same): softmax(x)
normalises over the last axis; rnn_forward returns (h, cache) with cache[t] the step cache of time t
(the given code's dict {t: ...}, or a list); the step cache stays (h_prev, h_next, x_t) as given, which
does not hold the weights, so the backward functions take them: rnn_step_backward(dh_next, cache, Wh,
We) returns (dx_t, dh_prev, dWh, dWe, db1), and rnn_backward(dh, cache, Wh, We), with dh = dJ/dh
(N, T, Dh) for every step, returns (dx, dh_0, dWh, dWe, db1). These functions are the solution in the
form students hand it in; `VARIANTS` are known wrong versions. Never given to a submission.
"""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-np.clip(x, -500, 500)))


def softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def rnn_step_forward(x_t, h_prev, Wh, We, b1):
    h_next = sigmoid(np.matmul(h_prev, Wh.T) + np.matmul(x_t, We.T) + b1)
    return h_next, (h_prev, h_next, x_t)


def rnn_forward(T, x, h_0, Wh, We, b1):
    N, T, d = np.shape(x)
    h, h_prev, cache = np.zeros((N, T, np.shape(h_0)[1])), h_0, []
    for t in range(T):
        h[:, t, :], step = rnn_step_forward(np.asarray(x)[:, t, :], h_prev, Wh, We, b1)
        h_prev = h[:, t, :]
        cache.append(step)
    return h, cache


def rnn_step_backward(dh_next, cache, Wh, We, transposed=False):
    h_prev, h_next, x_t = (np.asarray(c) for c in cache)
    dz = np.asarray(dh_next) * h_next * (1 - h_next)
    dWh, dWe = (h_prev.T @ dz, x_t.T @ dz) if transposed else (dz.T @ h_prev, dz.T @ x_t)
    return dz @ np.asarray(We), dz @ np.asarray(Wh), dWh, dWe, dz.sum(axis=0)


def rnn_backward(dh, cache, Wh, We, carry=True):
    N, T, Dh = np.shape(dh)
    dx = np.zeros((N, T, np.shape(We)[1]))
    dWh, dWe, db1 = np.zeros(np.shape(Wh)), np.zeros(np.shape(We)), np.zeros(Dh)
    dh_prev = np.zeros((N, Dh))
    for t in reversed(range(T)):
        dx_t, dh_prev, dWh_t, dWe_t, db1_t = rnn_step_backward(
            np.asarray(dh)[:, t, :] + (dh_prev if carry else 0), cache[t], Wh, We)
        dx[:, t, :] = dx_t
        dWh, dWe, db1 = dWh + dWh_t, dWe + dWe_t, db1 + db1_t
    return dx, dh_prev, dWh, dWe, db1


def affine_forward(h, U, b2):
    N, T, Dh = np.shape(h)
    theta = (np.reshape(h, (N * T, Dh)) @ U + b2).reshape(N, T, -1)
    return theta, (U, b2, h)


def affine_backward(dtheta, cache, dh_with_u=False):
    U, b2, h = (np.asarray(c) for c in cache)
    N, T, V = np.shape(dtheta)
    flat, h_flat = np.reshape(dtheta, (N * T, V)), h.reshape(N * T, -1)
    dh = (flat @ (U if dh_with_u else U.T)).reshape(N, T, -1)
    return dh, h_flat.T @ flat, flat.sum(axis=0)


def _softmax_first_axis(x):
    e = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def _step_forward_tanh(x_t, h_prev, Wh, We, b1):
    h_next = np.tanh(np.matmul(h_prev, Wh.T) + np.matmul(x_t, We.T) + b1)
    return h_next, (h_prev, h_next, x_t)


def _step_backward_dWh_transposed(dh_next, cache, Wh, We):
    dx_t, dh_prev, dWh, dWe, db1 = rnn_step_backward(dh_next, cache, Wh, We)
    return dx_t, dh_prev, dWh.T, dWe, db1


# Known wrong versions, by diagnosis id. A caller (`calls` in the spec) is also right when it returns
# what the reference's version returns on top of a variant its callee was recognised as.
VARIANTS = {
    "step_forward_tanh": {"rnn_step_forward": _step_forward_tanh},
    "gradient_transposed": {"rnn_step_backward": _step_backward_dWh_transposed},
    "softmax_wrong_axis": {"softmax": _softmax_first_axis},
    "gradient_not_carried_back": {"rnn_backward": lambda dh, c, Wh, We: rnn_backward(dh, c, Wh, We, carry=False)},
    "affine_dh_untransposed_u": {"affine_backward": lambda d, c: affine_backward(d, c, dh_with_u=True)},
}

DIAGNOSES = {
    "step_forward_tanh": (
        "rnn_step_forward uses tanh where the unit uses the sigmoid.",
        "h<t> = sigmoid(h<t-1> Wh^T + x<t> We^T + b1)."),
    "softmax_wrong_axis": (
        "softmax normalises over the wrong axis.",
        "Each word's V scores (the last axis) must turn into probabilities that sum to 1."),
    "gradient_not_carried_back": (
        "rnn_backward does not add the gradient carried back from the later time step.",
        "At step t the step's upstream gradient is dh[:, t, :] plus the dh_prev that step t + 1 returned."),
    "affine_dh_untransposed_u": (
        "affine_backward computes dh with U where it needs U transposed (as the notebook's given code does).",
        "theta = h U, so dh = dtheta U^T; check the shapes: dtheta is (N*T, V) and U is (Dh, V)."),
}
