"""The maths lives in module-level functions (rnn_step, rnn_forward, rnn_backward, two_sided); the
class only keeps the weights and the cache and calls them."""
import numpy as np

NAMES = ['W', 'R', 'V', 'bs', 'by']


def rnn_step(x_t, a_prev, W, R, bs):
    return np.tanh(W.T @ x_t + R.T @ a_prev + bs)


def rnn_forward(params, x):
    a = [np.zeros(params['R'].shape[0])]
    for x_t in x:
        a.append(rnn_step(x_t, a[-1], params['W'], params['R'], params['bs']))
    return params['V'].T @ a[-1] + params['by'], a


def rnn_backward(params, x, a, d_loss):
    g = {'d_' + n: np.zeros_like(params[n], dtype=float) for n in NAMES}
    g['d_V'] = np.outer(a[-1], d_loss)
    g['d_by'] = np.array(d_loss, dtype=float)
    d_a = params['V'] @ d_loss
    for t in range(len(x), 0, -1):
        d_s = d_a * (1 - a[t] ** 2)
        g['d_W'] += np.outer(x[t - 1], d_s)
        g['d_R'] += np.outer(a[t - 1], d_s)
        g['d_bs'] += d_s
        d_a = params['R'] @ d_s
    return g


def two_sided(f, array, index, eps):
    old = array[index]
    array[index] = old + eps
    plus = f()
    array[index] = old - eps
    minus = f()
    array[index] = old
    return (plus - minus) / (2 * eps)


class RNN(object):
    def __init__(self, input_size, hidden_size, output_size):
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)
        self.cache, self.grads = None, {}

    def forward(self, x):
        y, a = rnn_forward(self.get_weights(), x)
        self.cache = (x, a)
        return y

    def backward(self, d_loss):
        self.grads = rnn_backward(self.get_weights(), *self.cache, d_loss)
        return self.grads

    def update(self, lr):
        for n in NAMES:
            setattr(self, n, getattr(self, n) - lr * self.grads['d_' + n])

    def get_weights(self):
        return {n: getattr(self, n) for n in NAMES}

    def set_weights(self, weights):
        if not all(n in weights for n in NAMES[:3]):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        for n in NAMES:
            if n in weights:
                setattr(self, n, weights[n])


def get_numerical_gradient(model, x, eps=1e-7):
    loss = lambda: np.sum(model.forward(x))
    return {'d_' + n: np.array([two_sided(loss, w, i, eps) for i in np.ndindex(w.shape)]).reshape(w.shape)
            for n, w in model.get_weights().items()}
