"""RNN with __slots__ (no instance __dict__): a fixed set of attributes, nothing else can be stored."""
import numpy as np


class RNN:
    __slots__ = ('input_size', 'hidden_size', 'output_size', 'W', 'R', 'V', 'bs', 'by', 'x', 'a', 'grads')

    def __init__(self, input_size, hidden_size, output_size):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)
        self.x = None
        self.a = None
        self.grads = {}

    def forward(self, x):
        T = len(x)
        a = np.zeros((T + 1, self.hidden_size))
        for t in range(1, T + 1):
            a[t] = np.tanh(self.W.T.dot(x[t - 1]) + self.R.T.dot(a[t - 1]) + self.bs)
        self.x, self.a = np.array(x, dtype=float), a
        return self.V.T.dot(a[T]) + self.by

    def backward(self, d_loss):
        x, a = self.x, self.a
        T = len(x)
        dW, dR, dbs = np.zeros_like(self.W), np.zeros_like(self.R), np.zeros_like(self.bs)
        dV, dby = np.outer(a[T], d_loss), np.array(d_loss, dtype=float)
        da = self.V.dot(d_loss)
        for t in range(T, 0, -1):
            ds = (1.0 - a[t] * a[t]) * da
            dW += np.outer(x[t - 1], ds)
            dR += np.outer(a[t - 1], ds)
            dbs += ds
            da = self.R.dot(ds)
        self.grads = {'d_W': dW, 'd_R': dR, 'd_V': dV, 'd_bs': dbs, 'd_by': dby}
        return self.grads

    def update(self, lr):
        self.W -= lr * self.grads['d_W']
        self.R -= lr * self.grads['d_R']
        self.V -= lr * self.grads['d_V']
        self.bs -= lr * self.grads['d_bs']
        self.by -= lr * self.grads['d_by']

    def get_weights(self):
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights):
        if 'W' not in weights or 'R' not in weights or 'V' not in weights:
            raise ValueError("W, R and V are required")
        self.W, self.R, self.V = weights['W'], weights['R'], weights['V']
        if 'bs' in weights:
            self.bs = weights['bs']
        if 'by' in weights:
            self.by = weights['by']


def get_numerical_gradient(model, x, eps=1e-7):
    out = {}
    for name in ('W', 'R', 'V', 'bs', 'by'):
        w = getattr(model, name)
        g = np.zeros(w.shape)
        flat_w, flat_g = w.reshape(-1), g.reshape(-1)  # views: writing flat_w writes w
        for k in range(flat_w.size):
            orig = flat_w[k]
            flat_w[k] = orig + eps
            fp = model.forward(x).sum()
            flat_w[k] = orig - eps
            fm = model.forward(x).sum()
            flat_w[k] = orig
            flat_g[k] = (fp - fm) / (2.0 * eps)
        out['d_' + name] = g
    return out
