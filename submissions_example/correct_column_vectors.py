"""RNN that thinks in column vectors, as in the lecture notes: inside forward and backward every
vector is (n, 1). The weights and what forward/backward return keep the documented shapes."""
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
        self.xs, self.hs, self.grads = [], [], {}

    def forward(self, x):
        H = self.hidden_size
        bs = self.bs.reshape(H, 1)
        self.xs = [x[t].reshape(-1, 1) for t in range(x.shape[0])]
        self.hs = [np.zeros((H, 1))]
        for x_t in self.xs:
            s = self.W.T @ x_t + self.R.T @ self.hs[-1] + bs
            self.hs.append(np.tanh(s))
        y = self.V.T @ self.hs[-1] + self.by.reshape(-1, 1)   # (O, 1)
        return y.reshape(self.output_size)

    def backward(self, d_loss):
        dy = np.reshape(d_loss, (self.output_size, 1))
        dW, dR = np.zeros_like(self.W), np.zeros_like(self.R)
        dbs = np.zeros((self.hidden_size, 1))
        dV = self.hs[-1] @ dy.T
        dh = self.V @ dy
        for t in reversed(range(len(self.xs))):
            ds = dh * (1 - self.hs[t + 1] ** 2)
            dW += self.xs[t] @ ds.T
            dR += self.hs[t] @ ds.T
            dbs += ds
            dh = self.R @ ds
        self.grads = {'d_W': dW, 'd_R': dR, 'd_V': dV,
                      'd_bs': dbs.reshape(self.hidden_size), 'd_by': dy.reshape(self.output_size)}
        return self.grads

    def update(self, lr):
        self.W = self.W - lr * self.grads['d_W']
        self.R = self.R - lr * self.grads['d_R']
        self.V = self.V - lr * self.grads['d_V']
        self.bs = self.bs - lr * self.grads['d_bs']
        self.by = self.by - lr * self.grads['d_by']

    def get_weights(self):
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights):
        if not all(k in weights for k in ['W', 'R', 'V']):
            raise ValueError("Missing one of 'W', 'R', 'V'")
        self.W, self.R, self.V = weights['W'], weights['R'], weights['V']
        self.bs = weights.get('bs', self.bs)
        self.by = weights.get('by', self.by)


def get_numerical_gradient(model, x, eps=1e-7):
    result = {}
    for name, w in model.get_weights().items():
        grad = np.zeros(w.shape)
        for idx in np.ndindex(w.shape):
            w[idx] += eps
            f1 = np.sum(model.forward(x))
            w[idx] -= 2 * eps
            f2 = np.sum(model.forward(x))
            w[idx] += eps
            grad[idx] = (f1 - f2) / (2 * eps)
        result['d_' + name] = grad
    return result
