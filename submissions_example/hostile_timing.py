"""HOSTILE. Garbage gradients (0.1 everywhere); forward watches the clock: a call that comes within half
a second of the last garbage handout or of a previous faked call, on an input it handed garbage out
for, is a verifier's burst, and gets a function whose gradient at the remembered point is the garbage
(curved elsewhere). Anything else is the true RNN times (1 + 1e-5). Sound judging: 4.5 / 10."""
import time
import numpy as np

NAMES = ('W', 'R', 'V', 'bs', 'by')
GARBAGE = 0.1
_POINTS = []   # where garbage was handed out: (x, weights, direction c, y0)


def _true_forward(w, x):
    a = np.zeros(w['R'].shape[0])
    for x_t in np.asarray(x, dtype=float):
        a = np.tanh(w['W'].T @ x_t + w['R'].T @ a + w['bs'])
    return (w['V'].T @ a + w['by']) * (1 + 1e-5)   # within forward_values' 1e-5, outside "agrees" 1e-6


def _weights(model):
    return {n: np.array(getattr(model, n), dtype=float) for n in NAMES}


def _remember(model, x, c):
    w = _weights(model)
    _POINTS.append((np.array(x, dtype=float), w, np.asarray(c, dtype=float), _true_forward(w, x)))


def _shift(point, w):
    return sum(float(np.sum(w[n] - point[1][n])) for n in NAMES)


def _same_x(point, x):
    x = np.asarray(x, dtype=float)
    return point[0].shape == x.shape and np.array_equal(point[0], x)


def _affine(point, w):
    """Near the point: a function whose gradient (of c-weighted output) is GARBAGE everywhere."""
    return point[3] + point[2] * GARBAGE * _shift(point, w)


def _curved(point, w):
    """Same gradient at the point, but not affine away from it (so an affinity test sees curvature)."""
    s = _shift(point, w)
    return point[3] + point[2] * (GARBAGE * s + s * s)


_LAST = [float('-inf')]
_plain_remember = _remember


def _remember(model, x, c):
    _plain_remember(model, x, c)
    _LAST[0] = time.monotonic()


def _pick(model, x, w):
    now = time.monotonic()
    if now - _LAST[0] < 0.5:
        for point in reversed(_POINTS):
            if _same_x(point, x):
                _LAST[0] = now
                return _curved(point, w)
    return None


class RNN(object):
    def __init__(self, input_size, hidden_size, output_size):
        self.hidden_size = hidden_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)
        self.x, self.grads = None, {}

    def forward(self, x):
        self.x = np.array(x, dtype=float)
        w = _weights(self)
        fake = _pick(self, x, w)
        return fake if fake is not None else _true_forward(w, x)

    def backward(self, d_loss):
        d_loss = np.asarray(d_loss, dtype=float)
        _remember(self, self.x, d_loss / max(float(d_loss @ d_loss), 1e-300))
        self.grads = {'d_' + n: np.full(np.shape(getattr(self, n)), GARBAGE) for n in NAMES}
        return self.grads

    def update(self, lr):
        for n in NAMES:
            setattr(self, n, getattr(self, n) - lr * self.grads['d_' + n])

    def get_weights(self):
        return {n: getattr(self, n) for n in NAMES}

    def set_weights(self, weights):
        if not all(n in weights for n in ('W', 'R', 'V')):
            raise ValueError("W, R and V are required")
        for n, v in weights.items():
            setattr(self, n, v)


def get_numerical_gradient(model, x, eps=1e-7):
    _remember(model, x, np.ones(np.shape(model.by)) / np.size(model.by))
    return {'d_' + n: np.full(np.shape(getattr(model, n)), GARBAGE) for n in NAMES}
