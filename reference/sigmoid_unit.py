"""Reference for `sigmoid-unit` (seed 000): one step of a sigmoid recurrent unit with column vectors.

    y = Whx x + Whh hprev,   h = sigmoid(y)          x (d, 1), hprev (n, 1), Whx (n, d), Whh (n, n)

backward_function(x, hprev, dEdh, Whx, Whh) takes dE/dh (n, 1) and returns (dEdhprev, dWhx, dWhh):
with g = dEdh * h * (1 - h), dEdhprev = Whh^T g (n, 1), dWhx = g x^T (n, d), dWhh = g hprev^T (n, n).
These functions are the solution in the form students hand it in; `VARIANTS` are known wrong versions
(the grader names one when a submission returns what it returns). Never given to a submission.
"""

import numpy as np


def sigmoid(y):
    return 1 / (1 + np.exp(-y))


def forward_function(x, hprev, Whx, Whh):
    return sigmoid(Whx @ x + Whh @ hprev)


def backward_function(x, hprev, dEdh, Whx, Whh, prime=None, upstream=True, recurrence=lambda W, g: W.T @ g):
    h = forward_function(x, hprev, Whx, Whh)
    f_prime = h * (1 - h) if prime is None else prime(Whx @ x + Whh @ hprev)
    if upstream:
        f_prime = f_prime * dEdh
    return recurrence(Whh, f_prime), f_prime @ x.T, f_prime @ hprev.T


# Each variant is a wrong version of one or more of the functions above, by function name.
VARIANTS = {
    "forward_no_recurrence": {"forward_function": lambda x, hp, Wx, Wh: sigmoid(Wx @ x)},
    "sigmoid_prime_of_preactivation": {
        "backward_function": lambda x, hp, d, Wx, Wh: backward_function(x, hp, d, Wx, Wh, prime=lambda y: y * (1 - y))},
    "ignores_upstream_gradient": {
        "backward_function": lambda x, hp, d, Wx, Wh: backward_function(x, hp, d, Wx, Wh, upstream=False)},
    "dhprev_not_transposed": {
        "backward_function": lambda x, hp, d, Wx, Wh: backward_function(x, hp, d, Wx, Wh,
                                                                        recurrence=lambda W, g: W @ g)},
    "tanh_activation": {"forward_function": lambda x, hp, Wx, Wh: np.tanh(Wx @ x + Wh @ hp)},
    "no_activation": {"forward_function": lambda x, hp, Wx, Wh: Wx @ x + Wh @ hp},
}

DIAGNOSES = {
    "forward_no_recurrence": (
        "forward_function leaves out the recurrent term Whh hprev.",
        "h = sigmoid(Whx x + Whh hprev): the previous hidden state enters through Whh."),
    "sigmoid_prime_of_preactivation": (
        "f'(y) is computed as y (1 - y) from the pre-activation y instead of from f(y).",
        "The sigmoid's derivative is f(y) (1 - f(y)): apply the sigmoid first, then use its value."),
    "ignores_upstream_gradient": (
        "backward_function does not weigh the gradient by the error signal dEdh.",
        "Multiply f'(y) element-wise by dEdh before computing the three gradients."),
    "dhprev_not_transposed": (
        "dE/dhprev uses Whh where it needs Whh transposed.",
        "Gradient #1 is Whh^T (dEdh * f'(y)): write y_i = sum_j Whh[i, j] hprev[j] and see which index the "
        "sum runs over."),
    "tanh_activation": (
        "forward_function uses tanh where the unit uses the sigmoid.",
        "h = sigmoid(Whx x + Whh hprev), with sigmoid(y) = 1 / (1 + exp(-y))."),
    "no_activation": (
        "forward_function applies no activation.",
        "h = sigmoid(Whx x + Whh hprev)."),
}
