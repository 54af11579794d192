# The code "Assignment 1: Numpy RNN" gives students (shared/seeds/004): imports, the RNN class with its
# docstrings, signatures and TODO banners, the given helpers and the demo cells, with every part to be
# written left as the skeleton leaves it (`None`, `raise NotImplementedError`). Not graded: the
# similarity check ignores every fingerprint that occurs here, so code all students were given never
# makes two of them look alike.

from typing import Dict, Tuple

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
        
        #####################################################################
        # TODO: Create NumPy arrays for each network parameter by replacing #
        # the 'None' below. Initialize all matrices from the random uniform #
        # distribution between (-0.2, 0.2) and all biases to zero vectors   #
        #####################################################################
        self.W = None
        self.R = None
        self.bs = None
        self.V = None
        self.by = None

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
        raise NotImplementedError

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
        raise NotImplementedError
        
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
        raise NotImplementedError
        
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
    raise NotImplementedError

            
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

analytical_time = get_ipython().run_line_magic('timeit', '-o get_analytical_gradient(model, x)')

numerical_time = get_ipython().run_line_magic('timeit', '-o get_numerical_gradient(model, x)')

if analytical_time.average < numerical_time.average:
    fraction = numerical_time.average / analytical_time.average
    print(f"The analytical gradient computation was {fraction:.0f} times faster")
else:
    fraction = analytical_time.average / numerical_time.average
    print(f"The numerical gradient computation was {fraction:.0f} times faster")
