"""Numerical gradient walking every weight with np.nditer (readwrite, multi_index)."""
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
        self.x = self.a = None
        self.grads = {}

    def forward(self, x):
        self.x = x
        self.a = np.zeros((x.shape[0] + 1, self.hidden_size))
        for t in range(x.shape[0]):
            self.a[t + 1] = np.tanh(self.W.T.dot(x[t]) + self.R.T.dot(self.a[t]) + self.bs)
        return self.V.T.dot(self.a[-1]) + self.by

    def backward(self, d_loss):
        grads = {'d_W': np.zeros_like(self.W), 'd_R': np.zeros_like(self.R), 'd_bs': np.zeros_like(self.bs)}
        grads['d_V'] = np.outer(self.a[-1], d_loss)
        grads['d_by'] = np.array(d_loss, dtype=float)
        delta = self.V.dot(d_loss) * (1 - self.a[-1] ** 2)
        for t in range(self.x.shape[0], 0, -1):
            grads['d_W'] += np.outer(self.x[t - 1], delta)
            grads['d_R'] += np.outer(self.a[t - 1], delta)
            grads['d_bs'] += delta
            delta = self.R.dot(delta) * (1 - self.a[t - 1] ** 2)
        self.grads = grads
        return grads

    def update(self, lr):
        for name in ['W', 'R', 'V', 'bs', 'by']:
            param = getattr(self, name)
            param -= lr * self.grads['d_' + name]

    def get_weights(self):
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights):
        if not all(name in weights.keys() for name in ['W', 'R', 'V']):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        self.W, self.R, self.V = weights['W'], weights['R'], weights['V']
        self.bs, self.by = weights['bs'], weights['by']


def get_numerical_gradient(model, x, eps=1e-7):
    numerical_grads = {}
    for name, w in model.get_weights().items():
        grad = np.zeros_like(w)
        with np.nditer(w, flags=['multi_index'], op_flags=['readwrite']) as it:
            while not it.finished:
                i = it.multi_index
                old = w[i]
                w[i] = old + eps
                f_plus = np.sum(model.forward(x))
                w[i] = old - eps
                f_minus = np.sum(model.forward(x))
                w[i] = old
                grad[i] = (f_plus - f_minus) / (2 * eps)
                it.iternext()
        numerical_grads['d_' + name] = grad
    return numerical_grads
