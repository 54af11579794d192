# Single bug: rnn_backward gives each step only dh[:, t, :].
# RNN unit with an affine/softmax head (seed 001), completed as the spec's description documents.
import numpy as np


def sigmoid(x):
    return 1/(1 + np.exp(-np.clip(x, -500, 500)))


def softmax(x):
    shifted = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return shifted / np.sum(shifted, axis=-1, keepdims=True)


def rnn_step_forward(x_t, h_prev, Wh, We, b1):
    h_next = sigmoid(np.matmul(h_prev, Wh.T) + np.matmul(x_t, We.T) + b1)
    cache = h_prev, h_next, x_t
    return h_next, cache


def rnn_forward(T, x, h_0, Wh, We, b1):
    N, T, d = x.shape
    _, Dh = h_0.shape
    h = np.zeros((N, T, Dh))
    h_prev = h_0
    cache = {}
    for t in range(T):
        h[:, t, :],  cache_step = rnn_step_forward(x[:,t,:], h_prev, Wh, We, b1)
        h_prev = h[:, t, :]
        cache.update({t : cache_step})
    return h, cache


def rnn_step_backward(dh_next, cache, Wh, We):
    h_prev, h_next, x_t = cache
    dsigmoid = h_next*(1 - h_next)
    dz = dh_next*dsigmoid
    dWh = np.matmul(dz.T, h_prev)
    dWe = np.matmul(dz.T, x_t)
    db1 = dz.sum(axis=0)
    dh_prev = np.matmul(dz, Wh)
    dx_t = np.matmul(dz, We)
    return dx_t, dh_prev, dWh, dWe, db1


def rnn_backward(dh, cache, Wh, We):
    N, T, Dh = dh.shape
    dx = np.zeros((N, T, We.shape[1]))
    dWh, dWe, db1 = np.zeros_like(Wh), np.zeros_like(We), np.zeros(Dh)
    dh_prev = np.zeros((N, Dh))
    for t in reversed(range(T)):
        dx[:, t, :], dh_prev, dWh_t, dWe_t, db1_t = rnn_step_backward(dh[:, t, :], cache[t], Wh, We)
        dWh += dWh_t
        dWe += dWe_t
        db1 += db1_t
    return dx, dh_prev, dWh, dWe, db1


def affine_forward(h, U, b2):
    N, T, Dh = h.shape
    V = b2.shape[0]
    theta = (np.matmul(h.reshape(N*T, Dh), U) + b2).reshape(N, T, V)
    cache = U, b2, h
    return theta, cache


def affine_backward(dtheta, cache):
    U, b2, h = cache
    Dh = U.shape[0]
    N, T, V = dtheta.shape
    dh = np.matmul(dtheta.reshape(N*T, V), U.T).reshape(N, T, Dh)
    dU = np.matmul(h.reshape(N*T, Dh).T, dtheta.reshape(N*T, V))
    db2 = dtheta.sum(axis=(0,1))
    return dh, dU, db2
