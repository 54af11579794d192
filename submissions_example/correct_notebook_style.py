#!/usr/bin/env python
# coding: utf-8

# # Assignment 1: Numpy RNN
#
# Exported from the notebook by hand; the demo cells are under `if __name__ == "__main__":`.

# In[1]:


from typing import Dict, Tuple

import numpy as np

print("numpy", np.__version__)


# ## Exercise 1: Implement Recurrent Neural Network

# In[2]:


class RNN(object):
    """Numpy implementation of sequence-to-one recurrent neural network for regression tasks."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super(RNN, self).__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.by = np.zeros(output_size)
        self.a = None
        self.y_hat = None
        self.grads = {}
        self.x = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        self.a = np.zeros((x.shape[0] + 1, self.hidden_size))
        for t in range(x.shape[0]):
            self.a[t + 1, :] = np.tanh(self.W.T @ x[t, :] + self.R.T @ self.a[t, :] + self.bs)
        self.y_hat = self.V.T @ self.a[-1, :] + self.by
        return self.y_hat

    def backward(self, d_loss: np.ndarray) -> Dict:
        self.grads = {'d_W': np.zeros_like(self.W), 'd_R': np.zeros_like(self.R), 'd_bs': np.zeros_like(self.bs),
                      'd_V': np.outer(self.a[-1, :], d_loss), 'd_by': np.array(d_loss, dtype=float)}
        delta = (self.V @ d_loss) * (1 - self.a[-1, :] ** 2)
        for t in range(self.x.shape[0], 0, -1):
            self.grads['d_W'] += np.outer(self.x[t - 1, :], delta)
            self.grads['d_R'] += np.outer(self.a[t - 1, :], delta)
            self.grads['d_bs'] += delta
            delta = (self.R @ delta) * (1 - self.a[t - 1, :] ** 2)
        return self.grads

    def update(self, lr: float):
        if not self.grads:
            raise RuntimeError("You have to call the .backward() function first")
        self.W = self.W - lr * self.grads['d_W']
        self.R = self.R - lr * self.grads['d_R']
        self.bs = self.bs - lr * self.grads['d_bs']
        self.V = self.V - lr * self.grads['d_V']
        self.by = self.by - lr * self.grads['d_by']

    def get_weights(self) -> Dict:
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights: Dict):
        if not all(name in weights.keys() for name in ['W', 'R', 'V']):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        self.W = weights["W"]
        self.R = weights["R"]
        self.V = weights["V"]
        self.bs = weights["bs"]
        self.by = weights["by"]


# ## Exercise 2: Numerical gradient check

# In[3]:


def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:
    numerical_grads = {}
    for name, w in model.get_weights().items():
        grad = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + eps
            plus = np.sum(model.forward(x))
            w[i] = old - eps
            minus = np.sum(model.forward(x))
            w[i] = old
            grad[i] = (plus - minus) / (2 * eps)
        numerical_grads['d_' + name] = grad
    return numerical_grads


def get_analytical_gradient(model: RNN, x: np.ndarray) -> Dict:
    model.forward(x)
    return model.backward(np.ones(model.output_size))


def gradient_check(model: RNN, x: np.ndarray, treshold: float = 1e-7):
    numerical_grads = get_numerical_gradient(model, x)
    analytical_grads = get_analytical_gradient(model, x)
    for key, num_grad in numerical_grads.items():
        difference = np.linalg.norm(num_grad - analytical_grads[key])
        status = "passed" if difference < treshold else "failed"
        print(f"Gradient check for {key} {status} (difference {difference:.3e})")


# In[4]:


if __name__ == "__main__":
    print("Gradient check with a single output neuron:")
    model = RNN(input_size=5, hidden_size=10, output_size=1)
    x = np.random.rand(5, 5)
    gradient_check(model, x)

    print("\nGradient check with multiple output neurons:")
    model = RNN(input_size=5, hidden_size=10, output_size=5)
    x = np.random.rand(5, 5)
    gradient_check(model, x)

    import time
    start = time.perf_counter()
    for _ in range(100):
        get_analytical_gradient(model, x)
    analytical = (time.perf_counter() - start) / 100
    start = time.perf_counter()
    get_numerical_gradient(model, x)
    numerical = time.perf_counter() - start
    print(f"The analytical gradient computation was {numerical / analytical:.0f} times faster")
