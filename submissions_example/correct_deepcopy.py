"""Assignment 1: Numpy RNN. The numerical gradient nudges a deep copy of the model, so the model
that is passed in is never touched."""
import copy
from typing import Dict

import numpy as np


class RNN(object):
    """Numpy implementation of sequence-to-one recurrent neural network for regression tasks."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super(RNN, self).__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size

        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.by = np.zeros(output_size)

        self.a = None
        self.y_hat = None
        self.grads = {}
        self.x = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        self.a = np.zeros((x.shape[0] + 1, self.hidden_size))
        for t in range(x.shape[0]):
            s = self.W.T @ x[t] + self.R.T @ self.a[t] + self.bs
            self.a[t + 1] = np.tanh(s)
        self.y_hat = self.V.T @ self.a[-1] + self.by
        return self.y_hat

    def backward(self, d_loss: np.ndarray) -> Dict:
        T = self.x.shape[0]
        d_W, d_R, d_bs = np.zeros_like(self.W), np.zeros_like(self.R), np.zeros_like(self.bs)
        delta_a = self.V @ d_loss
        for t in range(T, 0, -1):
            delta_s = delta_a * (1 - self.a[t] ** 2)
            d_W += np.outer(self.x[t - 1], delta_s)
            d_R += np.outer(self.a[t - 1], delta_s)
            d_bs += delta_s
            delta_a = self.R @ delta_s
        self.grads = {'d_W': d_W, 'd_R': d_R, 'd_bs': d_bs,
                      'd_V': np.outer(self.a[-1], d_loss), 'd_by': np.array(d_loss, dtype=float)}
        return self.grads

    def update(self, lr: float):
        if not self.grads:
            raise RuntimeError("You have to call the .backward() function first")
        self.W = self.W - lr * self.grads['d_W']
        self.R = self.R - lr * self.grads['d_R']
        self.bs = self.bs - lr * self.grads['d_bs']
        self.V = self.V - lr * self.grads['d_V']
        self.by = self.by - lr * self.grads['d_by']

    def get_weights(self) -> Dict:
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights: Dict):
        if not all(name in weights.keys() for name in ['W', 'R', 'V']):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        for name, value in weights.items():
            setattr(self, name, value)


def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:
    # work on a private copy: nothing I do here can leave the caller's model changed
    probe = copy.deepcopy(model)
    numerical_grads = {}
    for name in ['W', 'R', 'V', 'bs', 'by']:
        param = getattr(probe, name)
        grad = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            original = param[idx]
            param[idx] = original + eps
            plus = np.sum(probe.forward(x))
            param[idx] = original - eps
            minus = np.sum(probe.forward(x))
            param[idx] = original
            grad[idx] = (plus - minus) / (2 * eps)
        numerical_grads['d_' + name] = grad
    return numerical_grads
