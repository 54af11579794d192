# SCAFFOLD: an example submission of `grade new-pack`'s toy assignment. Replace it with examples of your
# own: correct ones in several styles, and one mutant per bug you expect (see expectations.json).
"""Bug: forward applies no tanh, and backward is the exact gradient of that forward: the declared variant
`no_activation`."""

import numpy as np



class Layer:
    def __init__(self, input_size, output_size):
        self.W = np.random.uniform(-0.5, 0.5, size=(input_size, output_size))
        self.b = np.zeros(output_size)

    def forward(self, x):
        self.x = np.array(x, dtype=float)
        self.y = self.x @ self.W + self.b  # the bug: no tanh
        return self.y

    def backward(self, d_loss):
        d_s = np.asarray(d_loss, dtype=float)
        d_W = np.zeros_like(self.W)
        for i in range(self.W.shape[0]):
            for j in range(self.W.shape[1]):
                d_W[i, j] = self.x[i] * d_s[j]
        self.grads = {"d_W": d_W, "d_b": d_s}
        return self.grads

    def update(self, lr):
        self.W -= lr * self.grads["d_W"]
        self.b -= lr * self.grads["d_b"]

    def get_weights(self):
        return {"W": self.W, "b": self.b}

    def set_weights(self, weights):
        for name in ("W", "b"):
            if name not in weights:
                raise ValueError(f"missing weight {name}")
        self.W = weights["W"]
        self.b = weights["b"]


def get_numerical_gradient(model, x, eps):
    grads = {}
    for name, value in model.get_weights().items():
        grad = np.zeros(value.shape)
        flat, out = value.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = np.sum(model.forward(x))
            flat[i] = old - eps
            down = np.sum(model.forward(x))
            flat[i] = old
            out[i] = (up - down) / (2 * eps)
        grads["d_" + name] = grad
    return grads
