"""A notebook export where the RNN cell was run twice: the first class (an early attempt with a
truncated backward) is shadowed by the second, corrected one. Python keeps the second."""
import numpy as np


class RNN(object):
    def __init__(self, input_size, hidden_size, output_size):
        self.hidden_size = hidden_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)

    def forward(self, x):
        self.x = x
        self.a = [np.zeros(self.hidden_size)]
        for x_t in x:
            self.a.append(np.tanh(self.W.T @ x_t + self.R.T @ self.a[-1] + self.bs))
        return self.V.T @ self.a[-1] + self.by

    def backward(self, d_loss):
        # TODO: only the last step so far
        ds = (self.V @ d_loss) * (1 - self.a[-1] ** 2)
        self.grads = {'d_W': np.outer(self.x[-1], ds), 'd_R': np.outer(self.a[-2], ds), 'd_bs': ds,
                      'd_V': np.outer(self.a[-1], d_loss), 'd_by': d_loss}
        return self.grads


class RNN(object):
    """Numpy implementation of sequence-to-one recurrent neural network for regression tasks."""

    def __init__(self, input_size, hidden_size, output_size):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.by = np.zeros(output_size)
        self.x, self.a, self.grads = None, None, {}

    def forward(self, x):
        self.x = x
        self.a = [np.zeros(self.hidden_size)]
        for x_t in x:
            self.a.append(np.tanh(self.W.T @ x_t + self.R.T @ self.a[-1] + self.bs))
        return self.V.T @ self.a[-1] + self.by

    def backward(self, d_loss):
        d_a = self.V @ d_loss
        grads = {'d_W': np.zeros_like(self.W), 'd_R': np.zeros_like(self.R), 'd_bs': np.zeros_like(self.bs),
                 'd_V': np.outer(self.a[-1], d_loss), 'd_by': np.array(d_loss, dtype=float)}
        for t in range(len(self.x), 0, -1):
            ds = d_a * (1 - self.a[t] ** 2)
            grads['d_W'] += np.outer(self.x[t - 1], ds)
            grads['d_R'] += np.outer(self.a[t - 1], ds)
            grads['d_bs'] += ds
            d_a = self.R @ ds
        self.grads = grads
        return grads

    def update(self, lr):
        for k in ['W', 'R', 'V', 'bs', 'by']:
            setattr(self, k, getattr(self, k) - lr * self.grads['d_' + k])

    def get_weights(self):
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights):
        if not all(name in weights for name in ['W', 'R', 'V']):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        self.W, self.R, self.V = weights['W'], weights['R'], weights['V']
        self.bs, self.by = weights['bs'], weights['by']


def get_numerical_gradient(model, x, eps=1e-7):
    grads = {}
    for k, w in model.get_weights().items():
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + eps
            p = np.sum(model.forward(x))
            w[i] = old - eps
            m = np.sum(model.forward(x))
            w[i] = old
            g[i] = (p - m) / (2 * eps)
        grads['d_' + k] = g
    return grads
