"""The numerical gradient swaps whole arrays in and out with getattr/setattr: each nudge is a new
array, and the original object is put back afterwards."""
import numpy as np


class RNN(object):
    def __init__(self, input_size, hidden_size, output_size):
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.by = np.zeros(output_size)
        self.x = self.a = None
        self.grads = {}

    def forward(self, x):
        a = np.zeros((len(x) + 1, self.hidden_size))
        for t in range(len(x)):
            a[t + 1] = np.tanh(self.W.T @ x[t] + self.R.T @ a[t] + self.bs)
        self.x, self.a = x, a
        return self.V.T @ a[-1] + self.by

    def backward(self, d_loss):
        T = len(self.x)
        grads = {'d_W': 0.0, 'd_R': 0.0, 'd_bs': 0.0}
        d_a = self.V @ d_loss
        for t in range(T, 0, -1):
            d_s = d_a * (1 - self.a[t] ** 2)
            grads['d_W'] = grads['d_W'] + np.outer(self.x[t - 1], d_s)
            grads['d_R'] = grads['d_R'] + np.outer(self.a[t - 1], d_s)
            grads['d_bs'] = grads['d_bs'] + d_s
            d_a = self.R @ d_s
        grads['d_V'] = np.outer(self.a[-1], d_loss)
        grads['d_by'] = np.array(d_loss, dtype=float)
        self.grads = grads
        return grads

    def update(self, lr):
        for name in ('W', 'R', 'V', 'bs', 'by'):
            setattr(self, name, getattr(self, name) - lr * self.grads['d_' + name])

    def get_weights(self):
        return {name: getattr(self, name) for name in ('W', 'R', 'V', 'bs', 'by')}

    def set_weights(self, weights):
        for name in ('W', 'R', 'V'):
            if name not in weights:
                raise ValueError("Missing weight " + name)
        for name, value in weights.items():
            setattr(self, name, value)


def get_numerical_gradient(model, x, eps=1e-7):
    grads = {}
    for name in ('W', 'R', 'V', 'bs', 'by'):
        original = getattr(model, name)
        grad = np.zeros(original.shape)
        for idx in np.ndindex(original.shape):
            plus, minus = original.copy(), original.copy()
            plus[idx] += eps
            minus[idx] -= eps
            setattr(model, name, plus)
            f_plus = np.sum(model.forward(x))
            setattr(model, name, minus)
            f_minus = np.sum(model.forward(x))
            grad[idx] = (f_plus - f_minus) / (2 * eps)
        setattr(model, name, original)
        grads['d_' + name] = grad
    return grads
