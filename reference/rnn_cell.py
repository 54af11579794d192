"""Reference for `rnn-cell` (seed 003, "Recurrent Neural Network - Step by Step"): the RNN cell and the
RNN over a sequence, forward and backward, with a `parameters` dict and the (n_x, m, T_x) layout.

    a<t> = tanh(Wax x<t> + Waa a<t-1> + ba)        y<t> = softmax(Wya a<t> + by)   (softmax over axis 0)

Caches follow the seed: a cell's cache is (a_next, a_prev, xt, parameters); rnn_forward's is (list of
cell caches, x). rnn_cell_backward returns {dxt, da_prev, dWax, dWaa, dba}, rnn_backward {dx, da0,
dWax, dWaa, dba}. The seed's rnn_cell_backward computes tanh' as 1 - tanh(a_next)^2, applying tanh to
a_next = tanh(z) a second time: here it is 1 - a_next^2. These functions are the solution in the form
students hand it in (softmax is defined here; students import it from rnn_utils). Never given to a
submission.
"""

import numpy as np


def softmax(x):
    e_x = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e_x / e_x.sum(axis=0, keepdims=True)


def rnn_cell_forward(xt, a_prev, parameters):
    Wax, Waa, Wya = parameters["Wax"], parameters["Waa"], parameters["Wya"]
    ba, by = parameters["ba"], parameters["by"]
    a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba)
    yt_pred = softmax(Wya @ a_next + by)
    return a_next, yt_pred, (a_next, a_prev, xt, parameters)


def rnn_forward(x, a0, parameters):
    n_x, m, T_x = np.shape(x)
    n_y, n_a = np.shape(parameters["Wya"])
    a, y_pred, caches = np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x)), []
    a_next = a0
    for t in range(T_x):
        a_next, yt_pred, cache = rnn_cell_forward(np.asarray(x)[:, :, t], a_next, parameters)
        a[:, :, t], y_pred[:, :, t] = a_next, yt_pred
        caches.append(cache)
    return a, y_pred, (caches, x)


def rnn_cell_backward(da_next, cache, tanh_prime=lambda a: 1 - a ** 2):
    a_next, a_prev, xt, parameters = cache
    a_next, a_prev, xt = np.asarray(a_next), np.asarray(a_prev), np.asarray(xt)
    dz = np.asarray(da_next) * tanh_prime(a_next)
    return {"dxt": np.asarray(parameters["Wax"]).T @ dz, "da_prev": np.asarray(parameters["Waa"]).T @ dz,
            "dWax": dz @ xt.T, "dWaa": dz @ a_prev.T, "dba": np.sum(dz, axis=1, keepdims=True)}


def rnn_backward(da, caches, carry=True):
    caches, x = caches
    n_a, m, T_x = np.shape(da)
    n_x = np.shape(x)[0]
    gradients = {"dx": np.zeros((n_x, m, T_x)), "dWax": np.zeros((n_a, n_x)), "dWaa": np.zeros((n_a, n_a)),
                 "dba": np.zeros((n_a, 1))}
    da_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        step = rnn_cell_backward(np.asarray(da)[:, :, t] + (da_prevt if carry else 0), caches[t])
        gradients["dx"][:, :, t] = step["dxt"]
        da_prevt = np.asarray(step["da_prev"])
        for key in ("dWax", "dWaa", "dba"):
            gradients[key] = gradients[key] + step[key]
    gradients["da0"] = da_prevt
    return gradients


def _cell_tanh_twice(da_next, cache):
    return rnn_cell_backward(da_next, cache, tanh_prime=lambda a: 1 - np.tanh(a) ** 2)


def _cell_forward_no_ba(xt, a_prev, parameters):
    return rnn_cell_forward(xt, a_prev, {**parameters, "ba": np.zeros_like(parameters["ba"])})


def _cell_forward_yt_no_by(xt, a_prev, parameters):
    a_next, _, cache = rnn_cell_forward(xt, a_prev, parameters)
    return a_next, softmax(parameters["Wya"] @ a_next), cache


def _cell_backward_dWaa_transposed(da_next, cache):
    grads = rnn_cell_backward(da_next, cache)
    return {**grads, "dWaa": grads["dWaa"].T}


# Each variant is a wrong version of functions above, by function name. A caller (`calls` in the spec)
# is also right when it returns what the reference's version returns on top of a variant its callee was
# recognised as.
VARIANTS = {
    "cell_forward_no_ba": {"rnn_cell_forward": _cell_forward_no_ba},
    "yt_pred_no_by": {"rnn_cell_forward": _cell_forward_yt_no_by},
    "gradient_transposed": {"rnn_cell_backward": _cell_backward_dWaa_transposed},
    "tanh_prime_twice": {"rnn_cell_backward": _cell_tanh_twice},
    "gradient_not_carried_back": {"rnn_backward": lambda da, caches: rnn_backward(da, caches, carry=False)},
    "softmax_wrong_axis": {
        "rnn_cell_forward": lambda xt, a_prev, p: (
            rnn_cell_forward(xt, a_prev, p)[0],
            softmax((p["Wya"] @ rnn_cell_forward(xt, a_prev, p)[0] + p["by"]).T).T, None)},
}

DIAGNOSES = {
    "cell_forward_no_ba": (
        "rnn_cell_forward leaves out the bias ba.",
        "a<t> = tanh(Wax x<t> + Waa a<t-1> + ba)."),
    "yt_pred_no_by": (
        "rnn_cell_forward leaves out the bias by in yt_pred.",
        "y<t> = softmax(Wya a<t> + by)."),
    "tanh_prime_twice": (
        "tanh' is computed from a_next, which has already been through tanh (as in the notebook's given "
        "rnn_cell_backward).",
        "a_next = tanh(z) is in the cache, so tanh'(z) = 1 - a_next^2; do not apply np.tanh to a_next again."),
    "gradient_not_carried_back": (
        "rnn_backward does not add the gradient carried back from the later time step.",
        "At step t the cell's upstream gradient is da[:, :, t] plus the da_prev that step t + 1 returned."),
    "softmax_wrong_axis": (
        "The softmax normalises over the examples instead of over the classes.",
        "Each column (one example) of y<t> must sum to 1: normalise over axis 0."),
}
