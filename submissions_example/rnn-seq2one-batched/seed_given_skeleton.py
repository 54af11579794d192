"""The later year's batched skeleton as students got it, with the student's part filled in correctly.

Given code, as it appears in a public submission of that year: __init__ (weights made with np.zeros,
the biases as columns (H, 1) and (O, 1), then reset_parameters), reset_parameters (R the identity, W
and V LeCun-uniform), the RuntimeError guard of update, get_weights and set_weights. The docstrings are
paraphrased from seed 004's, adapted to the batch. The student wrote forward, backward, the update step
and get_numerical_gradient.
"""
from typing import Dict

import numpy as np


class RNN(object):
    """Numpy implementation of sequence-to-one recurrent neural network for regression tasks."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        """Initialization

        Parameters
        ----------
        input_size : int
            Number of input features per time step
        hidden_size : int
            Number of hidden units in the RNN
        output_size : int
            Number of output units.
        """
        super(RNN, self).__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size

        # create and initialize weights of the network
        self.W = np.zeros((input_size, hidden_size))
        self.R = np.zeros((hidden_size, hidden_size))
        self.bs = np.zeros((hidden_size, 1))
        self.V = np.zeros((hidden_size, output_size))
        self.by = np.zeros((output_size, 1))
        self.reset_parameters()

        # place holder to store intermediates for backprop
        self.a = None
        self.y_hat = None
        self.grads = None
        self.x = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Forward pass through the RNN.

        Parameters
        ----------
        x : np.ndarray
            Input sequence(s) of shape [sequence length, batch size, number of features]

        Returns
        -------
        NumPy array containing the network prediction for the input sample(s), [batch size, output size].
        """
        seq_length, batch_size, _ = x.shape
        self.x = x
        self.a = np.zeros((seq_length + 1, batch_size, self.hidden_size))
        for t in range(seq_length):
            s = x[t] @ self.W + self.a[t] @ self.R + self.bs.T
            self.a[t + 1] = np.tanh(s)
        self.y_hat = self.a[-1] @ self.V + self.by.T
        return self.y_hat

    def backward(self, d_loss: np.ndarray) -> Dict:
        """Calculate the backward pass through the RNN.

        Parameters
        ----------
        d_loss : np.ndarray
            The gradient of the loss w.r.t the network output in the shape [batch size, output size]

        Returns
        -------
        Dictionary containing the gradients for each network weight as key-value pair.
        """
        seq_length = self.x.shape[0]
        d_W = np.zeros_like(self.W)
        d_R = np.zeros_like(self.R)
        d_bs = np.zeros_like(self.bs)
        d_V = self.a[-1].T @ d_loss
        d_by = d_loss.sum(axis=0, keepdims=True).T
        delta = (d_loss @ self.V.T) * (1 - self.a[-1] ** 2)
        for t in range(seq_length, 0, -1):
            d_W += self.x[t - 1].T @ delta
            d_R += self.a[t - 1].T @ delta
            d_bs += delta.sum(axis=0, keepdims=True).T
            delta = (delta @ self.R.T) * (1 - self.a[t - 1] ** 2)
        self.grads = {'d_W': d_W, 'd_R': d_R, 'd_V': d_V, 'd_bs': d_bs, 'd_by': d_by}
        return self.grads

    def update(self, lr: float):
        """Update the network parameter.

        Parameters
        ----------
        lr : float
            Learning rate used for the weight update
        """
        if not self.grads:
            raise RuntimeError("You have to call the .backward() function first")

        self.W -= lr * self.grads['d_W']
        self.R -= lr * self.grads['d_R']
        self.V -= lr * self.grads['d_V']
        self.bs -= lr * self.grads['d_bs']
        self.by -= lr * self.grads['d_by']
        # reset internal class attributes
        self.grads = {}
        self.y_hat, self.a = None, None

    def get_weights(self) -> Dict:
        """Return dictionary containing the weight matrices

        Returns
        -------
        Dictionary containing the network weights as key-value pairs.
        """
        return {'W': self.W, 'R': self.R, 'V': self.V, 'bs': self.bs, 'by': self.by}

    def set_weights(self, weights: Dict):
        """Set the network weights.

        Parameters
        ----------
        weights : Dict
            Dictionary containing one key-value pair for each network weight.
        """
        if not all(name in weights.keys() for name in ['W', 'R', 'V']):
            raise ValueError("Missing one of 'W', 'R', 'V' keys in the weight dictionary")
        self.W = weights["W"]
        self.R = weights["R"]
        self.V = weights["V"]
        self.bs = weights["bs"]
        self.by = weights["by"]

    def reset_parameters(self):
        # recurrent weights initialized as identity matrix
        self.R = np.eye(self.hidden_size)

        # input to hidden and hidden to output initialized with LeCun initialization
        gain = np.sqrt(3 / self.input_size)
        self.W = np.random.uniform(-gain, gain, self.W.shape)
        gain = np.sqrt(3 / self.hidden_size)
        self.V = np.random.uniform(-gain, gain, self.V.shape)


def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float = 1e-7) -> Dict:
    """Implementation of the two-sided numerical gradient approximation

    Parameters
    ----------
    model : RNN
        The RNN model object
    x : np.ndarray
        Input sequence(s) of shape [sequence length, batch size, number of features]
    eps : float
        The epsilon used for numerical gradient approximation

    Returns
    -------
    A dictionary containing the numerical gradients for each weight of the RNN. Make sure
    to name the dictionary keys like the names of the RNN gradients dictionary (e.g.
    'd_R' for the weight 'R')
    """
    numerical_grads = {}
    for name, weight in model.get_weights().items():
        grad = np.zeros_like(weight)
        for idx in np.ndindex(weight.shape):
            old = weight[idx]
            weight[idx] = old + eps
            plus = np.sum(model.forward(x))
            weight[idx] = old - eps
            minus = np.sum(model.forward(x))
            weight[idx] = old
            grad[idx] = (plus - minus) / (2 * eps)
        numerical_grads['d_' + name] = grad
    return numerical_grads
