"""Robustness from scratch (notebook 15): adversarial examples, corrupted inputs, calibration, OOD scores.

Everything works on the course's NumPy networks (``nncourse.mlp``, any ``Sequential`` whose last
layer gives logits) and on flat images ``X`` of shape (N, H*W) with pixel values in [0, 1]:

* :func:`input_gradient` - dL/dx from the network's *own* backward pass (the same backward that
  trains it, run one step further, to the input);
* :func:`fgsm` (Goodfellow et al. 2014) and :func:`pgd` (Madry et al. 2018): attacks under an L∞
  budget ε; :func:`project_linf` keeps an image in the ε-ball around the original *and* in the
  valid pixel range;
* :func:`corrupt`: Gaussian noise, blur, rotation and shift at severities 0-5 (in the spirit of
  MNIST-C and ImageNet-C);
* :func:`expected_calibration_error` (ECE) and the max-softmax score (Hendrycks & Gimpel 2017)
  with :func:`roc_curve` / :func:`roc_auc` to judge it as a detector.

The PyTorch twins of the attacks are in :mod:`nncourse.at_scale.robustness`.
"""
from __future__ import annotations

import numpy as np

from . import losses
from .activations import softmax

CORRUPTIONS = ("noise", "blur", "rotate", "shift")
# The parameter of each corruption at severities 1..5 (severity 0 is the clean image):
# noise: std of Gaussian pixel noise; blur: std of a Gaussian blur; rotate: degrees; shift: down
# and right, zeros shifted in. Blur and shift are in pixels of an 8x8 digit and scale with the
# image (x 3.5 for MNIST's 28x28), so a severity means the same on both.
SEVERITIES = {
    "noise": (0.1, 0.2, 0.3, 0.45, 0.6),
    "blur": (0.4, 0.6, 0.8, 1.0, 1.3),
    "rotate": (10, 20, 30, 45, 60),
    "shift": (0.5, 1.0, 1.5, 2.0, 2.5),
}


# --------------------------------------------------------------------------------------------
# Adversarial examples
# --------------------------------------------------------------------------------------------
def _check_attack(x, y, eps, clip):
    x = np.asarray(x)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"x must be a float array of flat images (N, features), got shape {x.shape} "
                         f"and dtype {x.dtype}")
    y = np.asarray(y)
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must hold one label per image, shape ({x.shape[0]},), got {y.shape}")
    if not (np.isscalar(eps) and np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a non-negative number (the L∞ budget), got {eps!r}")
    low, high = clip
    if not low < high:
        raise ValueError(f"clip must be (low, high) with low < high, got {clip!r}")
    return x, y


def input_gradient(model, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean cross-entropy of ``model`` on (x, y) and its gradient with respect to the input.

    x (N, D), y (N,) integer labels -> (loss, dL/dx of shape (N, D)). The model's backward fills
    its parameter gradients too (they are simply not used here).
    """
    logits = model.forward(x)
    loss, dlogits = losses.cross_entropy(logits, y)
    return loss, model.backward(dlogits)


def project_linf(x_adv: np.ndarray, x: np.ndarray, eps: float, clip=(0.0, 1.0)) -> np.ndarray:
    """The nearest image to ``x_adv`` that is within ``eps`` of ``x`` in every pixel (the L∞ ball)
    and inside the valid range ``clip``. Shapes are kept."""
    return np.clip(x + np.clip(x_adv - x, -eps, eps), *clip)


def fgsm(model, x: np.ndarray, y: np.ndarray, eps: float, *, clip=(0.0, 1.0)) -> np.ndarray:
    """Fast gradient sign method: one step of size ``eps`` along sign(dL/dx), clipped to the valid range.

    x (N, D) in the range ``clip``, y (N,) -> x_adv (N, D), |x_adv - x| <= eps everywhere.
    """
    x, y = _check_attack(x, y, eps, clip)
    _, grad = input_gradient(model, x, y)
    return np.clip(x + eps * np.sign(grad), *clip)


def pgd(model, x: np.ndarray, y: np.ndarray, eps: float, *, steps: int = 10, step_size: float | None = None,
        random_start: bool = False, seed: int = 0, clip=(0.0, 1.0)) -> np.ndarray:
    """Projected gradient descent (on -loss): ``steps`` signed-gradient steps of ``step_size``
    (default 2.5 ε / steps, Madry et al.'s choice), each projected back into the ε-ball and the
    valid range. ``random_start`` begins at a uniform random point of the ball (seeded).

    x (N, D), y (N,) -> x_adv (N, D).
    """
    x, y = _check_attack(x, y, eps, clip)
    if not (isinstance(steps, (int, np.integer)) and steps >= 1):
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    step_size = 2.5 * eps / steps if step_size is None else step_size
    x_adv = x.copy()
    if random_start:
        x_adv = project_linf(x + np.random.default_rng(seed).uniform(-eps, eps, x.shape).astype(x.dtype), x, eps, clip)
    for _ in range(steps):
        _, grad = input_gradient(model, x_adv, y)
        x_adv = project_linf(x_adv + step_size * np.sign(grad), x, eps, clip)
    return x_adv


def predict_proba(model, x: np.ndarray) -> np.ndarray:
    """Softmax of the model's logits: (N, D) -> (N, C)."""
    return softmax(model.forward(x))


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of the images ``model`` classifies correctly."""
    return float(np.mean(model.forward(x).argmax(axis=1) == np.asarray(y)))


# --------------------------------------------------------------------------------------------
# Distribution shift: corruptions
# --------------------------------------------------------------------------------------------
def corrupt(X: np.ndarray, image_shape: tuple[int, int], kind: str, severity: int, *, seed: int = 0) -> np.ndarray:
    """``X`` (N, H*W) in [0, 1] corrupted by ``kind`` (one of CORRUPTIONS) at ``severity`` 0-5.

    Returns (N, H*W) in [0, 1], same dtype; severity 0 returns a copy of X. Blur and shift scale
    with the image height (SEVERITIES are for 8x8). Rotation and shift are
    done with ``scipy.ndimage`` (bilinear, zeros outside the image); the noise is seeded.
    """
    from scipy import ndimage

    if kind not in CORRUPTIONS:
        raise ValueError(f"kind must be one of {CORRUPTIONS}, got {kind!r}")
    if severity not in range(6):
        raise ValueError(f"severity must be an integer 0..5, got {severity!r}")
    X = np.asarray(X)
    h, w = image_shape
    if X.ndim != 2 or X.shape[1] != h * w:
        raise ValueError(f"X must be flat images (N, {h * w}) for image_shape {image_shape}, got {X.shape}")
    if severity == 0:
        return X.copy()
    level = SEVERITIES[kind][severity - 1]
    if kind in ("blur", "shift"):
        level *= h / 8
    images = X.reshape(-1, h, w).astype(np.float64)
    if kind == "noise":
        out = images + np.random.default_rng(seed).normal(0.0, level, images.shape)
    elif kind == "blur":
        out = ndimage.gaussian_filter(images, sigma=(0, level, level), mode="constant")
    elif kind == "rotate":
        out = ndimage.rotate(images, level, axes=(1, 2), reshape=False, order=1, mode="constant")
    else:
        out = ndimage.shift(images, (0, level, level), order=1, mode="constant")
    return np.clip(out, 0.0, 1.0).reshape(X.shape).astype(X.dtype)


# --------------------------------------------------------------------------------------------
# Calibration and out-of-distribution scores
# --------------------------------------------------------------------------------------------
def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """ECE (Guo et al. 2017): bin the predictions by confidence (max probability) into ``n_bins``
    equal-width bins of (0, 1]; ECE = sum over bins of (bin size / N) * |accuracy - mean confidence|.

    probs (N, C) rows summing to 1, y (N,) -> a number in [0, 1].
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y)
    if probs.ndim != 2 or y.shape != (probs.shape[0],):
        raise ValueError(f"probs must be (N, C) and y (N,), got {probs.shape} and {y.shape}")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("each row of probs must sum to 1 (pass softmax probabilities, not logits)")
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)   # (0, 1/n] -> bin 0
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def max_softmax_score(probs: np.ndarray) -> np.ndarray:
    """The baseline OOD score of Hendrycks & Gimpel (2017): the largest class probability, (N, C) -> (N,).
    High means "looks in-distribution"."""
    return np.asarray(probs).max(axis=1)


def roc_curve(positive_scores: np.ndarray, negative_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates of "score >= t" over every threshold t, from (0, 0) to (1, 1).

    positive_scores (P,), negative_scores (Q,) -> fpr, tpr (each (K,), non-decreasing).
    """
    pos, neg = np.asarray(positive_scores, float).ravel(), np.asarray(negative_scores, float).ravel()
    if not len(pos) or not len(neg):
        raise ValueError(f"need at least one positive and one negative score, got {len(pos)} and {len(neg)}")
    thresholds = np.unique(np.concatenate([pos, neg]))[::-1]          # high to low
    tpr = np.array([0.0] + [np.mean(pos >= t) for t in thresholds])
    fpr = np.array([0.0] + [np.mean(neg >= t) for t in thresholds])
    return fpr, tpr


def roc_auc(positive_scores: np.ndarray, negative_scores: np.ndarray) -> float:
    """Area under the ROC curve = the probability that a random positive scores higher than a random
    negative (ties count one half): 0.5 is chance, 1 a perfect separation."""
    pos, neg = np.asarray(positive_scores, float).ravel(), np.asarray(negative_scores, float).ravel()
    if not len(pos) or not len(neg):
        raise ValueError(f"need at least one positive and one negative score, got {len(pos)} and {len(neg)}")
    # Mann-Whitney U from ranks (average ranks for ties): O((P + Q) log(P + Q)).
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg]))
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))
