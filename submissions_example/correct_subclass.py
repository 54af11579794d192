"""A generic recurrent base class (weights, update, get/set, numerical gradient helpers) and the
sequence-to-one tanh RNN of the assignment as its subclass."""
import numpy as np


class RecurrentBase(object):
    param_names = ()

    def __init__(self):
        self.grads = {}

    def update(self, lr):
        if not self.grads:
            raise RuntimeError("call backward() first")
        for name in self.param_names:
            setattr(self, name, getattr(self, name) - lr * self.grads['d_' + name])

    def get_weights(self):
        return {name: getattr(self, name) for name in self.param_names}

    def set_weights(self, weights):
        missing = [n for n in self.required if n not in weights]
        if missing:
            raise ValueError(f"missing weights {missing}")
        for name in self.param_names:
            if name in weights:
                setattr(self, name, weights[name])


class RNN(RecurrentBase):
    """Numpy implementation of sequence-to-one recurrent neural network for regression tasks."""
    param_names = ('W', 'R', 'V', 'bs', 'by')
    required = ('W', 'R', 'V')

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.by = np.zeros(output_size)
        self.x = self.a = None

    def forward(self, x):
        self.x = np.asarray(x, dtype=float)
        self.a = np.zeros((len(self.x) + 1, self.hidden_size))
        for t, x_t in enumerate(self.x, start=1):
            self.a[t] = np.tanh(x_t @ self.W + self.a[t - 1] @ self.R + self.bs)
        return self.a[-1] @ self.V + self.by

    def backward(self, d_loss):
        d_loss = np.asarray(d_loss, dtype=float)
        grads = {'d_' + n: np.zeros_like(getattr(self, n)) for n in self.param_names}
        grads['d_V'] = np.outer(self.a[-1], d_loss)
        grads['d_by'] = d_loss.copy()
        d_a = self.V @ d_loss
        for t in range(len(self.x), 0, -1):
            d_s = d_a * (1 - self.a[t] ** 2)
            grads['d_W'] += np.outer(self.x[t - 1], d_s)
            grads['d_R'] += np.outer(self.a[t - 1], d_s)
            grads['d_bs'] += d_s
            d_a = self.R @ d_s
        self.grads = grads
        return grads


def get_numerical_gradient(model, x, eps=1e-7):
    grads = {}
    for name in model.param_names:
        w = getattr(model, name)
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + eps
            f_plus = float(np.sum(model.forward(x)))
            w[i] = old - eps
            f_minus = float(np.sum(model.forward(x)))
            w[i] = old
            g[i] = (f_plus - f_minus) / (2 * eps)
        grads['d_' + name] = g
    return grads
