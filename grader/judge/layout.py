"""One convention, one blame: vectors kept in another orientation than documented.

A student who keeps the biases as columns, bs (H, 1) and by (O, 1), and returns y as (O, 1), has made one
choice, and `init_shapes` and `forward_shape` are where it costs. Everywhere else the grader follows the
submission's own orientation: it sets hidden vectors in that orientation, hands backward a d_loss shaped
like forward's output when the documented one raises, and compares vectors after reshaping. Only an
unambiguous vector is followed (one dimension larger than 1, the same entries): a matrix stays as
documented, since a transposed W is the student's error and a square R could not be told apart.

Pure functions of shapes; the submission's layout is discovered by `checks.construction.discover_layout`.
"""

from __future__ import annotations

import numpy as np


def orientation(shape: tuple) -> str | None:
    """"flat" (n,), "column" (n, 1) or "row" (1, n) for a vector's shape (a (1, 1) is a column); None for
    anything else."""
    shape = tuple(shape)
    if len(shape) == 1:
        return "flat"
    if len(shape) == 2 and shape[1] == 1:
        return "column"
    if len(shape) == 2 and shape[0] == 1:
        return "row"
    return None


def shaped(length: int, how: str) -> tuple:
    return {"flat": (length,), "column": (length, 1), "row": (1, length)}[how]


def followed(actual: tuple, documented: tuple) -> str | None:
    """The orientation to follow when a submission made `actual` where `documented` is documented: only
    for the same vector in another orientation, told from a length above 1; else None."""
    actual, documented = tuple(actual), tuple(documented)
    if actual == documented or orientation(documented) is None or orientation(actual) is None:
        return None
    length = int(np.prod(documented))
    if length < 2 or int(np.prod(actual)) != length:
        return None
    return orientation(actual)


def student_shape(documented: tuple, how: str | None) -> tuple:
    """Where the documented shape stands in the submission's layout."""
    if how is None or orientation(documented) is None:
        return tuple(documented)
    return shaped(int(np.prod(documented)), how)


def arrange(value: np.ndarray, how: str | None) -> np.ndarray:
    """A documented vector as the submission keeps it."""
    return value if how is None else value.reshape(student_shape(value.shape, how))


def as_documented(arr: np.ndarray, documented: tuple, how: str | None) -> np.ndarray | None:
    """A value the submission gave in its own layout, in the documented shape; None when it is in neither."""
    if arr.shape == tuple(documented):
        return arr
    if how is not None and arr.shape == student_shape(documented, how):
        return arr.reshape(documented)
    return None
