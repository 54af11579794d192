"""Reference for `rnn-seq2one`: the sequence-to-one tanh RNN of Assignment 1, and its known mistakes.

Pure functions of (weights, x, d_loss) so the grader can evaluate them on any probe. `MISCONCEPTIONS`
holds wrong-but-common variants; the grader names one when a submission matches it and the reference
does not. `RNN` and `get_numerical_gradient` at the end are the same solution in the form students
hand in: `grade selftest` grades this file and expects full marks. Never given to a submission.
"""

import numpy as np


def forward(w, x, activation=np.tanh):
    """Return y (O,) and the activations a[0..T] (a[0] = 0)."""
    a = [np.zeros(w["R"].shape[0])]
    for x_t in x:
        a.append(activation(w["W"].T @ x_t + w["R"].T @ a[-1] + w["bs"]))
    return w["V"].T @ a[-1] + w["by"], np.array(a)


def backward(w, x, d_loss, steps=None, tanh_prime=lambda a: 1.0 - a ** 2, recurrence=lambda R, d: R @ d,
             activation=np.tanh):
    """Full BPTT gradients of d_loss . y; `steps` limits how far back it flows (None: all). With another
    `activation` (and its derivative `tanh_prime`, from a) it is the gradient of that forward."""
    _, a = forward(w, x, activation)
    T = len(x)
    g = {"d_V": np.outer(a[T], d_loss), "d_by": np.array(d_loss, dtype=float),
         "d_W": np.zeros_like(w["W"]), "d_R": np.zeros_like(w["R"]), "d_bs": np.zeros_like(w["bs"])}
    d_a = w["V"] @ d_loss
    for t in range(T, 0 if steps is None else max(T - steps, 0), -1):
        d_s = d_a * tanh_prime(a[t])
        g["d_W"] += np.outer(x[t - 1], d_s)
        g["d_R"] += np.outer(a[t - 1], d_s)
        g["d_bs"] += d_s
        d_a = recurrence(w["R"], d_s)
    return g


def _sigmoid(s):
    return 1.0 / (1.0 + np.exp(-s))


# Each variant maps (weights, x, d_loss) to what a submission with that mistake would return.
MISCONCEPTIONS = {
    "truncated_bptt": lambda w, x, d: backward(w, x, d, steps=1),
    "tanh_prime_twice": lambda w, x, d: backward(w, x, d, tanh_prime=lambda a: 1.0 - np.tanh(a) ** 2),
    "bptt_wrong_transpose": lambda w, x, d: backward(w, x, d, recurrence=lambda R, d_s: R.T @ d_s),
    "ignores_d_loss": lambda w, x, d: backward(w, x, np.ones_like(d)),
}

def _variant(activation=np.tanh, prime=lambda a: 1.0 - a ** 2, hidden_bias=True, output_bias=True, steps=slice(None),
             r_transposed=False):
    """A wrong forward students write, and the exact gradient of that forward: (forward, backward), each
    with the reference's signature, as `VARIANTS` declares them."""
    def weights(w):
        return {**w, **({} if hidden_bias else {"bs": np.zeros_like(w["bs"])}),
                **({"R": w["R"].T} if r_transposed else {})}

    def wrong_forward(w, x):
        y, a = forward(weights(w), np.asarray(x)[steps], activation)
        return (y if output_bias else y - w["by"]), a

    def wrong_backward(w, x, d):
        g = backward(weights(w), np.asarray(x)[steps], d, tanh_prime=prime, activation=activation)
        if not hidden_bias:
            g["d_bs"] = np.zeros_like(g["d_bs"])
        if not output_bias:
            g["d_by"] = np.zeros_like(g["d_by"])
        if r_transposed:
            g["d_R"] = g["d_R"].T
        return g
    return {"forward": wrong_forward, "backward": wrong_backward}


# Wrong forwards students write, by diagnosis id: `forward` (with the reference's signature) and the
# exact `backward` of that forward. When a submission's forward fails forward_values and matches one of
# these, its gradients and numerical gradient are judged against that variant (computed here, never by
# re-running the submission), so the forward's bug costs only the forward's checks. A variant without
# `backward` is differenced by the grader itself. `grade selftest` checks that each has a mutant example
# matched to it and that the reference matches none.
VARIANTS = {
    "sigmoid_activation": _variant(activation=_sigmoid, prime=lambda a: a * (1.0 - a)),
    "relu_activation": _variant(activation=lambda s: np.maximum(s, 0.0), prime=lambda a: (a > 0).astype(float)),
    "no_activation": _variant(activation=lambda s: s, prime=np.ones_like),
    "missing_output_bias": _variant(output_bias=False),
    "missing_hidden_bias": _variant(hidden_bias=False),
    "last_step_only": _variant(steps=slice(-1, None)),
    "skips_last_step": _variant(steps=slice(None, -1)),
    "forward_r_transposed": _variant(r_transposed=True),
}


# What each variant means to a student, and a hint that does not give the solution away.
DIAGNOSES = {
    # this assignment's words for generic misconceptions (grader/judge/diagnoses.py words them generally)
    "gradient_keys_renamed": (
        "backward's dictionary uses other key names than the documented ones.",
        "The keys must be exactly d_W, d_R, d_V, d_bs and d_by."),
    "init_wrong_distribution": (
        "The weight matrices are not drawn from U(-0.2, 0.2).",
        "Use np.random.uniform(-0.2, 0.2, shape) for W, R and V."),
    "init_nonzero_bias": (
        "The biases do not start at zero.",
        "Initialise bs and by with np.zeros of the right length."),
    "numgrad_keys_renamed": (
        "get_numerical_gradient's dictionary uses other key names than backward's.",
        "Name the keys like the gradients of backward: d_W, d_R, d_V, d_bs, d_by."),
    "truncated_bptt": (
        "The gradients only flow through the last time step.",
        "Backpropagation through time must carry dL/da back through R to every earlier step and sum the "
        "contributions of all steps."),
    "tanh_prime_twice": (
        "tanh' is computed from a value that has already been through tanh.",
        "Look at what your cache holds: if it already holds a = tanh(s), express tanh'(s) through a instead "
        "of applying tanh to it a second time."),
    "bptt_wrong_transpose": (
        "The error is carried back through R with the wrong orientation.",
        "Write s[t] = R^T a[t-1] out entry by entry and see which index of R the sum runs over; a model with a "
        "non-symmetric R and your numerical gradient will show which orientation is right."),
    "ignores_d_loss": (
        "backward ignores the values of d_loss (as if it were all ones).",
        "Start backpropagation from the d_loss that backward receives."),
    "sigmoid_activation": (
        "forward uses the sigmoid where the assignment uses tanh.",
        "The hidden activation is a[t] = tanh(s[t])."),
    "relu_activation": (
        "forward uses ReLU where the assignment uses tanh.",
        "The hidden activation is a[t] = tanh(s[t])."),
    "no_activation": (
        "forward applies no activation to the hidden state.",
        "The hidden activation is a[t] = tanh(s[t])."),
    "missing_output_bias": (
        "forward leaves out the output bias by.",
        "y = V^T a[T] + by."),
    "missing_hidden_bias": (
        "forward leaves out the hidden bias bs.",
        "s[t] = W^T x[t] + R^T a[t-1] + bs at every step."),
    "last_step_only": (
        "forward only uses the last element of the sequence.",
        "Run the recurrence over every time step from t = 1 to T."),
    "skips_last_step": (
        "forward never reads the last element of the sequence.",
        "The recurrence runs over every time step, t = 1 to T inclusive: check the bounds of your loop."),
    "forward_r_transposed": (
        "forward carries the hidden state through R where it needs R transposed.",
        "s[t] = W^T x[t] + R^T a[t-1] + bs: write one entry of R^T a[t-1] out and see which index of R the sum "
        "runs over."),
}


class RNN:
    """The model solution, in the interface of the assignment, built on the functions above."""

    def __init__(self, input_size, hidden_size, output_size):
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs, self.by = np.zeros(hidden_size), np.zeros(output_size)
        self.x, self.grads = None, {}

    def forward(self, x):
        self.x = np.asarray(x, dtype=float)
        return forward(self.get_weights(), self.x)[0]

    def backward(self, d_loss):
        self.grads = backward(self.get_weights(), self.x, np.asarray(d_loss, dtype=float))
        return self.grads

    def update(self, lr):
        for name in ("W", "R", "V", "bs", "by"):
            setattr(self, name, getattr(self, name) - lr * self.grads["d_" + name])

    def get_weights(self):
        return {"W": self.W, "R": self.R, "V": self.V, "bs": self.bs, "by": self.by}

    def set_weights(self, weights):
        if not all(name in weights for name in ("W", "R", "V")):
            raise ValueError("set_weights needs W, R and V")
        for name, value in weights.items():
            setattr(self, name, value)


def get_numerical_gradient(model, x, eps=1e-7):
    """Two-sided differences of sum(model.forward(x)) for every weight (the cs231n way)."""
    grads = {}
    for name, p in model.get_weights().items():
        g = np.zeros_like(p, dtype=float)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            plus = np.sum(model.forward(x))
            p[i] = old - eps
            minus = np.sum(model.forward(x))
            p[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads["d_" + name] = g
    return grads
