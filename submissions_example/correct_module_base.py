"""A small torch-like Module base: arrays assigned as attributes land in self._parameters, and
attribute reads fall back to it. The RNN is written on top of it."""
import numpy as np


class Module:
    def __init__(self):
        object.__setattr__(self, '_parameters', {})

    def __setattr__(self, name, value):
        if isinstance(value, np.ndarray) and not name.startswith('_'):
            self._parameters[name] = value
            self.__dict__.pop(name, None)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):  # only called when normal lookup fails
        params = self.__dict__.get('_parameters', {})
        if name in params:
            return params[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def named_parameters(self):
        return list(self._parameters.items())


class RNN(Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.bs = np.zeros(hidden_size)
        self.by = np.zeros(output_size)
        self._cache = None
        self._grads = {}

    def forward(self, x):
        states = [np.zeros(self.hidden_size)]
        for x_t in x:
            states.append(np.tanh(x_t @ self.W + states[-1] @ self.R + self.bs))
        self._cache = (np.asarray(x, dtype=float), states)
        return states[-1] @ self.V + self.by

    def backward(self, d_loss):
        x, states = self._cache
        d_loss = np.asarray(d_loss, dtype=float)
        g = {'d_W': np.zeros(self.W.shape), 'd_R': np.zeros(self.R.shape), 'd_bs': np.zeros(self.bs.shape),
             'd_V': np.outer(states[-1], d_loss), 'd_by': d_loss.copy()}
        d_h = self.V @ d_loss
        for t in range(len(x), 0, -1):
            d_s = d_h * (1.0 - states[t] ** 2)
            g['d_W'] += np.outer(x[t - 1], d_s)
            g['d_R'] += np.outer(states[t - 1], d_s)
            g['d_bs'] += d_s
            d_h = self.R @ d_s
        self._grads = g
        return g

    def update(self, lr):
        for name, value in self.named_parameters():
            setattr(self, name, value - lr * self._grads['d_' + name])

    def get_weights(self):
        return dict(self._parameters)

    def set_weights(self, weights):
        for name in ('W', 'R', 'V'):
            if name not in weights:
                raise ValueError(f"set_weights: '{name}' is missing")
        for name, value in weights.items():
            setattr(self, name, np.asarray(value, dtype=float))


def get_numerical_gradient(model, x, eps=1e-7):
    grads = {}
    for name, p in model.named_parameters():
        g = np.zeros_like(p)
        for i in np.ndindex(*p.shape):
            saved = p[i]
            p[i] = saved + eps
            up = np.sum(model.forward(x))
            p[i] = saved - eps
            down = np.sum(model.forward(x))
            p[i] = saved
            g[i] = (up - down) / (2 * eps)
        grads['d_' + name] = g
    return grads
