"""Saved on Windows: every line ends in CRLF."""
from typing import Dict

import numpy as np


class RNN(object):
    """Numpy implementation of sequence-to-one recurrent neural network for regression tasks."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.by = np.zeros(output_size)
        self.a = None
        self.x = None
        self.grads = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Forward pass: x has shape [sequence length, number of features]."""
        self.x = x
        self.a = np.zeros((x.shape[0] + 1, self.hidden_size))
        for t in range(x.shape[0]):
            self.a[t + 1] = np.tanh(np.dot(self.W.T, x[t]) + np.dot(self.R.T, self.a[t]) + self.bs)
        return np.dot(self.V.T, self.a[-1]) + self.by

    def backward(self, d_loss: np.ndarray) -> Dict:
        d_W = np.zeros_like(self.W)
        d_R = np.zeros_like(self.R)
        d_bs = np.zeros_like(self.bs)
        d_a = np.dot(self.V, d_loss)
        for t in range(self.x.shape[0], 0, -1):
            d_s = d_a * (1 - self.a[t] ** 2)
            d_W += np.outer(self.x[t - 1], d_s)
            d_R += np.outer(self.a[t - 1], d_s)
            d_bs += d_s
            d_a = np.dot(self.R, d_s)
        self.grads = {'d_W': d_W, 'd_R': d_R, 'd_bs': d_bs,
                      'd_V': np.outer(self.a[-1], d_loss), 'd_by': np.array(d_loss, dtype=float)}
        return self.grads

    def update(self, lr: float):
        if not self.grads:
            raise RuntimeError("You have to call the .backward() function first")
        self.W -= lr * self.grads['d_W']
        self.R -= lr * self.grads['d_R']
        self.bs -= lr * self.grads['d_bs']
        self.V -= lr * self.grads['d_V']
        self.by -= lr * self.grads['d_by']

    def get_weights(self) -> Dict:
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights: Dict):
        if not all(name in weights.keys() for name in ['W', 'R', 'V']):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        self.W = weights["W"]
        self.R = weights["R"]
        self.V = weights["V"]
        self.bs = weights["bs"]
        self.by = weights["by"]


def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:
    numerical_grads = {}
    for name, weight in model.get_weights().items():
        grad = np.zeros_like(weight)
        for i in np.ndindex(weight.shape):
            old = weight[i]
            weight[i] = old + eps
            plus = np.sum(model.forward(x))
            weight[i] = old - eps
            minus = np.sum(model.forward(x))
            weight[i] = old
            grad[i] = (plus - minus) / (2 * eps)
        numerical_grads['d_' + name] = grad
    return numerical_grads
