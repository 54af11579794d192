"""Helpers the rnn-cell assignment gives students (`from rnn_utils import *`): softmax over the class
axis (axis 0, one column per example) and the sigmoid. Shipped with the spec; the grader installs it
in the submission's process before loading the notebook."""

import numpy as np


def softmax(x):
    e_x = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e_x / e_x.sum(axis=0, keepdims=True)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))
