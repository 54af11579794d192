"""An autograder for NumPy RNN assignments: isolated, exact, and fair."""

__version__ = "0.1.0"
