"""RNN in single precision: weights are float32 and forward/backward compute in float32 (half the
memory), whatever dtype the weights or the input arrive in."""
import numpy as np

DTYPE = np.float32


def _f32(a):
    return np.asarray(a, dtype=DTYPE)


class RNN(object):
    def __init__(self, input_size, hidden_size, output_size):
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size)).astype(DTYPE)
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size)).astype(DTYPE)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size)).astype(DTYPE)
        self.bs = np.zeros(hidden_size, dtype=DTYPE)
        self.by = np.zeros(output_size, dtype=DTYPE)
        self.x = self.a = None
        self.grads = {}

    def forward(self, x):
        x = _f32(x)
        W, R, V, bs, by = _f32(self.W), _f32(self.R), _f32(self.V), _f32(self.bs), _f32(self.by)
        a = np.zeros((len(x) + 1, self.hidden_size), dtype=DTYPE)
        for t in range(len(x)):
            a[t + 1] = np.tanh(x[t] @ W + a[t] @ R + bs)
        self.x, self.a = x, a
        return a[-1] @ V + by

    def backward(self, d_loss):
        d_loss = _f32(d_loss)
        R, V = _f32(self.R), _f32(self.V)
        x, a = self.x, self.a
        dW = np.zeros(self.W.shape, dtype=DTYPE)
        dR = np.zeros(self.R.shape, dtype=DTYPE)
        dbs = np.zeros(self.bs.shape, dtype=DTYPE)
        da = V @ d_loss
        for t in range(len(x), 0, -1):
            ds = da * (DTYPE(1) - a[t] ** 2)
            dW += np.outer(x[t - 1], ds)
            dR += np.outer(a[t - 1], ds)
            dbs += ds
            da = R @ ds
        self.grads = {'d_W': dW, 'd_R': dR, 'd_bs': dbs, 'd_V': np.outer(a[-1], d_loss), 'd_by': d_loss.copy()}
        return self.grads

    def update(self, lr):
        for name in ('W', 'R', 'V', 'bs', 'by'):
            setattr(self, name, (_f32(getattr(self, name)) - DTYPE(lr) * self.grads['d_' + name]).astype(DTYPE))

    def get_weights(self):
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights):
        if any(k not in weights for k in ('W', 'R', 'V')):
            raise ValueError("W, R and V must all be given")
        for k, v in weights.items():
            setattr(self, k, _f32(v))


def get_numerical_gradient(model, x, eps=1e-7):
    grads = {}
    for name in ('W', 'R', 'V', 'bs', 'by'):
        p = getattr(model, name)
        g = np.zeros(p.shape)  # the differences themselves are kept in float64
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            plus = np.sum(model.forward(x), dtype=np.float64)
            p[i] = old - eps
            minus = np.sum(model.forward(x), dtype=np.float64)
            p[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads['d_' + name] = g
    return grads
