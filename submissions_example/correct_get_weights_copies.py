"""get_weights hands out copies (so a caller cannot change the model through them); the numerical
gradient therefore nudges the model's own attributes, not what get_weights returns."""
import numpy as np


class RNN(object):
    def __init__(self, input_size, hidden_size, output_size):
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.W = np.random.uniform(-0.2, 0.2, size=(input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, size=(hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, size=(hidden_size, output_size))
        self.by = np.zeros(output_size)
        self.x = self.a = None
        self.grads = {}

    def forward(self, x):
        a = np.zeros((len(x) + 1, self.hidden_size))
        for t in range(len(x)):
            a[t + 1] = np.tanh(x[t] @ self.W + a[t] @ self.R + self.bs)
        self.x, self.a = np.array(x, dtype=float), a
        return a[-1] @ self.V + self.by

    def backward(self, d_loss):
        dW, dR, dbs = np.zeros_like(self.W), np.zeros_like(self.R), np.zeros_like(self.bs)
        dh = self.V @ d_loss
        for t in range(len(self.x), 0, -1):
            dz = dh * (1 - self.a[t] ** 2)
            dW += np.outer(self.x[t - 1], dz)
            dR += np.outer(self.a[t - 1], dz)
            dbs += dz
            dh = self.R @ dz
        self.grads = dict(d_W=dW, d_R=dR, d_V=np.outer(self.a[-1], d_loss), d_bs=dbs, d_by=np.array(d_loss, float))
        return self.grads

    def update(self, lr):
        self.W = self.W - lr * self.grads['d_W']
        self.R = self.R - lr * self.grads['d_R']
        self.V = self.V - lr * self.grads['d_V']
        self.bs = self.bs - lr * self.grads['d_bs']
        self.by = self.by - lr * self.grads['d_by']

    def get_weights(self):
        return {'W': self.W.copy(), 'R': self.R.copy(), 'V': self.V.copy(),
                'bs': self.bs.copy(), 'by': self.by.copy()}

    def set_weights(self, weights):
        for k in ('W', 'R', 'V'):
            if k not in weights:
                raise ValueError(f"weight '{k}' missing")
        for k, v in weights.items():
            setattr(self, k, np.array(v, dtype=float))


def get_numerical_gradient(model, x, eps=1e-7):
    grads = {}
    for name in model.get_weights():  # the names only: the values are copies
        w = getattr(model, name)
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            original = w[i]
            w[i] = original + eps
            plus = np.sum(model.forward(x))
            w[i] = original - eps
            minus = np.sum(model.forward(x))
            w[i] = original
            g[i] = (plus - minus) / (2 * eps)
        grads['d_' + name] = g
    return grads
