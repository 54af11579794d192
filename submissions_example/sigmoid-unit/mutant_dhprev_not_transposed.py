# Task 1: Recurrent Neural Network Basics -- the seed notebook (000), filled in and exported to .py.
# Single bug: Gradient #1 uses Whh instead of Whh^T.
import numpy as np


def sigmoid(y):
    return 1 / (1 + np.exp(-y))


hidden_size = 10
input_size = 5

Whh = np.zeros([hidden_size, hidden_size])
Whh += np.random.uniform(-0.1, 0.1, [hidden_size, hidden_size])

Whx = np.zeros([hidden_size, input_size])
Whx += np.random.uniform(-0.1, 0.1, [hidden_size, input_size])


def forward_function(x, hprev, Whx, Whh):
    ## first compute the matrix-vector multiplication
    h = np.dot(Whx, x) + np.dot(Whh, hprev)
    ## use the sigmoid function to compute the current state
    h = sigmoid(h)
    return h


x = np.random.randn(input_size, 1)
hprev = np.random.randn(hidden_size, 1)
h = forward_function(x, hprev, Whx, Whh)
print('Successfully forwarded!')

x_test = np.zeros([input_size, 1])
hprev_test = np.zeros([hidden_size, 1])
h_test = forward_function(x_test, hprev_test, Whx, Whh)
assert np.all(h_test - 0.5 < 1e-7)
print('Test passed!')


def backward_function(x, hprev, dEdh, Whx, Whh):
    ## compute the gradient of sigmoid function
    h = forward_function(x, hprev, Whx, Whh)
    f_prime = h * (1 - h)
    ## weigh the gradient by training/error signal
    f_prime *= dEdh
    ## compute gradient #1
    dEdhprev = np.dot(Whh, f_prime)
    ## compute gradient #2
    dWhh = np.dot(f_prime, hprev.T)
    ## compute gradient #3
    dWhx = np.dot(f_prime, x.T)
    return dEdhprev, dWhx, dWhh


h = forward_function(x, hprev, Whx, Whh)
E = np.sum(h)
dEdh = np.ones([hidden_size, 1])
dEdhprev, dWhx, dWhh = backward_function(x, hprev, dEdh, Whx, Whh)
print('Successfully backpropgated!')
