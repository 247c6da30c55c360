"""Exercises of notebook 06 (convolutional networks), each with a self-check."""
from __future__ import annotations

import numpy as np

from . import CheckResult, check

_RNG = np.random.default_rng(1998)  # LeNet-5's year

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)


def _output_size_reference(size, kernel_size, stride, padding):
    return (size + 2 * padding - kernel_size) // stride + 1


def check_output_size(fn) -> CheckResult:
    """fn(size, kernel_size, stride, padding) -> the output length of a convolution along one axis."""
    cases = [(28, 3, 1, 0), (28, 3, 1, 1), (28, 5, 1, 2), (32, 3, 2, 1), (7, 3, 2, 0),
             (8, 2, 2, 0), (224, 11, 4, 2), (5, 5, 1, 0), (10, 4, 3, 1), (13, 1, 3, 0)]
    return check(fn, _output_size_reference, cases, name="output size",
                 hint="count the positions of the window in the padded input: (size + 2*padding - kernel_size) "
                      "// stride + 1. Use integer division (//): a window that does not fit is not counted.")


def check_sobel_x(kernel) -> CheckResult:
    """A 3x3 kernel, written by hand, that finds vertical edges like the Sobel x filter.

    Applied as deep-learning libraries apply kernels (cross-correlation, no flip), it must give
    a positive response where the image gets brighter from left to right.
    """
    try:
        k = np.asarray(kernel, dtype=float)
    except (TypeError, ValueError) as err:
        print(f"✗ Sobel x: could not read your kernel as numbers ({err}). Hint: a 3x3 list of lists.")
        return CheckResult(False)
    if k.shape != (3, 3):
        print(f"✗ Sobel x: the kernel must be 3x3, got shape {k.shape}.")
        return CheckResult(False)
    if np.allclose(k, 0):
        print("… Sobel x: not attempted yet. Replace the zeros with the nine weights.")
        return CheckResult(False)
    if np.allclose(k, SOBEL_X):
        print("✓ Sobel x: right - the left column weighs -1, -2, -1 and the right column +1, +2, +1.")
        return CheckResult(True)
    if np.allclose(k, -SOBEL_X) or np.allclose(k, SOBEL_X[:, ::-1]):
        hint = ("the signs are mirrored: this kernel answers brightness that *falls* from left to right. "
                "Convolution layers do not flip the kernel, so put the positive weights on the right.")
    elif np.allclose(k, SOBEL_X.T) or np.allclose(k, -SOBEL_X.T):
        hint = "this is Sobel y: it differences rows, so it finds *horizontal* edges. Difference the columns instead."
    elif abs(k.sum()) > 1e-9:
        hint = (f"the weights add up to {k.sum():g}, so a flat grey image would give a response. "
                "An edge detector must answer 0 where nothing changes: weights summing to 0.")
    elif not np.allclose(k[:, 1], 0):
        hint = "the middle column should be 0: Sobel x compares the left and right neighbours, not the pixel itself."
    else:
        hint = ("close: Sobel x is a difference (right minus left columns) smoothed vertically with weights "
                "1, 2, 1 - the centre row counts twice.")
    print(f"✗ Sobel x: not quite. Hint: {hint}")
    return CheckResult(False)


def _max_pool_reference(image, size):
    h, w = image.shape[0] // size, image.shape[1] // size
    blocks = image[: h * size, : w * size].reshape(h, size, w, size)  # (h, size, w, size)
    return blocks.max(axis=(1, 3))


def check_max_pool(fn) -> CheckResult:
    """fn(image (H, W), size) -> (H // size, W // size): the maximum of each size x size block."""
    cases = [(np.arange(16, dtype=float).reshape(4, 4), 2),
             (np.array([[1.0, -2.0], [-3.0, -4.0]]), 2)]
    cases += [(_RNG.normal(size=shape), size) for shape, size in (((6, 6), 3), ((7, 9), 2), ((5, 4), 1), ((8, 6), 2))]
    return check(fn, _max_pool_reference, cases, name="max pooling",
                 hint="the output has H // size rows and W // size columns (leftover rows/columns are dropped); "
                      "out[i, j] = image[i*size:(i+1)*size, j*size:(j+1)*size].max(). Negative numbers can be maxima too.")
