"""Uses the new Generator API: each model gets its own np.random.default_rng() and draws its weights
from U(-0.2, 0.2) with rng.uniform."""
import numpy as np


class RNN(object):
    def __init__(self, input_size, hidden_size, output_size, seed=None):
        self.rng = np.random.default_rng(seed)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.W = self.rng.uniform(-0.2, 0.2, size=(input_size, hidden_size))
        self.R = self.rng.uniform(-0.2, 0.2, size=(hidden_size, hidden_size))
        self.V = self.rng.uniform(-0.2, 0.2, size=(hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)
        self.x = self.a = None
        self.grads = {}

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        a = np.zeros((x.shape[0] + 1, self.hidden_size))
        pre = x @ self.W + self.bs
        for t in range(x.shape[0]):
            a[t + 1] = np.tanh(pre[t] + a[t] @ self.R)
        self.x, self.a = x, a
        return a[-1] @ self.V + self.by

    def backward(self, d_loss):
        d_loss = np.asarray(d_loss, dtype=float)
        T = self.x.shape[0]
        ds = np.zeros((T, self.hidden_size))
        da = self.V @ d_loss
        for t in range(T - 1, -1, -1):
            ds[t] = da * (1 - self.a[t + 1] ** 2)
            da = self.R @ ds[t]
        self.grads = {'d_W': self.x.T @ ds, 'd_R': self.a[:-1].T @ ds, 'd_bs': ds.sum(axis=0),
                      'd_V': np.outer(self.a[-1], d_loss), 'd_by': d_loss.copy()}
        return self.grads

    def update(self, lr):
        for k in ('W', 'R', 'V', 'bs', 'by'):
            setattr(self, k, getattr(self, k) - lr * self.grads['d_' + k])

    def get_weights(self):
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights):
        if not all(k in weights for k in ('W', 'R', 'V')):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        for k, v in weights.items():
            setattr(self, k, np.array(v, dtype=float))


def get_numerical_gradient(model, x, eps=1e-7):
    grads = {}
    for k in ('W', 'R', 'V', 'bs', 'by'):
        w = getattr(model, k)
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + eps
            plus = np.sum(model.forward(x))
            w[i] = old - eps
            minus = np.sum(model.forward(x))
            w[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads['d_' + k] = g
    return grads
