"""Indented with tabs throughout (the editor's default)."""
import numpy as np


class RNN:
	def __init__(self, input_size, hidden_size, output_size):
		self.hidden_size = hidden_size
		self.output_size = output_size
		self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
		self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
		self.bs = np.zeros(hidden_size)
		self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
		self.by = np.zeros(output_size)
		self.x = None
		self.h = None
		self.grads = {}

	def forward(self, x):
		self.x = x
		self.h = [np.zeros(self.hidden_size)]
		for t in range(len(x)):
			self.h.append(np.tanh(x[t] @ self.W + self.h[t] @ self.R + self.bs))
		return self.h[-1] @ self.V + self.by

	def backward(self, d_loss):
		grads = {
			'd_W': np.zeros(self.W.shape),
			'd_R': np.zeros(self.R.shape),
			'd_bs': np.zeros(self.bs.shape),
			'd_V': np.outer(self.h[-1], d_loss),
			'd_by': np.array(d_loss, dtype=float),
		}
		dh = self.V @ d_loss
		for t in range(len(self.x), 0, -1):
			ds = dh * (1 - self.h[t] * self.h[t])
			grads['d_W'] += np.outer(self.x[t - 1], ds)
			grads['d_R'] += np.outer(self.h[t - 1], ds)
			grads['d_bs'] += ds
			dh = self.R @ ds
		self.grads = grads
		return grads

	def update(self, lr):
		for k in ['W', 'R', 'V', 'bs', 'by']:
			setattr(self, k, getattr(self, k) - lr * self.grads['d_' + k])

	def get_weights(self):
		return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

	def set_weights(self, weights):
		if 'W' not in weights or 'R' not in weights or 'V' not in weights:
			raise ValueError("Missing one of 'W', 'R', 'V'")
		for k in weights:
			setattr(self, k, weights[k])


def get_numerical_gradient(model, x, eps=1e-7):
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
	return grads
