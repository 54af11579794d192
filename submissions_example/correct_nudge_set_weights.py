"""The numerical gradient never writes into the model's arrays: it builds a nudged copy of the weights
dict and hands it to set_weights, and finally sets the original weights back."""
import numpy as np


class RNN(object):
    def __init__(self, input_size, hidden_size, output_size):
        self.hidden_size = hidden_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)
        self.x, self.a, self.grads = None, None, {}

    def forward(self, x):
        self.x = np.asarray(x, dtype=float)
        self.a = [np.zeros(self.hidden_size)]
        for x_t in self.x:
            self.a.append(np.tanh(self.W.T @ x_t + self.R.T @ self.a[-1] + self.bs))
        return self.V.T @ self.a[-1] + self.by

    def backward(self, d_loss):
        d_loss = np.asarray(d_loss, dtype=float)
        g = {'d_W': np.zeros_like(self.W), 'd_R': np.zeros_like(self.R), 'd_bs': np.zeros_like(self.bs),
             'd_V': np.outer(self.a[-1], d_loss), 'd_by': d_loss.copy()}
        d_a = self.V @ d_loss
        for t in range(len(self.x), 0, -1):
            d_s = d_a * (1 - self.a[t] ** 2)
            g['d_W'] += np.outer(self.x[t - 1], d_s)
            g['d_R'] += np.outer(self.a[t - 1], d_s)
            g['d_bs'] += d_s
            d_a = self.R @ d_s
        self.grads = g
        return g

    def update(self, lr):
        self.set_weights({k: v - lr * self.grads['d_' + k] for k, v in self.get_weights().items()})

    def get_weights(self):
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights):
        if not all(name in weights for name in ['W', 'R', 'V']):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        self.W, self.R, self.V = weights['W'], weights['R'], weights['V']
        if 'bs' in weights:
            self.bs = weights['bs']
        if 'by' in weights:
            self.by = weights['by']


def get_numerical_gradient(model, x, eps=1e-7):
    original = model.get_weights()
    grads = {}
    for name, w in original.items():
        g = np.zeros(w.shape)
        for i in np.ndindex(w.shape):
            values = []
            for sign in (+1, -1):
                nudged = w.copy()
                nudged[i] += sign * eps
                model.set_weights({**original, name: nudged})
                values.append(np.sum(model.forward(x)))
            g[i] = (values[0] - values[1]) / (2 * eps)
        grads['d_' + name] = g
    model.set_weights(original)
    return grads
