# SCAFFOLD: the reference of `grade new-pack`'s toy assignment. Replace it with your assignment's own.
"""Reference for `toy-layer`: one dense tanh layer, y = tanh(W^T x + b), and its known mistakes.

This file is never given to a submission: the grader imports it in its own process only. It holds:
  - `forward(w, x)` and `backward(w, x, d_loss)`: pure functions of the weights (a dict), the input and
    the upstream gradient. The checks evaluate them on hidden probes and compare the submission with them.
  - `DIAGNOSES`: what each named misconception means to a student, and a hint that gives nothing away.
  - `MISCONCEPTIONS`: wrong-but-common versions of backward; the grader names one when a submission's
    gradient matches it and not the reference's.
  - `VARIANTS`: wrong-but-common forwards, each {"forward": f(w, x), "backward": its exact gradient}
    (leave out "backward" and the grader takes central differences of "forward" itself). When a
    submission's forward matches one, its gradients and numerical gradient are judged against that
    variant, computed here, so a forward bug costs only the forward checks. `grade selftest` wants a
    mutant example per variant that is matched to it, and the reference matching none.
  - at the end, the same solution in the form students hand in (`Layer`, `get_numerical_gradient`):
    `grade selftest` grades this very file and expects full marks.
"""

import numpy as np


def forward(w, x, activation=np.tanh):
    """Return y (O,) and what backward needs (here y itself: tanh' = 1 - y^2)."""
    y = activation(w["W"].T @ x + w["b"])
    return y, y


def backward(w, x, d_loss, tanh_prime=lambda y: 1.0 - y ** 2):
    """Gradients of d_loss . y with respect to W and b, keyed as the spec's `gradient_key` says."""
    y, _ = forward(w, x)
    d_s = d_loss * tanh_prime(y)
    return {"d_W": np.outer(x, d_s), "d_b": d_s}


# Each variant maps (weights, x, d_loss) to what a submission with that mistake would return.
MISCONCEPTIONS = {
    "missing_tanh_prime": lambda w, x, d: backward(w, x, d, tanh_prime=np.ones_like),
    "tanh_prime_of_output": lambda w, x, d: backward(w, x, d, tanh_prime=lambda y: 1.0 - np.tanh(y) ** 2),
}

# Each variant: a forward with that mistake (the reference's signature) and the exact gradient of it.
VARIANTS = {
    "no_activation": {"forward": lambda w, x: forward(w, x, activation=lambda s: s),
                      "backward": lambda w, x, d: {"d_W": np.outer(x, d), "d_b": np.asarray(d, dtype=float)}},
}

# What each variant means to a student, and a hint that does not give the solution away.
DIAGNOSES = {
    "missing_tanh_prime": (
        "backward does not multiply by the derivative of tanh.",
        "The chain rule passes through the activation: dL/ds = dL/dy * tanh'(s)."),
    "tanh_prime_of_output": (
        "tanh' is computed from a value that has already been through tanh.",
        "If you kept y = tanh(s), express tanh'(s) through y instead of applying tanh to it again."),
    "no_activation": (
        "forward applies no activation.",
        "The layer's output is y = tanh(W^T x + b)."),
}


class Layer:
    """The model solution, in the interface of the assignment, built on the functions above."""

    def __init__(self, input_size, output_size):
        self.W = np.random.uniform(-0.5, 0.5, (input_size, output_size))
        self.b = np.zeros(output_size)
        self.x, self.grads = None, {}

    def forward(self, x):
        self.x = np.asarray(x, dtype=float)
        return forward(self.get_weights(), self.x)[0]

    def backward(self, d_loss):
        self.grads = backward(self.get_weights(), self.x, np.asarray(d_loss, dtype=float))
        return self.grads

    def update(self, lr):
        self.W = self.W - lr * self.grads["d_W"]
        self.b = self.b - lr * self.grads["d_b"]

    def get_weights(self):
        return {"W": self.W, "b": self.b}

    def set_weights(self, weights):
        if "W" not in weights or "b" not in weights:
            raise ValueError("set_weights needs W and b")
        self.W, self.b = weights["W"], weights["b"]


def get_numerical_gradient(model, x, eps=1e-7):
    """Two-sided differences of sum(model.forward(x)) for every weight."""
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
