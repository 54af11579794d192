"""The class is declared with __init__ only; forward, backward, update and the weight accessors are
written as plain functions below it (one notebook cell each) and attached: RNN.forward = forward."""
import numpy as np


class RNN(object):
    """Numpy implementation of sequence-to-one recurrent neural network for regression tasks."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.by = np.zeros(output_size)
        self.a = None
        self.x = None
        self.grads = {}


def forward(self, x):
    self.x = x
    self.a = np.zeros((len(x) + 1, self.hidden_size))
    for t in range(len(x)):
        self.a[t + 1] = np.tanh(np.dot(x[t], self.W) + np.dot(self.a[t], self.R) + self.bs)
    return np.dot(self.a[-1], self.V) + self.by


RNN.forward = forward


def backward(self, d_loss):
    g = {'d_V': np.outer(self.a[-1], d_loss), 'd_by': np.array(d_loss, dtype=float),
         'd_W': np.zeros_like(self.W), 'd_R': np.zeros_like(self.R), 'd_bs': np.zeros_like(self.bs)}
    delta = np.dot(self.V, d_loss) * (1 - self.a[-1] ** 2)
    for t in range(len(self.x), 0, -1):
        g['d_W'] += np.outer(self.x[t - 1], delta)
        g['d_R'] += np.outer(self.a[t - 1], delta)
        g['d_bs'] += delta
        delta = np.dot(self.R, delta) * (1 - self.a[t - 1] ** 2)
    self.grads = g
    return g


RNN.backward = backward


def update(self, lr):
    if not self.grads:
        raise RuntimeError("You have to call the .backward() function first")
    for name in ['W', 'R', 'V', 'bs', 'by']:
        setattr(self, name, getattr(self, name) - lr * self.grads['d_' + name])


def get_weights(self):
    return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}


def set_weights(self, weights):
    if not all(name in weights.keys() for name in ['W', 'R', 'V']):
        raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
    for name, value in weights.items():
        setattr(self, name, value)


RNN.update = update
RNN.get_weights = get_weights
RNN.set_weights = set_weights


def get_numerical_gradient(model, x, eps=1e-7):
    numerical_grads = {}
    for name, w in model.get_weights().items():
        d = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            w0 = w[i]
            w[i] = w0 + eps
            plus = model.forward(x).sum()
            w[i] = w0 - eps
            minus = model.forward(x).sum()
            w[i] = w0
            d[i] = (plus - minus) / (2 * eps)
        numerical_grads['d_' + name] = d
    return numerical_grads
