"""set_weights reads optional biases with dict.get and stores np.copy of everything it is given."""
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
        self.x, self.a, self.grads = None, None, {}

    def forward(self, x):
        self.x = x
        self.a = [np.zeros(self.hidden_size)]
        for t in range(x.shape[0]):
            self.a.append(np.tanh(self.W.T @ x[t] + self.R.T @ self.a[t] + self.bs))
        return self.V.T @ self.a[-1] + self.by

    def backward(self, d_loss):
        d_W, d_R, d_bs = np.zeros_like(self.W), np.zeros_like(self.R), np.zeros_like(self.bs)
        e = self.V @ d_loss
        for t in range(self.x.shape[0], 0, -1):
            e = e * (1 - self.a[t] ** 2)
            d_W += np.outer(self.x[t - 1], e)
            d_R += np.outer(self.a[t - 1], e)
            d_bs += e
            e = self.R @ e
        self.grads = {'d_W': d_W, 'd_R': d_R, 'd_bs': d_bs,
                      'd_V': np.outer(self.a[-1], d_loss), 'd_by': np.copy(d_loss)}
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
        if weights.get('W') is None or weights.get('R') is None or weights.get('V') is None:
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        self.W = np.copy(weights['W'])
        self.R = np.copy(weights['R'])
        self.V = np.copy(weights['V'])
        self.bs = np.copy(weights.get('bs', np.zeros(self.hidden_size)))
        self.by = np.copy(weights.get('by', np.zeros(self.output_size)))


def get_numerical_gradient(model, x, eps=1e-7):
    numerical_grads = {}
    for name, param in model.get_weights().items():
        grad = np.zeros_like(param)
        for i in range(param.size):
            idx = np.unravel_index(i, param.shape)
            old = param[idx]
            param[idx] = old + eps
            plus = np.sum(model.forward(x))
            param[idx] = old - eps
            minus = np.sum(model.forward(x))
            param[idx] = old
            grad[idx] = (plus - minus) / (2 * eps)
        numerical_grads['d_' + name] = grad
    return numerical_grads
