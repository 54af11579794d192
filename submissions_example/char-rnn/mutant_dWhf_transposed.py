# Single bug: dWhf accumulated as h df^T, the transpose of (K, H).
# Vanilla RNN (seed 002): the notebook's one step turned into the documented forward and backward.
import numpy as np

hidden_size = 3
input_size = 4


def forward(inputs, targets, hprev, Wxh, Whh, Whf, bh, bf):
    xs, hs, fs, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((Whf.shape[0], 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t-1]) + bh)
        fs[t] = np.dot(Whf, hs[t]) + bf
        ps[t] = np.exp(fs[t]) / np.sum(np.exp(fs[t]))
        loss += -np.log(ps[t][targets[t], 0])
    return loss, hs[len(inputs) - 1], (xs, hs, ps)


def backward(inputs, targets, cache, Wxh, Whh, Whf, bh, bf):
    xs, hs, ps = cache
    dWxh, dWhh, dWhf = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Whf.T)
    dbh, dbf = np.zeros_like(bh), np.zeros_like(bf)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        df = np.copy(ps[t])
        df[targets[t]] -= 1
        dWhf += np.dot(hs[t], df.T)
        dbf += df
        dh = np.dot(Whf.T, df) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t-1].T)
        dhnext = np.dot(Whh.T, dhraw)
    return dWxh, dWhh, dWhf, dbh, dbf


Wxh = np.random.randn(hidden_size, input_size)*0.01
Whh = np.random.randn(hidden_size, hidden_size)*0.01
Whf = np.random.randn(input_size, hidden_size)*0.01
bh = np.zeros((hidden_size, 1))
bf = np.zeros((input_size, 1))
loss, h, cache = forward([2], [3], np.zeros((hidden_size, 1)), Wxh, Whh, Whf, bh, bf)
print(loss)
