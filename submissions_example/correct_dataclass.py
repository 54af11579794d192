"""RNN as a dataclass: the sizes are fields, the weights are made in __post_init__."""
from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np


@dataclass
class RNN:
    input_size: int
    hidden_size: int
    output_size: int
    W: np.ndarray = field(init=False, repr=False)
    R: np.ndarray = field(init=False, repr=False)
    V: np.ndarray = field(init=False, repr=False)
    bs: np.ndarray = field(init=False, repr=False)
    by: np.ndarray = field(init=False, repr=False)
    x: Optional[np.ndarray] = field(default=None, init=False, repr=False)
    a: Optional[np.ndarray] = field(default=None, init=False, repr=False)
    grads: Dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self.W = np.random.uniform(-0.2, 0.2, (self.input_size, self.hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (self.hidden_size, self.hidden_size))
        self.V = np.random.uniform(-0.2, 0.2, (self.hidden_size, self.output_size))
        self.bs = np.zeros(self.hidden_size)
        self.by = np.zeros(self.output_size)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = np.asarray(x, dtype=float)
        a = np.zeros((self.x.shape[0] + 1, self.hidden_size))
        for t in range(self.x.shape[0]):
            a[t + 1] = np.tanh(self.W.T @ self.x[t] + self.R.T @ a[t] + self.bs)
        self.a = a
        return self.V.T @ a[-1] + self.by

    def backward(self, d_loss: np.ndarray) -> Dict[str, np.ndarray]:
        d_loss = np.asarray(d_loss, dtype=float)
        T = self.x.shape[0]
        d_s = np.zeros((T + 1, self.hidden_size))
        d_a = self.V @ d_loss
        for t in range(T, 0, -1):
            d_s[t] = d_a * (1 - self.a[t] ** 2)
            d_a = self.R @ d_s[t]
        self.grads = {'d_W': self.x.T @ d_s[1:], 'd_R': self.a[:-1].T @ d_s[1:], 'd_bs': d_s[1:].sum(0),
                      'd_V': np.outer(self.a[-1], d_loss), 'd_by': d_loss}
        return self.grads

    def update(self, lr: float) -> None:
        self.W = self.W - lr * self.grads['d_W']
        self.R = self.R - lr * self.grads['d_R']
        self.V = self.V - lr * self.grads['d_V']
        self.bs = self.bs - lr * self.grads['d_bs']
        self.by = self.by - lr * self.grads['d_by']

    def get_weights(self) -> Dict[str, np.ndarray]:
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights: Dict[str, np.ndarray]) -> None:
        if not all(k in weights for k in ('W', 'R', 'V')):
            raise ValueError("W, R and V are required")
        for k in ('W', 'R', 'V', 'bs', 'by'):
            if k in weights:
                setattr(self, k, weights[k])


def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict[str, np.ndarray]:
    grads = {}
    for k, w in model.get_weights().items():
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            keep = w[i]
            w[i] = keep + eps
            up = model.forward(x).sum()
            w[i] = keep - eps
            down = model.forward(x).sum()
            w[i] = keep
            g[i] = (up - down) / (2 * eps)
        grads['d_' + k] = g
    return grads
