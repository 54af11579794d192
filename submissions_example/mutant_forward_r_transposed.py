"""Bug: forward carries the hidden state through R where the assignment has R^T (s[t] = W^T x + R a[t-1] + bs),
and backward is the exact gradient of that forward. Only forward_values may fail: the forward is the declared
variant `forward_r_transposed`, so backward and the numerical gradient are judged against that variant."""
"""Correct submission: vectorised NumPy, caches the whole sequence as arrays."""
from typing import Dict

import numpy as np


class RNN(object):
    """Sequence-to-one RNN: s[t] = W^T x[t] + R^T a[t-1] + bs, a = tanh(s), y = V^T a[T] + by."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size

        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)

        # caches for backprop
        self.x = None
        self.a = None  # a[0] = 0, a[t] = hidden state after step t
        self.grads = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        T = x.shape[0]
        a = np.zeros((T + 1, self.hidden_size))
        u = x @ self.W + self.bs  # input part of s[t] for all t at once
        for t in range(T):
            a[t + 1] = np.tanh(u[t] + a[t] @ self.R.T)  # the bug: R a[t] instead of R^T a[t]
        self.x, self.a = x, a
        return a[T] @ self.V + self.by

    def backward(self, d_loss: np.ndarray) -> Dict:
        d_loss = np.asarray(d_loss, dtype=np.float64).reshape(self.output_size)
        x, a = self.x, self.a
        T = x.shape[0]

        d_s = np.zeros((T, self.hidden_size))
        d_a = self.V @ d_loss
        for t in reversed(range(T)):
            d_s[t] = d_a * (1.0 - a[t + 1] ** 2)
            d_a = self.R.T @ d_s[t]

        d_W = x.T @ d_s
        d_R = d_s.T @ a[:-1]
        d_bs = d_s.sum(axis=0)
        d_V = np.outer(a[T], d_loss)
        d_by = d_loss.copy()

        self.grads = {'d_W': d_W, 'd_R': d_R, 'd_V': d_V, 'd_bs': d_bs, 'd_by': d_by}
        return self.grads

    def update(self, lr: float):
        if not self.grads:
            raise RuntimeError("call backward() before update()")
        self.W -= lr * self.grads['d_W']
        self.R -= lr * self.grads['d_R']
        self.V -= lr * self.grads['d_V']
        self.bs -= lr * self.grads['d_bs']
        self.by -= lr * self.grads['d_by']

    def get_weights(self) -> Dict:
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights: Dict):
        missing = [k for k in ('W', 'R', 'V') if k not in weights]
        if missing:
            raise ValueError(f"missing weights: {missing}")
        for k in ('W', 'R', 'V', 'bs', 'by'):
            if k in weights:
                setattr(self, k, np.array(weights[k], dtype=np.float64))


def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:
    grads = {}
    for name in ('W', 'R', 'V', 'bs', 'by'):
        P = getattr(model, name)
        grad = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + eps
            f_plus = np.sum(model.forward(x))
            P[idx] = old - eps
            f_minus = np.sum(model.forward(x))
            P[idx] = old
            grad[idx] = (f_plus - f_minus) / (2 * eps)
        grads['d_' + name] = grad
    return grads
