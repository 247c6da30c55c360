"""Exercises of notebook 10 (transfer learning and self-supervision).

* ``nearest_mean_classify`` (warm-up): few-shot classification by the nearest class mean; the
  notebook then classifies the pretrained embeddings with it.
* ``probe_loss_and_grad`` (substantial): the loss and gradients of the linear probe (softmax
  regression with an L2 penalty); the label-budget experiment then fits every probe with it.

Expected answers come from the package (``nncourse.transfer``, tested against scikit-learn);
the answers a teacher can show are in ``nncourse.exercises.solutions.transfer``.
"""
from __future__ import annotations

import numpy as np

from .. import transfer
from . import Exercise
from .solutions import transfer as solutions

# --- warm-up: nearest class mean ------------------------------------------------------------------


def _ncm_cases():
    rng = np.random.default_rng(2017)  # Snell, Swersky & Zemel, "Prototypical Networks"
    cases = []
    for classes, k, d, m in (((5, 6, 7, 8, 9), 3, 4, 12), ((2, 0, 1), 1, 2, 6), ((10, 20), 5, 3, 8)):
        centres = rng.normal(0, 3, (len(classes), d))
        labels = np.repeat(classes, k)
        features = np.repeat(centres, k, axis=0) + rng.normal(size=(len(labels), d))
        cases.append((features, labels, rng.normal(0, 3, (m, d))))
    return cases


def _positions_not_labels(train_features, train_labels, test_features):
    classes = np.unique(train_labels)
    means = np.stack([train_features[train_labels == c].mean(axis=0) for c in classes])
    return ((test_features[:, None] - means[None]) ** 2).sum(-1).argmin(axis=1)


def _nearest_neighbour(train_features, train_labels, test_features):
    return train_labels[((test_features[:, None] - train_features[None]) ** 2).sum(-1).argmin(axis=1)]


def _farthest(train_features, train_labels, test_features):
    classes = np.unique(train_labels)
    means = np.stack([train_features[train_labels == c].mean(axis=0) for c in classes])
    return classes[((test_features[:, None] - means[None]) ** 2).sum(-1).argmax(axis=1)]


def _ncm_compare(got, want, case):
    got = np.asarray(got)
    if got.shape != want.shape:
        return f"return one label per test row, shape {want.shape}; yours has shape {got.shape}."
    for wrong, message in _NCM_MISTAKES:
        if np.array_equal(got, wrong(*case)) and not np.array_equal(got, want):
            return message
    if not np.array_equal(got, want):
        i = int(np.flatnonzero(got != want)[0])
        return f"test row {i}: you predict {got[i]}, the nearest class mean is that of class {want[i]}."
    return None


_NCM_MISTAKES = [
    (_positions_not_labels, "you return the position of the nearest mean (0, 1, ...), not its label: "
                            "the classes here are not 0..C-1."),
    (_nearest_neighbour, "you return the label of the nearest single example (nearest neighbour), "
                         "not of the nearest class *mean*."),
    (_farthest, "you picked the farthest class mean, not the nearest."),
]

nearest_mean_classify = Exercise(
    "nearest_mean_classify", solution=solutions.nearest_mean_classify,
    reference=lambda f, y, q: transfer.nearest_class_mean(f, y, q), cases=_ncm_cases, compare=_ncm_compare,
    hints=["For each class c in np.unique(train_labels): the mean of the rows of train_features with that label.",
           "Distances from every test row to every mean: broadcast (M, 1, D) against (1, C, D) and sum the "
           "squares over the last axis, giving (M, C).",
           "classes[distances.argmin(axis=1)]: the argmin is a position among the classes; return the label."])


# --- substantial: the linear probe's loss and gradient -----------------------------------------------

def _probe_cases():
    rng = np.random.default_rng(2014)  # Donahue et al. (DeCAF) and Yosinski et al.: features that transfer
    cases = []
    for n, d, c, l2, scale in ((12, 5, 3, 0.1, 1.0), (7, 3, 4, 0.0, 1.0), (20, 6, 5, 0.5, 200.0), (4, 2, 2, 1e-2, 1.0)):
        X = rng.normal(size=(n, d))
        y = np.concatenate([np.arange(c), rng.integers(0, c, n - c)])   # every class present
        cases.append((rng.normal(0, scale, (d, c)), rng.normal(size=c), X, y, l2))
    return cases


def _grads_without_mean(W, b, X, y, l2):
    loss, dW, db = transfer.probe_loss_and_grad(W, b, X, y, l2)
    return loss, (dW - l2 * W) * len(X) + l2 * W, db * len(X)


def _no_penalty_in_grad(W, b, X, y, l2):
    loss, dW, db = transfer.probe_loss_and_grad(W, b, X, y, l2)
    return loss, dW - l2 * W, db


def _penalty_without_half(W, b, X, y, l2):
    loss, dW, db = transfer.probe_loss_and_grad(W, b, X, y, l2)
    return loss + 0.5 * l2 * np.sum(W * W), dW + l2 * W, db


def _penalised_bias(W, b, X, y, l2):
    loss, dW, db = transfer.probe_loss_and_grad(W, b, X, y, l2)
    return loss + 0.5 * l2 * np.sum(b * b), dW, db + l2 * b


def _softmax_without_onehot(W, b, X, y, l2):
    loss, _, _ = transfer.probe_loss_and_grad(W, b, X, y, l2)
    logits = X @ W + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return loss, X.T @ p / len(X) + l2 * W, p.sum(0) / len(X)


def _describe_probe(case):
    W, b, X, y, l2 = case
    return f"W {W.shape}, b {b.shape}, X {X.shape}, y {y.shape} with classes 0..{W.shape[1] - 1}, l2 = {l2}"


probe_loss_and_grad = Exercise(
    "probe_loss_and_grad", solution=solutions.probe_loss_and_grad,
    reference=lambda W, b, X, y, l2: transfer.probe_loss_and_grad(W, b, X, y, l2),
    cases=_probe_cases, describe=_describe_probe, output_names=("loss", "dW", "db"), atol=1e-9,
    hints=["Three steps, like every layer: logits = X @ W + b (N, C); the softmax probabilities p of each row; "
           "the loss = mean over rows of -log p[row, correct class], plus l2/2 * sum(W**2).",
           "Case 3 has large weights: subtract each row's largest logit before np.exp (it changes nothing "
           "else), or the exponentials overflow; and take the log of the softmax as logits - log(sum(exp)), "
           "since a probability can underflow to 0.",
           "The gradient of the mean cross-entropy with respect to the logits is (p - one_hot(y)) / N. "
           "Then dW = X.T @ dlogits and db = dlogits summed over the rows.",
           "Add the penalty's gradient to dW only: l2 * W (the derivative of l2/2 * sum(W**2)); the bias "
           "is not penalised."],
    mistakes=[(_grads_without_mean, "your gradients are N times too large: the loss is the *mean* over the "
                                    "N rows, so divide by N."),
              (_no_penalty_in_grad, "your loss has the penalty but dW misses its gradient, l2 * W."),
              (_penalty_without_half, "the penalty is l2/2 * sum(W**2): yours is twice that (its gradient is "
                                      "l2 * W)."),
              (_penalised_bias, "only W is penalised, not the bias b."),
              (_softmax_without_onehot, "your dlogits is the softmax alone: subtract 1 at each row's correct "
                                        "class (the gradient of -log p_y).")])
