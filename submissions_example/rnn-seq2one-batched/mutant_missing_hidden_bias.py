# Single bug (missing_hidden_bias): see expectations.json.
"""A correct batched submission: x (T, B, I), y (B, O), d_loss (B, O)."""
from typing import Dict

import numpy as np


class RNN(object):
    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.W = np.zeros((input_size, hidden_size))
        self.R = np.zeros((hidden_size, hidden_size))
        self.bs = np.zeros((hidden_size, 1))
        self.V = np.zeros((hidden_size, output_size))
        self.by = np.zeros((output_size, 1))
        self.reset_parameters()
        self.x, self.a, self.grads = None, None, {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        T, B, _ = x.shape
        self.x = x
        self.a = np.zeros((T + 1, B, self.R.shape[0]))
        for t in range(T):
            self.a[t + 1] = np.tanh(x[t] @ self.W + self.a[t] @ self.R)  # the bug: no bs
        return self.a[-1] @ self.V + self.by.T

    def backward(self, d_loss: np.ndarray) -> Dict:
        T = self.x.shape[0]
        grads = {"d_V": self.a[-1].T @ d_loss, "d_by": d_loss.sum(axis=0).reshape(-1, 1),
                 "d_W": np.zeros_like(self.W), "d_R": np.zeros_like(self.R), "d_bs": np.zeros_like(self.bs)}
        d_a = d_loss @ self.V.T
        for t in range(T, 0, -1):
            d_s = d_a * (1 - self.a[t] ** 2)
            grads["d_W"] += self.x[t - 1].T @ d_s
            grads["d_R"] += self.a[t - 1].T @ d_s
            grads["d_bs"] += d_s.sum(axis=0).reshape(-1, 1)
            d_a = d_s @ self.R.T
        self.grads = grads
        return grads

    def update(self, lr: float):
        self.W -= lr * self.grads["d_W"]
        self.R -= lr * self.grads["d_R"]
        self.V -= lr * self.grads["d_V"]
        self.bs -= lr * self.grads["d_bs"]
        self.by -= lr * self.grads["d_by"]

    def get_weights(self) -> Dict:
        return {"W": self.W, "R": self.R, "V": self.V, "bs": self.bs, "by": self.by}

    def set_weights(self, weights: Dict):
        if not all(name in weights for name in ("W", "R", "V")):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        self.W, self.R, self.V = weights["W"], weights["R"], weights["V"]
        self.bs, self.by = weights["bs"], weights["by"]

    def reset_parameters(self):
        # recurrent weights initialized as identity matrix
        self.R = np.eye(self.hidden_size)

        # input to hidden and hidden to output initialized with LeCun initialization
        gain = np.sqrt(3 / self.input_size)
        self.W = np.random.uniform(-gain, gain, self.W.shape)
        gain = np.sqrt(3 / self.hidden_size)
        self.V = np.random.uniform(-gain, gain, self.V.shape)


def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:
    grads = {}
    for name, p in model.get_weights().items():
        g = np.zeros_like(p)
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
