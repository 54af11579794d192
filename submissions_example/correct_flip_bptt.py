"""Backpropagation through time without an index loop that counts down: the cached sequence is
reversed with np.flip and walked forwards."""
import numpy as np


class RNN(object):
    def __init__(self, input_size, hidden_size, output_size):
        self.hidden_size = hidden_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)
        self.x = None
        self.a = None
        self.grads = {}

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        a = np.zeros((x.shape[0] + 1, self.hidden_size))
        for t, x_t in enumerate(x):
            a[t + 1] = np.tanh(x_t @ self.W + a[t] @ self.R + self.bs)
        self.x, self.a = x, a
        return a[-1] @ self.V + self.by

    def backward(self, d_loss):
        d_loss = np.asarray(d_loss, dtype=float)
        xs_rev = np.flip(self.x, axis=0)             # x[T], ..., x[1]
        a_rev = np.flip(self.a[1:], axis=0)          # a[T], ..., a[1]
        a_prev_rev = np.flip(self.a[:-1], axis=0)    # a[T-1], ..., a[0]
        d_s_rev = []
        d_a = self.V @ d_loss
        for a_t in a_rev:
            d_s = d_a * (1.0 - a_t ** 2)
            d_s_rev.append(d_s)
            d_a = self.R @ d_s
        d_s_rev = np.array(d_s_rev)
        self.grads = {'d_W': xs_rev.T @ d_s_rev, 'd_R': a_prev_rev.T @ d_s_rev, 'd_bs': d_s_rev.sum(axis=0),
                      'd_V': np.outer(self.a[-1], d_loss), 'd_by': d_loss}
        return self.grads

    def update(self, lr):
        for k in ('W', 'R', 'V', 'bs', 'by'):
            setattr(self, k, getattr(self, k) - lr * self.grads['d_' + k])

    def get_weights(self):
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights):
        if not all(k in weights for k in ('W', 'R', 'V')):
            raise ValueError("need W, R and V")
        for k, v in weights.items():
            setattr(self, k, v)


def get_numerical_gradient(model, x, eps=1e-7):
    grads = {}
    for k, w in model.get_weights().items():
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            o = w[i]
            w[i] = o + eps
            fp = np.sum(model.forward(x))
            w[i] = o - eps
            fm = np.sum(model.forward(x))
            w[i] = o
            g[i] = (fp - fm) / (2 * eps)
        grads['d_' + k] = g
    return grads
