"""Exercises of notebook 03 (backpropagation): two warm-ups (the gradients of the mean squared error
and of softmax cross-entropy) and the backward pass of a two-layer softmax network, which the
notebook then gradient-checks and trains with.

The expected answers come from ``nncourse.losses`` and ``nncourse.layers`` (tested against
PyTorch); the answers a teacher can show are in ``nncourse.exercises.solutions.backprop``.
"""
from __future__ import annotations

import numpy as np

from .. import losses
from ..layers import linear_backward, linear_forward
from . import Exercise
from .solutions import backprop as solutions


# --- warm-up 1: mean squared error ------------------------------------------------------------------
def _mse_cases():
    rng = np.random.default_rng(1805)  # Legendre's least squares
    return [(np.array([1.0, 2.0]), np.array([1.0, 0.0])),
            (rng.normal(size=(4, 3)), rng.normal(size=(4, 3))),
            (rng.normal(size=7), rng.normal(size=7))]


def _mse_reference(pred, target):
    return losses.mse(pred, target)


def _mse_by_rows(pred, target):
    diff = pred - target
    return float(np.mean(diff**2)), 2 * diff / len(diff)


mse_loss = Exercise(
    "mse_loss", solution=solutions.mse_loss, reference=_mse_reference, cases=_mse_cases,
    output_names=("loss", "dpred"),
    hints=["Two results: the loss (one number: the mean of the squared differences) and its gradient "
           "dpred, with the shape of pred.",
           "Differentiate one term (pred_i - target_i)^2 of the mean: the square gives a factor 2, and the "
           "mean divides every term by the number of terms.",
           "The mean runs over every element, so divide by pred.size, not by the number of rows."],
    mistakes=[(lambda p, t: (float(np.mean((p - t) ** 2)), 2 * (p - t)),
               "'dpred' is too large by the number of elements: the loss is a mean, so each element's "
               "share of the gradient is divided by how many elements there are."),
              (lambda p, t: (float(np.sum((p - t) ** 2)), 2 * (p - t)),
               "you summed the squared errors; this loss is their mean (PyTorch's default), in the loss "
               "and in its gradient."),
              (lambda p, t: (float(np.mean((p - t) ** 2)), (p - t) / (p - t).size),
               "'dpred' is half the answer: the factor 2 from differentiating the square is missing."),
              (_mse_by_rows, "you divided by the number of rows; the mean runs over every element.")])


# --- warm-up 2: the gradient of softmax cross-entropy -----------------------------------------------
def _cross_entropy_cases():
    rng = np.random.default_rng(1989)  # Bridle's softmax
    cases = [(np.array([[2.0, 1.0, 0.1]]), np.array([0]))]
    cases += [(rng.normal(scale=2, size=(n, c)), rng.integers(0, c, size=n)) for n, c in [(4, 3), (6, 10)]]
    cases.append((np.array([[800.0, -800.0, 0.0], [-800.0, 0.0, 800.0]]), np.array([0, 1])))  # large logits
    return cases


def _cross_entropy_reference(logits, targets):
    return losses.cross_entropy(logits, targets)[1]


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


cross_entropy_gradient = Exercise(
    "cross_entropy_gradient", solution=solutions.cross_entropy_gradient, reference=_cross_entropy_reference,
    cases=_cross_entropy_cases,
    hints=["The result has the shape of logits (N, C): one gradient per logit.",
           "For one example, d(-log softmax(z)_t)/dz_k = softmax(z)_k - [k == t]: the probabilities, with 1 "
           "taken off at the target class. The loss is a mean over the N examples.",
           "exp(800) overflows: softmax(z) = softmax(z - max(z)), so subtract each row's maximum first."],
    mistakes=[(lambda z, t: _softmax(z) * 1, "your result is the softmax itself: the gradient also takes 1 "
                                            "off at each example's target class."),
              (lambda z, t: (_cross_entropy_reference(z, t) * len(t)),
               "your gradient is N times too large: the loss is a mean over the batch."),
              (lambda z, t: _softmax(z) / len(t), "your result is the softmax divided by N: the gradient also "
                                                  "takes 1 off at each example's target class.")])


# --- the substantial one: the backward pass of a two-layer softmax network ---------------------------
MLP_OUTPUTS = ("loss", "dW1", "db1", "dW2", "db2")


def _mlp_cases():
    rng = np.random.default_rng(1986)  # Rumelhart, Hinton and Williams
    cases = []
    for n, d, h, c in [(5, 2, 3, 3), (8, 4, 6, 3), (6, 3, 5, 4)]:  # the first has a square W2
        cases.append((rng.normal(size=(n, d)), rng.integers(0, c, size=n),
                      rng.normal(size=(h, d)), 0.5 * rng.normal(size=h),
                      rng.normal(size=(c, h)) / np.sqrt(h), 0.1 * rng.normal(size=c)))
    return cases


def _mlp_reference(X, y, W1, b1, W2, b2):
    """The course's layers: linear_forward/backward (tested against PyTorch) and losses.cross_entropy."""
    z1, cache1 = linear_forward(X, W1, b1)
    h = np.maximum(z1, 0)
    logits, cache2 = linear_forward(h, W2, b2)
    loss, dlogits = losses.cross_entropy(logits, y)
    dh, dW2, db2 = linear_backward(dlogits, cache2)
    _, dW1, db1 = linear_backward(dh * (z1 > 0), cache1)
    return loss, dW1, db1, dW2, db2


def _mlp_variant(X, y, W1, b1, W2, b2, *, per_batch=1.0, one_hot=True, mask=True, w2_transposed=False):
    """The answer with one typical mistake switched on (for the named nudges)."""
    N = len(X)
    z1 = X @ W1.T + b1
    h = np.maximum(z1, 0)
    probs = _softmax(h @ W2.T + b2)
    loss = -np.log(probs[np.arange(N), y]).mean()
    dlogits = probs.copy()
    if one_hot:
        dlogits[np.arange(N), y] -= 1
    dlogits = dlogits * per_batch
    dh = dlogits @ (W2.T if w2_transposed else W2)
    dz1 = dh * (z1 > 0) if mask else dh
    return loss, dz1.T @ X, dz1.sum(axis=0), dlogits.T @ h, dlogits.sum(axis=0)


_MLP_MISTAKES = [
    (lambda *case: _mlp_variant(*case, per_batch=1.0),
     "every gradient is N times too large (N = the batch size): the loss is the *mean* over the batch, and "
     "its gradient at the logits carries that 1/N."),
    (lambda *case: _mlp_variant(*case, per_batch=1.0 / len(case[0]) ** 2),
     "every gradient is N times too small: the 1/N of the mean entered twice (once in dlogits, and again "
     "when you averaged over the batch)."),
    (lambda *case: _mlp_variant(*case, per_batch=1.0 / len(case[0]), mask=False),
     "dW2 and db2 are right, dW1 and db1 are not: the gradient went back through the ReLU as if it were "
     "the identity. A ReLU passes the gradient only where its unit was active."),
    (lambda *case: _mlp_variant(*case, per_batch=1.0 / len(case[0]), w2_transposed=True),
     "dW2 and db2 are right, dW1 and db1 are not: the gradient sent back to the hidden layer, dh, used W2 "
     "transposed. Check the shapes: dlogits is (N, C), W2 is (C, H), dh must be (N, H)."),
    (lambda *case: _mlp_variant(*case, per_batch=1.0 / len(case[0]), one_hot=False),
     "every gradient is off from the start: the gradient at the logits is softmax minus the one-hot "
     "targets, and the -1 at each target class is missing."),
]


def _mlp_compare(got, want, case):
    """Name the shape mistakes of this exercise (a transposed weight gradient, a gradient per example
    that was never summed over the batch), then compare as usual."""
    if isinstance(got, (tuple, list)) and len(got) == len(want):
        n = len(case[0])
        for name, g, w in zip(MLP_OUTPUTS, got, want):
            try:
                g = np.asarray(g, dtype=float)
            except (TypeError, ValueError):
                continue
            w = np.asarray(w)
            if w.ndim == 2 and g.shape == w.T.shape and (g.shape != w.shape or
                                                         not np.allclose(g, w) and np.allclose(g, w.T)):
                return (f"'{name}' is the transpose of the gradient (shape {g.shape}): a weight's gradient has "
                        f"the weight's shape, {w.shape} = (out_features, in_features). Check the order of "
                        "your matrix product.")
            if g.shape == (n,) + w.shape:
                return (f"'{name}' has one gradient per example (shape {g.shape}): the parameter is shared by "
                        f"the whole batch, so its gradient is the sum over the batch, shape {w.shape}.")
            if w.ndim == 1 and g.shape == (n,) and n != w.shape[0]:
                return (f"'{name}' has shape {g.shape}, one number per example: sum over the batch axis, to "
                        f"get one number per unit, shape {w.shape}.")
    return softmax_mlp_backward.default_compare(got, want, case)


softmax_mlp_backward = Exercise(
    "softmax_mlp_backward", solution=solutions.softmax_mlp_backward, reference=_mlp_reference,
    cases=_mlp_cases, output_names=MLP_OUTPUTS, mistakes=_MLP_MISTAKES, compare=_mlp_compare,
    hints=["Walk the forward lines backwards, one at a time: each forward line gets one or two backward "
           "lines, and each gradient has the shape of what it is the gradient of. Start at the logits: that "
           "is your cross_entropy_gradient.",
           "logits = h @ W2.T + b2 is a Linear layer: section 5 gives dW2, db2 and dh (the gradient sent back "
           "to the hidden layer). Shapes: dW2 (C, H) like W2, db2 (C,), dh (N, H) like h.",
           "h = relu(z1): dz1 is dh where z1 > 0, and 0 elsewhere. Then z1 = X @ W1.T + b1 is again a Linear "
           "layer: dW1 and db1 come the same way as dW2 and db2."])
