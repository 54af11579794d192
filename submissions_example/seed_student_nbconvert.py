#!/usr/bin/env python
# coding: utf-8

# <h1 style="color:rgb(0,120,170)">Assignment 1: Numpy RNN</h1>
# 
# Author: Frederik Kratzert
# 
# **Deadline: 03.11.2019 23:59**
# 
# 
# In the first assignment, you have to implement the recurrent neural network (RNN) using only NumPy functionality. Concretely, you have to implement the forward and backward pass through the RNN and validate the implementation doing numerical gradient checking. Although you won't most-likely use a self-implemented RNN in real-world applications, this is an excellent task to test and train your understanding of recurrent neural networks in general.
# 
# The notebook contains the core skelleton of everything you have to implement and you will find comments in the code that point you to the exact locations, where you should implement your code. Furthermore, we added type annotations and documentations, where possible, to help you figuring out what the expected inputs are.  
# **Note:** You are not allowed to use any other package then the packages imported below. Using other packages will be considered cheating and result in a negativ assignment.
# 
# When successfully finishing this assignment you will learn:
# - how to implement the forward and backward to the RNN
# - how to use gradient checking to verify your implementation
# 
# 
# Copyright statement:  
# This  material,  no  matter  whether  in  printed  or  electronic  form,  may  be  used  for  personal  and
# non-commercial educational use only.  Any reproduction of this manuscript, no matter whether as a whole or in
# parts, no matter whether in printed or in electronic form, requires explicit prior acceptance of the
# authors.
# 
# <h3 style="color:rgb(200,0,0)">Please fill in</h3> 
# 
# Your Name: **(redacted)**   
# Student number: **(redacted)**

# In[2]:


from typing import Dict, Tuple

import numpy as np


# <h2 style="color:rgb(0,120,170)">Excercise 1: Implement Recurrent Neural Network (7pts)</h2>
# 
# In this excercise you have to implement a recurrent neural network (RNN) in a sequence-to-one setting. That is, only the RNN output of the last time step $T$ is used to calculate the network prediction (see Equations below).
# 
# Before you start coding note that the script does not contain bias units for notational convenience. In our program, however, we want to use bias units and have to train them using their correct gradients.  
# **Write down these gradients in the text box below.**
# 
# $$
# \frac{\partial L}{\partial \boldsymbol{b}_s[t]} = \frac{\partial L}{\partial \boldsymbol{s}[t]}\frac{\partial \boldsymbol{s}[t]}{\partial \boldsymbol{b}_s[t]} = \frac{\partial L}{\partial \boldsymbol{s}[t]} \\
# \text{since } \frac{\partial \boldsymbol{s}[t]}{\partial \boldsymbol{b}_s[t]} = \frac{\partial (\boldsymbol{W}^T \boldsymbol{x}[t] + \boldsymbol{R}^T \boldsymbol{a}[t-1] + \boldsymbol{b}_s}{\partial \boldsymbol{b}_s[t]} = 1\\ 
# \frac{\partial L}{\partial \boldsymbol{b}_y[t]} = \frac{\partial L}{\partial \boldsymbol{\hat{y}[t]}} \frac{\partial \boldsymbol{\hat{y}[t]}}{\partial \boldsymbol{b}_y[t]} = \frac{\partial L}{ \partial \boldsymbol{\hat{y}[t]}} \\
# \text{since } \frac{\partial \boldsymbol{\hat{y}[t]}}{\partial \boldsymbol{b}_y[t]} = \frac{\partial (\boldsymbol{V}^T \boldsymbol{a}[t] + \boldsymbol{b}_y)}{\partial \boldsymbol{b}_y[t]} = 1
# $$
# 
# For your implementation, use the provided class skelleton. The inline comments tell you, where and what you have to implement.  
# **Note two things**:   
# 1) that the final network output should not have any activation function and  
# 2) for this exercise ignore minibatches and implement your RNN to work on a single input sample.
# 
# Equations of the sequence-to-one RNN:
# $$
#         \boldsymbol{s}[t] = \boldsymbol{W}^T \boldsymbol{x}[t] + \boldsymbol{R}^T \boldsymbol{a}[t-1] + \boldsymbol{b}_s\\
#         \boldsymbol{a}[t] = \mathrm{tanh}(\boldsymbol{s}[t]) \\
#         \boldsymbol{y} = \boldsymbol{V}^T \boldsymbol{a}[t=T] + \boldsymbol{b}_y
# $$

# In[3]:


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

        #####################################################################
        # TODO: Create NumPy arrays for each network parameter by replacing #
        # the 'None' below. Initialize all matrices from the random uniform #
        # distribution between (-0.2, 0.2) and all biases to zero vectors   #
        #####################################################################
        self.W = np.random.uniform(-0.2, 0.2, (input_size, hidden_size))
        self.R = np.random.uniform(-0.2, 0.2, (hidden_size, hidden_size))
        self.bs = np.zeros(hidden_size)
        self.V = np.random.uniform(-0.2, 0.2, (hidden_size, output_size))
        self.by = np.zeros(output_size)

        # place holder to store intermediates for backprop
        self.a = None
        self.y_hat = None
        self.grads = {}
        self.x = None


    def forward(self, x: np.ndarray) -> np.ndarray:
        """Forward pass through the RNN.

        Parameters
        ----------
        x : np.ndarray
            Input sequence(s) of shape [sequence length, number of features]

        Returns
        -------
        NumPy array containing the network prediction for the input sample.
        """
        #####################################################################
        # TODO: Implement the forward pass through the RNN.The              #
        # specification of the input and output is given in the doc-string  #
        #                                                                   #  
        # Hint: you have to store certain intermediate values that you need #
        # during the backward pass. Look at the __init__() function to see  #
        # which.                                                            # 
        #                                                                   #
        #####################################################################
        #get sequence length
        seq_length = x.shape[0]
        #initialize a to store all values of a(t) including the 0th entry (all zeros vector)
        self.a = np.zeros((seq_length + 1, self.hidden_size))
        self.x = x
        s_0 = np.dot(self.W.T, x[0,:]) + self.bs
        self.a[1,:] = np.tanh(s_0)
        for i in range(1, seq_length):   
            s = np.dot(self.W.T, x[i, :]) + np.dot(self.R.T, self.a[i, :]) + self.bs
            self.a[i+1,:] = np.tanh(s)
        self.y_hat = np.dot(self.V.T, self.a[-1, :]) + self.by
        return self.y_hat

    def backward(self, d_loss: np.ndarray) -> Dict:
        """Calculate the backward pass through the RNN.

        Parameters
        ----------
        d_loss : np.ndarray
            The gradient of the loss w.r.t the network output in the shape [output_size,]

        Returns
        -------
        Dictionary containing the gradients for each network weight as key-value pair.
        """
        #####################################################################
        # TODO: Implement the backward pass through the RNN. The            #
        # specification of the input and output is given in the doc-string  #
        #                                                                   #
        # Hint: You have to store gradients as class attribute which are    #
        # needed in the .update() function                                  #
        #####################################################################
        self.grads['d_V'] = np.outer(self.a[-1,:], d_loss)
        # I have troubles using np.dot() for casting (n,) to (n,1) shape
        if self.output_size > 1:
            delta = np.dot(np.diag(1-self.a[-1,:]**2), np.dot(d_loss.T, self.V.T).T)
        else:
            delta = np.dot(np.diag(1-self.a[-1,:]**2), np.outer(d_loss.T, self.V.T).T)
        self.grads['d_by'] = d_loss
        self.grads['d_W'] = np.outer(self.x[-1,:], delta)
        self.grads['d_R'] = np.outer(self.a[-2,:], delta)
        self.grads['d_bs'] = delta
        for i in range(1, self.x.shape[0]):
            #there is no loss for time step t != T
            delta = np.dot(np.dot(delta.T, self.R.T), np.diag(1-self.a[-i-1,:]**2)).T
            self.grads['d_W'] += np.outer(self.x[-i-1,:], delta)
            self.grads['d_R'] += np.outer(self.a[-i-2,:], delta)
            self.grads['d_bs'] += delta
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

        #####################################################################
        # TODO: Implement the parameter update using the gradients of the   #
        # backward pass.                                                    # 
        #                                                                   #
        # Hint: For certain network parameters you have gradients from each # 
        # time step. Those gradients over time have to be aggregated.       #  
        #####################################################################
        self.W += lr*self.grads['d_W']/self.x.shape[0]
        self.R += lr*self.grads['d_R']/self.x.shape[0]
        self.bs += lr*self.grads['d_bs'].flatten()/self.x.shape[0]
        self.V += lr*self.grads['d_V']
        self.by += lr*self.grads['d_by']
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


# <h2 style="color:rgb(0,120,170)">Excercise 2: Numerical gradient check (3pts)</h2>
# 
# To validate your implementation, especially the backward pass, use the two-sided gradient approximation given by the equation below.
# 
# $$
# \frac{\partial f}{\partial w_i} \approx \frac{f(x, w_1,...w_i + \epsilon,...w_n) - f(x, w_1,...w_i - \epsilon,...w_n)}{2*\epsilon}
# $$
# 
# Once you calculate the numerical gradient approximation for each weight $w_i$ of the network, we calculate the norm between the numerical gradient and the analytical gradient and check that this difference is smaller than the treshold defined in the function.
# 
# Again, make use of the function skeleton provided below.

# In[4]:


def get_numerical_gradient(model: RNN, x: np.ndarray, eps: float=1e-7) -> Dict:
    """Implementation of the two-sided numerical gradient approximation

    Parameters
    ----------
    model : RNN
        The RNN model object
    x : np.ndarray
        Input sequence(s) of shape [sequence length, number of features]
    eps : float
        The epsilon used for numerical gradient approximation

    Returns
    -------
    A dictionary containing the numerical gradients for each weight of the RNN. Make sure
    to name the dictionary keys like the names of the RNN gradients dictionary (e.g. 
    'd_R' for the weight 'R')
    """
    #########################################################################
    # TODO: Implement the two-sided numerical gradient approximation.       #
    # The specifications of the in- and output are defined in the docstring.#                                                  #
    #########################################################################    
    numerical_grads = {
        'd_V': np.zeros_like(model.V),
        'd_by': np.zeros_like(model.by),
        'd_W': np.zeros_like(model.W),
        'd_R': np.zeros_like(model.R),
        'd_bs': np.zeros_like(model.bs)
    }
    for i in range(model.W.shape[0]):
        for j in range(model.W.shape[1]):
            model.W[i][j] += eps
            plus_eps = RNN.forward(model, x)
            model.W[i][j] -= 2*eps
            minus_eps = RNN.forward(model, x)
            model.W[i][j] += eps
            grad = np.sum(plus_eps - minus_eps)/(2*eps)
            numerical_grads['d_W'][i][j] = grad
    for i in range(model.V.shape[0]):
        for j in range(model.V.shape[1]):
            model.V[i][j] += eps
            plus_eps = RNN.forward(model, x)
            model.V[i][j] -= 2*eps
            minus_eps = RNN.forward(model, x)
            model.V[i][j] += eps
            grad = np.sum(plus_eps - minus_eps)/(2*eps)
            numerical_grads['d_V'][i][j] = grad
    for i in range(model.R.shape[0]):
        for j in range(model.R.shape[1]):
            model.R[i][j] += eps
            plus_eps = RNN.forward(model, x)
            model.R[i][j] -= 2*eps
            minus_eps = RNN.forward(model, x)
            model.R[i][j] += eps
            grad = np.sum(plus_eps - minus_eps)/(2*eps)
            numerical_grads['d_R'][i][j] = grad
    for i in range(model.bs.shape[0]):
        model.bs[i] += eps
        plus_eps = RNN.forward(model, x)
        model.bs[i] -= 2*eps
        minus_eps = RNN.forward(model, x)
        model.bs[i] += eps
        grad = np.sum(plus_eps - minus_eps)/(2*eps)
        numerical_grads['d_bs'][i] = grad
    for i in range(model.by.shape[0]):
        model.by[i] += eps
        plus_eps = RNN.forward(model, x)
        model.by[i] -= 2*eps
        minus_eps = RNN.forward(model, x)
        model.by[i] += eps
        grad = np.sum(plus_eps - minus_eps)/(2*eps)
        numerical_grads['d_by'][i] = grad 

    return numerical_grads
    raise NotImplementedError


def get_analytical_gradient(model: RNN, x: np.ndarray) -> Dict:
    """Helper function to get the analytical gradient.

    Parameters
    ----------
    model : RNN
        The RNN model object
    x : np.ndarray
        Input sequence(s) of shape [sequence length, number of features]

    Returns
    -------
    A dictionary containing the analytical gradients for each weight of the RNN.
    """
    #########################################################################
    # TODO: This is only a helper function to extract the analytical        #
    # gradient.                                                             #
    # The specifications of the in- and output are defined in the docstring.#
    #                                                                       #
    # Hint: We don't need any loss function at this point. Set e(T) = 1,    #
    #       suffices to check the gradient of the RNN backward pass.        #
    #########################################################################   
    y_hat = RNN.forward(model, x)
    grads = RNN.backward(model, np.ones(model.output_size))
    RNN.update(model, 0.5)
    return grads


def gradient_check(model: RNN, x: np.ndarray, treshold: float = 1e-7):
    """Perform gradient checking.

    You don't have to do anything in this function.

    Parameters
    ----------
    model : RNN
        The RNN model object
    x : np.ndarray
        Input sequence(s) of shape [sequence length, number of features]
    eps : float
        The epsilon used for numerical gradient approximation    
    """
    numerical_grads = get_numerical_gradient(model, x)
    analytical_grads = get_analytical_gradient(model, x)
    for key, num_grad in numerical_grads.items():
        difference = np.linalg.norm(num_grad - analytical_grads[key])
        if difference < treshold:
            print(f"Gradient check for {key} passed (difference {difference:.3e})")
        else:
            print(f"Gradient check for {key} failed (difference {difference:.3e})")


# Now we use the `gradient_check` function to test your RNN implementation for two different scenarios, which are a single output neuron and multiple output neurons. You don't have to adapt the code below, simply execute the cell.

# In[5]:


print("Gradient check with a single output neuron:")
output_size = 1
model = RNN(input_size=5, hidden_size=10, output_size=output_size)
x = np.random.rand(5, 5)
gradient_check(model, x)

print("\nGradient check with multiple output neurons:")
output_size = 5
model = RNN(input_size=5, hidden_size=10, output_size=output_size)
x = np.random.rand(5, 5)
gradient_check(model, x)


# <h2 style="color:rgb(0,120,170)">Compare the time for gradient computation</h2>
# Finally, use the code below to investigate the benefit of being able to calculate the exact analytical gradient.

# In[9]:


analytical_time = get_ipython().run_line_magic('timeit', '-o get_analytical_gradient(model, x)')


# In[10]:


numerical_time = get_ipython().run_line_magic('timeit', '-o get_numerical_gradient(model, x)')


# In[11]:


if analytical_time.average < numerical_time.average:
    fraction = numerical_time.average / analytical_time.average
    print(f"The analytical gradient computation was {fraction:.0f} times faster")
else:
    fraction = analytical_time.average / numerical_time.average
    print(f"The numerical gradient computation was {fraction:.0f} times faster")

