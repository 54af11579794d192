"""RNN with a numerical gradient on a shallow copy of the model. copy.copy shares the arrays, so each
weight is copied onto the clone before it is nudged; the caller's arrays are never written."""
import copy
from typing import Dict

import numpy as np

PARAMS = ('W', 'R', 'V', 'bs', 'by')


class RNN(object):
    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)
        self.hs = None
        self.x = None
        self.grads = {}

    def forward(self, x):
        h = np.zeros(self.hidden_size)
        hs = [h]
        for x_t in x:
            h = np.tanh(np.dot(x_t, self.W) + np.dot(h, self.R) + self.bs)
            hs.append(h)
        self.hs, self.x = hs, x
        return np.dot(h, self.V) + self.by

    def backward(self, d_loss):
        grads = {'d_' + p: np.zeros_like(getattr(self, p)) for p in PARAMS}
        grads['d_V'] = np.outer(self.hs[-1], d_loss)
        grads['d_by'] = np.array(d_loss, dtype=float)
        dh = np.dot(self.V, d_loss)
        for t in reversed(range(len(self.x))):
            ds = dh * (1.0 - self.hs[t + 1] ** 2)
            grads['d_W'] += np.outer(self.x[t], ds)
            grads['d_R'] += np.outer(self.hs[t], ds)
            grads['d_bs'] += ds
            dh = np.dot(self.R, ds)
        self.grads = grads
        return grads

    def update(self, lr):
        for p in PARAMS:
            setattr(self, p, getattr(self, p) - lr * self.grads['d_' + p])

    def get_weights(self):
        return {p: getattr(self, p) for p in PARAMS}

    def set_weights(self, weights):
        for p in ('W', 'R', 'V'):
            if p not in weights:
                raise ValueError("weights needs W, R and V, missing " + p)
        for p in PARAMS:
            if p in weights:
                setattr(self, p, weights[p])


def get_numerical_gradient(model, x, eps=1e-7):
    clone = copy.copy(model)  # shallow: the arrays are still the model's, so copy each before nudging
    grads = {}
    for p in PARAMS:
        w = getattr(model, p).copy()
        setattr(clone, p, w)
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            keep = w[i]
            w[i] = keep + eps
            f_plus = clone.forward(x).sum()
            w[i] = keep - eps
            f_minus = clone.forward(x).sum()
            w[i] = keep
            g[i] = (f_plus - f_minus) / (2 * eps)
        grads['d_' + p] = g
    return grads
