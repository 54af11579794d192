"""RNN written with np.einsum for every product."""
import numpy as np


class RNN(object):
    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.by = np.zeros(output_size)
        self.x, self.a, self.grads = None, None, {}

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        a = np.zeros((x.shape[0] + 1, self.hidden_size))
        for t in range(x.shape[0]):
            a[t + 1] = np.tanh(np.einsum('ih,i->h', self.W, x[t]) + np.einsum('jh,j->h', self.R, a[t]) + self.bs)
        self.x, self.a = x, a
        return np.einsum('ho,h->o', self.V, a[-1]) + self.by

    def backward(self, d_loss):
        d_loss = np.asarray(d_loss, dtype=float)
        T = self.x.shape[0]
        d_s = np.zeros((T, self.hidden_size))
        d_a = np.einsum('ho,o->h', self.V, d_loss)
        for t in range(T - 1, -1, -1):
            d_s[t] = d_a * (1.0 - self.a[t + 1] ** 2)
            d_a = np.einsum('jh,h->j', self.R, d_s[t])
        self.grads = {
            'd_W': np.einsum('ti,th->ih', self.x, d_s),
            'd_R': np.einsum('tj,th->jh', self.a[:-1], d_s),
            'd_bs': np.einsum('th->h', d_s),
            'd_V': np.einsum('h,o->ho', self.a[-1], d_loss),
            'd_by': np.einsum('o->o', d_loss),
        }
        return self.grads

    def update(self, lr):
        for k in ('W', 'R', 'V', 'bs', 'by'):
            setattr(self, k, getattr(self, k) - lr * self.grads['d_' + k])

    def get_weights(self):
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights):
        if not {'W', 'R', 'V'} <= set(weights):
            raise ValueError("weights must contain W, R and V")
        for k, v in weights.items():
            setattr(self, k, v)


def get_numerical_gradient(model, x, eps=1e-7):
    grads = {}
    for k, w in model.get_weights().items():
        g = np.zeros_like(w)
        it = np.ndindex(w.shape)
        for idx in it:
            w0 = w[idx]
            w[idx] = w0 + eps
            lp = np.einsum('o->', model.forward(x))
            w[idx] = w0 - eps
            lm = np.einsum('o->', model.forward(x))
            w[idx] = w0
            g[idx] = (lp - lm) / (2 * eps)
        grads['d_' + k] = g
    return grads
