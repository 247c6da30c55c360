"""Exercises of notebook 03 (backpropagation), each with a self-check."""
from __future__ import annotations

import numpy as np

from . import check
from ..activations import softmax

_RNG = np.random.default_rng(1986)


def _linear_backward_reference(x, weight, dout):
    # y = x W^T + b  =>  dx = dout W,  dW = dout^T x,  db = sum of dout over the batch
    return dout @ weight, dout.T @ x, dout.sum(axis=0)


def check_linear_backward(fn):
    """fn(x, weight, dout) -> (dx, dweight, dbias) for y = x @ weight.T + bias.

    x: (N, in), weight: (out, in), dout: (N, out); returns (N, in), (out, in), (out,).
    """
    cases = [(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]), np.array([[1.0]]))]
    cases += [(_RNG.normal(size=(n, i)), _RNG.normal(size=(o, i)), _RNG.normal(size=(n, o)))
              for n, i, o in [(3, 2, 4), (5, 3, 3), (1, 4, 2)]]
    return check(fn, _linear_backward_reference, cases, name="Linear backward",
                 hint="match the shapes: dx (N, in) = dout (N, out) @ weight (out, in); dweight (out, in) = "
                      "dout.T @ x; dbias (out,) = dout summed over the batch axis 0.")


def _mse_reference(pred, target):
    diff = pred - target
    return float(np.mean(diff**2)), 2.0 * diff / diff.size


def check_mse(fn):
    """fn(pred, target) -> (loss, dpred): mean squared error and its gradient."""
    cases = [(np.array([1.0, 2.0]), np.array([1.0, 0.0])), (_RNG.normal(size=(4, 3)), _RNG.normal(size=(4, 3)))]
    return check(fn, _mse_reference, cases, name="MSE loss and gradient",
                 hint="loss = mean((pred - target)^2). Each element appears once in a mean over n = pred.size "
                      "terms, so dloss/dpred = 2 (pred - target) / n.")


def _cross_entropy_gradient_reference(logits, targets):
    grad = softmax(logits)
    grad[np.arange(len(targets)), targets] -= 1.0
    return grad / len(targets)


def check_cross_entropy_gradient(fn):
    """fn(logits, targets) -> dloss/dlogits for the mean softmax cross-entropy, shape (N, C)."""
    cases = [(np.array([[2.0, 1.0, 0.1]]), np.array([0]))]
    cases += [(_RNG.normal(scale=2, size=(n, c)), _RNG.integers(0, c, size=n)) for n, c in [(4, 3), (6, 10)]]
    return check(fn, _cross_entropy_gradient_reference, cases, name="cross-entropy gradient",
                 hint="softmax and cross-entropy together have the gradient (softmax(logits) - one_hot(targets)) "
                      "/ N: subtract 1 at each row's target class, then divide by the batch size.")
