"""RNN keeping its weights in one dict, self.params, with a property (and setter) per weight."""
from typing import Dict

import numpy as np


class RNN(object):
    """Numpy implementation of sequence-to-one recurrent neural network for regression tasks."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.params = {
            'W': np.random.uniform(-0.2, 0.2, (input_size, hidden_size)),
            'R': np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size)),
            'V': np.random.uniform(-0.2, 0.2, (hidden_size, output_size)),
            'bs': np.zeros(hidden_size),
            'by': np.zeros(output_size),
        }
        self.cache = None
        self.grads = {}

    @property
    def W(self):
        return self.params['W']

    @W.setter
    def W(self, value):
        self.params['W'] = value

    @property
    def R(self):
        return self.params['R']

    @R.setter
    def R(self, value):
        self.params['R'] = value

    @property
    def V(self):
        return self.params['V']

    @V.setter
    def V(self, value):
        self.params['V'] = value

    @property
    def bs(self):
        return self.params['bs']

    @bs.setter
    def bs(self, value):
        self.params['bs'] = value

    @property
    def by(self):
        return self.params['by']

    @by.setter
    def by(self, value):
        self.params['by'] = value

    def forward(self, x: np.ndarray) -> np.ndarray:
        a = [np.zeros(self.hidden_size)]
        for t in range(x.shape[0]):
            a.append(np.tanh(self.W.T @ x[t] + self.R.T @ a[-1] + self.bs))
        self.cache = (x, a)
        return self.V.T @ a[-1] + self.by

    def backward(self, d_loss: np.ndarray) -> Dict:
        x, a = self.cache
        grads = {'d_W': np.zeros_like(self.W), 'd_R': np.zeros_like(self.R), 'd_bs': np.zeros_like(self.bs),
                 'd_V': np.outer(a[-1], d_loss), 'd_by': np.copy(d_loss)}
        da = self.V @ d_loss
        for t in range(len(x), 0, -1):
            ds = da * (1 - a[t] ** 2)
            grads['d_W'] += np.outer(x[t - 1], ds)
            grads['d_R'] += np.outer(a[t - 1], ds)
            grads['d_bs'] += ds
            da = self.R @ ds
        self.grads = grads
        return grads

    def update(self, lr: float):
        for name in self.params:
            self.params[name] = self.params[name] - lr * self.grads['d_' + name]

    def get_weights(self) -> Dict:
        return dict(self.params)

    def set_weights(self, weights: Dict):
        if not all(name in weights for name in ['W', 'R', 'V']):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        for name in weights:
            self.params[name] = weights[name]


def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:
    numerical_grads = {}
    for name, param in model.params.items():
        grad = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + eps
            plus = np.sum(model.forward(x))
            param[idx] = old - eps
            minus = np.sum(model.forward(x))
            param[idx] = old
            grad[idx] = (plus - minus) / (2 * eps)
        numerical_grads['d_' + name] = grad
    return numerical_grads
