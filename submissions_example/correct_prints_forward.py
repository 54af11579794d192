"""A student who debugs with print: forward and backward report what they compute, every call."""
import numpy as np

DEBUG = True


class RNN(object):
    def __init__(self, input_size, hidden_size, output_size):
        print(f"RNN(input_size={input_size}, hidden_size={hidden_size}, output_size={output_size})")
        self.hidden_size = hidden_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)
        self.x = self.a = None
        self.grads = {}
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        a = np.zeros((len(x) + 1, self.hidden_size))
        for t in range(len(x)):
            a[t + 1] = np.tanh(self.W.T @ x[t] + self.R.T @ a[t] + self.bs)
        self.x, self.a = x, a
        y = self.V.T @ a[-1] + self.by
        if DEBUG:
            print(f"forward #{self.calls}: T={len(x)} y={np.round(y, 3)}")
        return y

    def backward(self, d_loss):
        d = {'d_W': np.zeros_like(self.W), 'd_R': np.zeros_like(self.R), 'd_bs': np.zeros_like(self.bs)}
        da = self.V @ d_loss
        for t in range(len(self.x), 0, -1):
            ds = da * (1 - self.a[t] ** 2)
            d['d_W'] += np.outer(self.x[t - 1], ds)
            d['d_R'] += np.outer(self.a[t - 1], ds)
            d['d_bs'] += ds
            da = self.R @ ds
        d['d_V'] = np.outer(self.a[-1], d_loss)
        d['d_by'] = np.array(d_loss, dtype=float)
        if DEBUG:
            print("backward:", {k: round(float(np.linalg.norm(v)), 4) for k, v in d.items()})
        self.grads = d
        return d

    def update(self, lr):
        print("update with lr", lr)
        for k in ('W', 'R', 'V', 'bs', 'by'):
            setattr(self, k, getattr(self, k) - lr * self.grads['d_' + k])

    def get_weights(self):
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights):
        if not all(k in weights for k in ('W', 'R', 'V')):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        for k, v in weights.items():
            setattr(self, k, v)


def get_numerical_gradient(model, x, eps=1e-7):
    print("numerical gradient, eps =", eps)
    grads = {}
    for k, w in model.get_weights().items():
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + eps
            plus = np.sum(model.forward(x))
            w[i] = old - eps
            minus = np.sum(model.forward(x))
            w[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads['d_' + k] = g
        print(f"  d_{k}: norm {np.linalg.norm(g):.4f}")
    return grads
