"""Reference for `char-rnn` (seed 002): the tanh/softmax character RNN with cross-entropy over one-hot
inputs, column vectors, parameters Wxh (H, K), Whh (H, H), Whf (K, H), bh (H, 1), bf (K, 1).

    h(t) = tanh(Wxh x(t) + Whh h(t-1) + bh)     f(t) = Whf h(t) + bf     p(t) = softmax(f(t))
    loss = sum_t -log p(t)[targets[t]]

Interface chosen where the seed leaves it open (the notebook runs one step on module globals):
forward(inputs, targets, hprev, Wxh, Whh, Whf, bh, bf) returns (loss, h_last, cache) with cache =
(xs, hs, ps): xs[t] the one-hot input (K, 1), hs[t] the state (H, 1) with hs[-1] = hprev, ps[t] the
probabilities (K, 1), indexable like the notebook's dicts; backward(inputs, targets, cache, Wxh, Whh,
Whf, bh, bf) returns (dWxh, dWhh, dWhf, dbh, dbf), full backpropagation through time of the loss.
These functions are the solution in the form students hand it in. Never given to a submission.
"""

import numpy as np


def forward(inputs, targets, hprev, Wxh, Whh, Whf, bh, bf):
    K, T = np.shape(Whf)[0], len(inputs)
    xs, hs, ps = [], [], []
    loss, h = 0.0, np.asarray(hprev, dtype=float)
    for t in range(T):
        x = np.zeros((K, 1))
        x[int(inputs[t])] = 1
        h = np.tanh(Wxh @ x + Whh @ h + bh)
        f = Whf @ h + bf
        p = np.exp(f - np.max(f)) / np.sum(np.exp(f - np.max(f)))
        loss += -np.log(p[int(targets[t]), 0])
        xs.append(x), hs.append(h), ps.append(p)
    return loss, h, (xs, hs + [np.asarray(hprev, dtype=float)], ps)


def backward(inputs, targets, cache, Wxh, Whh, Whf, bh, bf, through_time=True, tanh_prime=lambda h: 1 - h * h,
             target_term=True):
    xs, hs, ps = ([np.asarray(v, dtype=float) for v in part] for part in cache)
    dWxh, dWhh, dWhf = np.zeros(np.shape(Wxh)), np.zeros(np.shape(Whh)), np.zeros(np.shape(Whf))
    dbh, dbf = np.zeros(np.shape(bh)), np.zeros(np.shape(bf))
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        df = np.copy(ps[t])
        if target_term:
            df[int(targets[t])] -= 1
        dWhf += df @ hs[t].T
        dbf += df
        dh = np.asarray(Whf).T @ df + (dhnext if through_time else 0)
        dhraw = tanh_prime(hs[t]) * dh
        dbh += dhraw
        dWxh += dhraw @ xs[t].T
        dWhh += dhraw @ hs[t - 1].T
        dhnext = np.asarray(Whh).T @ dhraw
    return dWxh, dWhh, dWhf, dbh, dbf


VARIANTS = {
    "bptt_not_through_time": {"backward": lambda *a: backward(*a, through_time=False)},
    "tanh_prime_as_sigmoid": {"backward": lambda *a: backward(*a, tanh_prime=lambda h: (1 - h) * h)},
    "softmax_gradient_missing_target": {"backward": lambda *a: backward(*a, target_term=False)},
}

DIAGNOSES = {
    "bptt_not_through_time": (
        "The gradient is not carried back through h(t-1): each step treats it as a constant.",
        "The notebook notes that unfolding h(t-1) gives BPTT: add dhnext = Whh^T dhraw of step t + 1 to dh at "
        "step t."),
    "tanh_prime_as_sigmoid": (
        "The hidden layer's derivative is taken as (1 - h) h, the sigmoid's, for a tanh (as the notebook's "
        "matrix formulation writes it).",
        "For h = tanh(.), dh/d(.) = 1 - h^2, as the notebook's code (1 - hs[t] * hs[t]) has it."),
    "softmax_gradient_missing_target": (
        "The gradient at the output is p instead of p minus the one-hot target.",
        "dL/df_k = p_k - I(y = k): subtract 1 at the target's index."),
}
