"""Loss functions, each returning ``(loss, dpred)``: the value and its gradient (notebook 03).

Every loss averages over the batch (PyTorch's ``reduction="mean"``) and matches
``torch.nn.functional`` in value and gradient; the tests check both.
"""
from __future__ import annotations

import numpy as np

from .activations import log_softmax, sigmoid, softmax
from .validation import as_array, check_same_shape


def mse(pred, target) -> tuple[float, np.ndarray]:
    """Mean squared error, mean over every element. pred, target: same shape (...)."""
    pred = as_array(pred, "pred")
    target = as_array(target, "target").astype(pred.dtype, copy=False)
    check_same_shape(pred, target, "pred", "target")
    diff = pred - target
    return float(np.mean(diff**2)), 2.0 * diff / diff.size


def binary_cross_entropy(prob, target) -> tuple[float, np.ndarray]:
    """-mean(t log p + (1 - t) log(1 - p)) for probabilities ``prob`` in [0, 1] (same shape as target).

    Like ``F.binary_cross_entropy``, each log is clamped at -100 so p = 0 or 1 gives a large
    finite loss instead of inf. Prefer :func:`binary_cross_entropy_with_logits` when you have
    logits: it is exact where this one saturates.
    """
    prob = as_array(prob, "prob")
    target = as_array(target, "target").astype(prob.dtype, copy=False)
    check_same_shape(prob, target, "prob", "target")
    if np.any((prob < 0) | (prob > 1)):
        raise ValueError(f"prob must lie in [0, 1], got values in [{prob.min():g}, {prob.max():g}]; "
                         "pass logits to binary_cross_entropy_with_logits instead")
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(prob), -100.0)
        log_1mp = np.maximum(np.log1p(-prob), -100.0)
    loss = -np.mean(target * log_p + (1 - target) * log_1mp)
    dprob = (prob - target) / np.maximum(prob * (1 - prob), 1e-12) / prob.size
    return float(loss), dprob


def binary_cross_entropy_with_logits(logits, target) -> tuple[float, np.ndarray]:
    """Binary cross-entropy on logits z (p = sigmoid(z)): mean(softplus(z) - t z); gradient (p - t)/n."""
    logits = as_array(logits, "logits")
    target = as_array(target, "target").astype(logits.dtype, copy=False)
    check_same_shape(logits, target, "logits", "target")
    loss = np.mean(np.logaddexp(0, logits) - target * logits)
    return float(loss), (sigmoid(logits) - target) / logits.size


def cross_entropy(logits, targets) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy for integer class targets.

    logits: (N, C) unnormalised scores; targets: (N,) integers in [0, C). Returns the mean of
    -log softmax(logits)[target] and its gradient (softmax - one_hot) / N, shape (N, C).
    """
    logits = as_array(logits, "logits", ndim=2)
    targets = np.asarray(targets)
    if targets.ndim != 1 or targets.shape[0] != logits.shape[0]:
        raise ValueError(f"targets must be 1-D with one class index per row of logits {logits.shape}, "
                         f"got shape {targets.shape}")
    if not np.issubdtype(targets.dtype, np.integer):
        if np.issubdtype(targets.dtype, np.floating) and np.all(targets == np.round(targets)):
            targets = targets.astype(np.int64)
        else:
            raise TypeError(f"targets must be integer class indices, got dtype {targets.dtype}")
    n, c = logits.shape
    if n and (targets.min() < 0 or targets.max() >= c):
        raise ValueError(f"targets must be class indices in [0, {c - 1}] for {c} classes, "
                         f"got values in [{targets.min()}, {targets.max()}]")
    rows = np.arange(n)
    loss = -np.mean(log_softmax(logits)[rows, targets])
    dlogits = softmax(logits)
    dlogits[rows, targets] -= 1.0
    return float(loss), dlogits / n
