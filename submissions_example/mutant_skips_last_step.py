"""Bug: forward() stops one step early (range(len(x) - 1)): the last input is never read. backward follows
that forward and get_numerical_gradient is right. With T = 1 this forward reads no input at all and is affine
in its weights, so the grader judges the gradients and differences on the other configurations."""
from typing import Dict

import numpy as np


class RNN(object):
    """Sequence-to-one RNN for regression."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size

        self.W = np.random.uniform(-0.2, 0.2, size=(input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, size=(hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, size=(hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)

        self.inputs = []   # x[1..T]
        self.states = []   # a[0..T]
        self.grads = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.inputs = []
        self.states = [np.zeros(self.hidden_size)]
        for t in range(len(x) - 1):
            x_t = np.array(x[t], dtype=np.float64)
            s_t = np.dot(self.W.T, x_t) + np.dot(self.R.T, self.states[-1]) + self.bs
            self.inputs.append(x_t)
            self.states.append(np.tanh(s_t))
        y = np.dot(self.V.T, self.states[-1]) + self.by
        return y

    def backward(self, d_loss: np.ndarray) -> Dict:
        d_loss = np.array(d_loss, dtype=np.float64).reshape(self.output_size)
        d_W = np.zeros_like(self.W)
        d_R = np.zeros_like(self.R)
        d_bs = np.zeros_like(self.bs)
        d_V = np.outer(self.states[-1], d_loss)
        d_by = d_loss.copy()

        # gradient w.r.t. a[T], then walk back through time
        d_a = np.dot(self.V, d_loss)
        for t in range(len(self.inputs), 0, -1):
            d_s = d_a * (1.0 - self.states[t] ** 2)
            d_W += np.outer(self.inputs[t - 1], d_s)
            d_R += np.outer(self.states[t - 1], d_s)
            d_bs += d_s
            d_a = np.dot(self.R, d_s)

        self.grads = {'d_W': d_W, 'd_R': d_R, 'd_V': d_V, 'd_bs': d_bs, 'd_by': d_by}
        return self.grads

    def update(self, lr: float):
        for name in ['W', 'R', 'V', 'bs', 'by']:
            new_value = getattr(self, name) - lr * self.grads['d_' + name]
            setattr(self, name, new_value)

    def get_weights(self) -> Dict:
        return {'W': self.W.copy(), 'R': self.R.copy(), 'V': self.V.copy(),
                'bs': self.bs.copy(), 'by': self.by.copy()}

    def set_weights(self, weights: Dict):
        for name in ['W', 'R', 'V']:
            if name not in weights:
                raise ValueError(f"Missing weight '{name}'")
        self.W = np.array(weights['W'], dtype=np.float64)
        self.R = np.array(weights['R'], dtype=np.float64)
        self.V = np.array(weights['V'], dtype=np.float64)
        if 'bs' in weights:
            self.bs = np.array(weights['bs'], dtype=np.float64)
        if 'by' in weights:
            self.by = np.array(weights['by'], dtype=np.float64)


def _two_sided_difference(model, x, param, idx, eps):
    original = param[idx]
    param[idx] = original + eps
    loss_plus = np.sum(model.forward(x))
    param[idx] = original - eps
    loss_minus = np.sum(model.forward(x))
    param[idx] = original  # put the weight back exactly
    return (loss_plus - loss_minus) / (2 * eps)


def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:
    numerical_grads = {}
    for name in ['W', 'R', 'V', 'bs', 'by']:
        param = getattr(model, name)
        grad = np.zeros(param.shape)
        if param.ndim == 1:
            for i in range(param.shape[0]):
                grad[i] = _two_sided_difference(model, x, param, i, eps)
        else:
            for i in range(param.shape[0]):
                for j in range(param.shape[1]):
                    grad[i, j] = _two_sided_difference(model, x, param, (i, j), eps)
        numerical_grads['d_' + name] = grad
    return numerical_grads
