"""Assignment 1 with postponed annotations and full type hints (PEP 563/604 style)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # only for the type checker
    from numpy.typing import NDArray

Grads = dict[str, "NDArray[np.float64]"]


class RNN:
    """Numpy implementation of sequence-to-one recurrent neural network for regression tasks."""

    W: NDArray[np.float64]
    R: NDArray[np.float64]
    V: NDArray[np.float64]
    bs: NDArray[np.float64]
    by: NDArray[np.float64]

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        self.input_size: int = input_size
        self.hidden_size: int = hidden_size
        self.output_size: int = output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.by = np.zeros(output_size)
        self.x: NDArray[np.float64] | None = None
        self.a: NDArray[np.float64] | None = None
        self.grads: Grads = {}

    def forward(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        a = np.zeros((x.shape[0] + 1, self.hidden_size))
        for t in range(x.shape[0]):
            a[t + 1] = np.tanh(self.W.T @ x[t] + self.R.T @ a[t] + self.bs)
        self.x, self.a = x, a
        return self.V.T @ a[-1] + self.by

    def backward(self, d_loss: NDArray[np.float64]) -> Grads:
        assert self.x is not None and self.a is not None, "call forward first"
        x, a = self.x, self.a
        d_W, d_R, d_bs = np.zeros_like(self.W), np.zeros_like(self.R), np.zeros_like(self.bs)
        d_a: NDArray[np.float64] = self.V @ d_loss
        for t in range(x.shape[0], 0, -1):
            d_s = d_a * (1.0 - a[t] ** 2)
            d_W += np.outer(x[t - 1], d_s)
            d_R += np.outer(a[t - 1], d_s)
            d_bs += d_s
            d_a = self.R @ d_s
        self.grads = {"d_W": d_W, "d_R": d_R, "d_V": np.outer(a[-1], d_loss), "d_bs": d_bs,
                      "d_by": np.asarray(d_loss, dtype=np.float64).copy()}
        return self.grads

    def update(self, lr: float) -> None:
        if not self.grads:
            raise RuntimeError("You have to call the .backward() function first")
        self.W = self.W - lr * self.grads["d_W"]
        self.R = self.R - lr * self.grads["d_R"]
        self.V = self.V - lr * self.grads["d_V"]
        self.bs = self.bs - lr * self.grads["d_bs"]
        self.by = self.by - lr * self.grads["d_by"]

    def get_weights(self) -> dict[str, NDArray[np.float64]]:
        return {"W": self.W, "R": self.R, "V": self.V, "bs": self.bs, "by": self.by}

    def set_weights(self, weights: dict[str, NDArray[np.float64]]) -> None:
        if not all(name in weights for name in ("W", "R", "V")):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        for name, value in weights.items():
            setattr(self, name, value)


def get_numerical_gradient(model: RNN, x: NDArray[np.float64], eps: float = 1e-7) -> Grads:
    grads: Grads = {}
    for name, p in model.get_weights().items():
        g: NDArray[np.float64] = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old: float = p[i]
            p[i] = old + eps
            plus = float(np.sum(model.forward(x)))
            p[i] = old - eps
            minus = float(np.sum(model.forward(x)))
            p[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads[f"d_{name}"] = g
    return grads
