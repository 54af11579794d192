"""Reference for `rnn-seq2one-batched`: Assignment 1's sequence-to-one tanh RNN with a batch dimension
(the later year's version of seed 004): x is (T, B, I), y is (B, O), d_loss is (B, O).

    s[t] = x[t] W + a[t-1] R + bs^T    a[0] = 0 (B, H)
    a[t] = tanh(s[t])
    y    = a[T] V + by^T               (row per sample; the same equations as rnn-seq2one, batched)

The biases are columns, bs (H, 1) and by (O, 1), as that year's given skeleton made them; the pure
functions accept them in any shape of the right size and give each gradient its parameter's shape.

Each gradient is dL/dP for L whose gradient with respect to y is d_loss, so it sums over the batch
(no mean: d_loss already carries any 1/B). Pure functions of (weights, x, d_loss), then the solution in
the form students hand in. Never given to a submission.
"""

import numpy as np


def forward(w, x, activation=np.tanh):
    """Return y (B, O) ravelled, and the activations a[0..T], each (B, H)."""
    x = np.asarray(x, dtype=float)
    a = [np.zeros((x.shape[1], w["R"].shape[0]))]
    for x_t in x:
        a.append(activation(x_t @ w["W"] + a[-1] @ w["R"] + np.ravel(w["bs"])))
    return (a[-1] @ w["V"] + np.ravel(w["by"])).ravel(), np.array(a)


def backward(w, x, d_loss, steps=None, tanh_prime=lambda a: 1.0 - a ** 2,
             recurrence=lambda R, d: d @ R.T, scale=1.0, activation=np.tanh):
    """Full BPTT gradients of sum(d_loss * y), summed over the batch; `steps` limits how far back. With
    another `activation` (and its derivative `tanh_prime`, from a) it is the gradient of that forward."""
    x, d_loss = np.asarray(x, dtype=float), np.asarray(d_loss, dtype=float).reshape(np.shape(x)[1], -1)
    _, a = forward(w, x, activation)
    T = len(x)
    g = {"d_V": a[T].T @ d_loss, "d_by": d_loss.sum(axis=0).reshape(np.shape(w["by"])),
         "d_W": np.zeros_like(w["W"]), "d_R": np.zeros_like(w["R"]), "d_bs": np.zeros_like(w["bs"])}
    d_a = d_loss @ w["V"].T
    for t in range(T, 0 if steps is None else max(T - steps, 0), -1):
        d_s = d_a * tanh_prime(a[t])
        g["d_W"] += x[t - 1].T @ d_s
        g["d_R"] += a[t - 1].T @ d_s
        g["d_bs"] += d_s.sum(axis=0).reshape(np.shape(w["bs"]))
        d_a = recurrence(w["R"], d_s)
    return {k: v * scale for k, v in g.items()}


def _sigmoid(s):
    return 1.0 / (1.0 + np.exp(-s))


MISCONCEPTIONS = {
    "truncated_bptt": lambda w, x, d: backward(w, x, d, steps=1),
    "tanh_prime_twice": lambda w, x, d: backward(w, x, d, tanh_prime=lambda a: 1.0 - np.tanh(a) ** 2),
    "bptt_wrong_transpose": lambda w, x, d: backward(w, x, d, recurrence=lambda R, d_s: d_s @ R),
    "ignores_d_loss": lambda w, x, d: backward(w, x, np.ones_like(d)),
    "gradient_batch_mean": lambda w, x, d: backward(w, x, d, scale=1.0 / np.shape(d)[0]),
}

def _variant(activation=np.tanh, prime=lambda a: 1.0 - a ** 2, hidden_bias=True, output_bias=True, steps=slice(None)):
    """A wrong forward students write, and the exact gradient of that forward (see rnn_seq2one.VARIANTS)."""
    def weights(w):
        return {**w, **({} if hidden_bias else {"bs": np.zeros_like(w["bs"])})}

    def wrong_forward(w, x):
        y, a = forward(weights(w), np.asarray(x, dtype=float)[steps], activation)
        return (y if output_bias else y - np.tile(np.ravel(w["by"]), np.shape(x)[1])), a

    def wrong_backward(w, x, d):
        g = backward(weights(w), np.asarray(x, dtype=float)[steps], d, tanh_prime=prime, activation=activation)
        if not hidden_bias:
            g["d_bs"] = np.zeros_like(g["d_bs"])
        if not output_bias:
            g["d_by"] = np.zeros_like(g["d_by"])
        return g
    return {"forward": wrong_forward, "backward": wrong_backward}


# Wrong forwards, by diagnosis id, each with the exact gradient of that forward: judged against when a
# submission's forward matches one (see rnn_seq2one.VARIANTS).
VARIANTS = {
    "sigmoid_activation": _variant(activation=_sigmoid, prime=lambda a: a * (1.0 - a)),
    "no_activation": _variant(activation=lambda s: s, prime=np.ones_like),
    "missing_output_bias": _variant(output_bias=False),
    "missing_hidden_bias": _variant(hidden_bias=False),
    "last_step_only": _variant(steps=slice(-1, None)),
}


DIAGNOSES = {
    "init_wrong_distribution": (
        "The weights do not start as the given reset_parameters makes them.",
        "Keep the given reset_parameters: R = np.eye(hidden_size), W and V from "
        "np.random.uniform(-sqrt(3 / fan_in), sqrt(3 / fan_in), shape) with fan_in = input_size for W and "
        "hidden_size for V."),
    "init_nonzero_bias": (
        "The biases do not start at zero.",
        "Keep the given np.zeros((hidden_size, 1)) and np.zeros((output_size, 1)) for bs and by."),
    "truncated_bptt": (
        "The gradients only flow through the last time step.",
        "Backpropagation through time must carry dL/da back through R to every earlier step and sum the "
        "contributions of all steps."),
    "tanh_prime_twice": (
        "tanh' is computed from a value that has already been through tanh.",
        "If your cache holds a = tanh(s), express tanh'(s) through a instead of applying tanh to it again."),
    "bptt_wrong_transpose": (
        "The error is carried back through R with the wrong orientation.",
        "Write s[t] = a[t-1] R out entry by entry and see which index of R the sum runs over."),
    "ignores_d_loss": (
        "backward ignores the values of d_loss (as if it were all ones).",
        "Start backpropagation from the d_loss that backward receives, sample by sample."),
    "gradient_batch_mean": (
        "The gradients are averaged over the batch instead of summed.",
        "d_loss already is dL/dy for every sample; the gradient of a weight adds up the contributions of "
        "all samples, with no extra division by the batch size."),
    "sigmoid_activation": (
        "forward uses the sigmoid where the assignment uses tanh.",
        "The hidden activation is a[t] = tanh(s[t])."),
    "no_activation": (
        "forward applies no activation to the hidden state.",
        "The hidden activation is a[t] = tanh(s[t])."),
    "missing_output_bias": (
        "forward leaves out the output bias by.",
        "y = a[T] V + by^T, for every sample of the batch."),
    "missing_hidden_bias": (
        "forward leaves out the hidden bias bs.",
        "s[t] = x[t] W + a[t-1] R + bs^T at every step."),
    "last_step_only": (
        "forward only uses the last element of the sequence.",
        "Run the recurrence over every time step from t = 1 to T."),
}


class RNN:
    """The model solution in that year's given skeleton (zeros, then reset_parameters; column biases)."""

    def __init__(self, input_size, hidden_size, output_size):
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.W = np.zeros((input_size, hidden_size))
        self.R = np.zeros((hidden_size, hidden_size))
        self.bs = np.zeros((hidden_size, 1))
        self.V = np.zeros((hidden_size, output_size))
        self.by = np.zeros((output_size, 1))
        self.reset_parameters()
        self.x, self.grads = None, {}

    def reset_parameters(self):
        self.R = np.eye(self.hidden_size)
        gain = np.sqrt(3 / self.input_size)
        self.W = np.random.uniform(-gain, gain, self.W.shape)
        gain = np.sqrt(3 / self.hidden_size)
        self.V = np.random.uniform(-gain, gain, self.V.shape)

    def forward(self, x):
        self.x = np.asarray(x, dtype=float)
        return forward(self.get_weights(), self.x)[0].reshape(self.x.shape[1], -1)

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
    """Two-sided differences of sum(model.forward(x)) over the whole batch, for every weight."""
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
