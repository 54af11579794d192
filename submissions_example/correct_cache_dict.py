"""forward keeps what backward needs in a dict of lists (self.cache['a'], self.cache['s'], ...)."""
import numpy as np


class RNN(object):
    def __init__(self, input_size, hidden_size, output_size):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.by = np.zeros(output_size)
        self.cache = {'x': [], 's': [], 'a': []}
        self.grads = {}

    def forward(self, x):
        self.cache = {'x': [], 's': [], 'a': [np.zeros(self.hidden_size)]}
        for t in range(x.shape[0]):
            s = np.dot(self.W.T, x[t]) + np.dot(self.R.T, self.cache['a'][-1]) + self.bs
            self.cache['x'].append(x[t])
            self.cache['s'].append(s)
            self.cache['a'].append(np.tanh(s))
        return np.dot(self.V.T, self.cache['a'][-1]) + self.by

    def backward(self, d_loss):
        xs, ss, As = self.cache['x'], self.cache['s'], self.cache['a']
        d = {'d_W': np.zeros(self.W.shape), 'd_R': np.zeros(self.R.shape), 'd_bs': np.zeros(self.bs.shape),
             'd_V': np.outer(As[-1], d_loss), 'd_by': np.array(d_loss, dtype=float)}
        da = np.dot(self.V, d_loss)
        for t in reversed(range(len(xs))):
            ds = da / np.cosh(ss[t]) ** 2  # tanh'(s) = 1 / cosh(s)^2
            d['d_W'] += np.outer(xs[t], ds)
            d['d_R'] += np.outer(As[t], ds)
            d['d_bs'] += ds
            da = np.dot(self.R, ds)
        self.grads = d
        return d

    def update(self, lr):
        self.W -= lr * self.grads['d_W']
        self.R -= lr * self.grads['d_R']
        self.V -= lr * self.grads['d_V']
        self.bs -= lr * self.grads['d_bs']
        self.by -= lr * self.grads['d_by']

    def get_weights(self):
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights):
        if not all(name in weights for name in ['W', 'R', 'V']):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        self.W = weights['W']
        self.R = weights['R']
        self.V = weights['V']
        self.bs = weights['bs']
        self.by = weights['by']


def get_numerical_gradient(model, x, eps=1e-7):
    grads = {}
    for name, w in model.get_weights().items():
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            w_i = w[i]
            w[i] = w_i + eps
            plus = np.sum(model.forward(x))
            w[i] = w_i - eps
            minus = np.sum(model.forward(x))
            w[i] = w_i
            g[i] = (plus - minus) / (2 * eps)
        grads['d_' + name] = g
    return grads
