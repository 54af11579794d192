# SCAFFOLD: a support module of `grade new-pack`'s toy assignment. Replace it with your own, or delete the
# folder and the spec's "support" key if your assignment gives students no module to import.
"""Helpers the assignment gives students: a submission may `from layer_utils import tanh_prime`.

Every .py file in this folder is installed beside each submission before it is loaded (the spec's
"support" key names this folder), so students' imports of it work in the grader as in their notebook.
"""

import numpy as np


def tanh_prime(y):
    """The derivative of tanh at s, from y = tanh(s)."""
    return 1.0 - np.asarray(y) ** 2
