"""Regularization layers from scratch: inverted Dropout and BatchNorm1d (notebook 05).

The maths lives in pure kernels (cs231n's pattern), which notebook 05 builds in cells and the
tests check against PyTorch's autograd:

* ``dropout_forward(x, keep, p) -> (out, cache)``, ``dropout_backward(dout, cache) -> dx``;
* ``batchnorm_forward(x, gamma, beta, eps) -> (out, cache)`` on x (N, D), statistics over the
  batch axis 0 (or given running statistics), ``batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)``
  (defined in ``nncourse.normalization``, which also handles (N, C, H, W) images).

The layers ``Dropout`` and ``BatchNorm1d`` are thin wrappers: checks, the random mask, the
running statistics, (N, C, L) inputs and dtypes. Both behave differently in training and in evaluation, so both follow ``layer.train()`` /
``layer.eval()`` (``Sequential.train()`` passes the mode on to every child), like their
PyTorch twins ``nn.Dropout`` and ``nn.BatchNorm1d``. Weight decay and early stopping are not
layers: they live in the optimizer (``nncourse.optim``) and the training loop
(``nncourse.training``). ``random_relu_features`` and ``min_norm_least_squares`` are the
random-features model of the double-descent section.
"""
from __future__ import annotations

import numpy as np

from .layers import Layer
# Batch norm lives in nncourse.normalization (images too, for notebook 06); its 1-D names stay here.
from .normalization import BatchNorm1d, BatchNormCache, batchnorm_backward, batchnorm_forward
from .validation import as_array

__all__ = ["Dropout", "dropout_forward", "dropout_backward",
           "BatchNorm1d", "BatchNormCache", "batchnorm_forward", "batchnorm_backward",
           "random_relu_features", "min_norm_least_squares"]


# -- the kernels: the maths, nothing else ---------------------------------------------------------
def dropout_forward(x: np.ndarray, keep: np.ndarray, p: float):
    """Inverted dropout in training mode: out = x * keep / (1 - p).

    keep: 1 where a unit is kept, 0 where it is dropped (shape of x); p: the drop probability.
    Dividing the kept units by the keep probability 1 - p keeps E[out] = x, so evaluation is the
    identity. Returns (out, cache); the cache is the scale keep / (1 - p).
    """
    scale = keep / (1 - p) if p < 1 else np.zeros_like(x)   # p = 1 drops everything
    return x * scale, scale


def dropout_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dx = dout * keep / (1 - p): out is x times a constant per element, so is the gradient."""
    return dout * cache


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014), PyTorch's ``nn.Dropout(p)``.

    Training: each element is zeroed with probability ``p`` and the survivors are scaled by
    ``1 / (1 - p)``, so the expected output equals the input and evaluation needs no rescaling.
    Evaluation: the identity. No parameters. forward: x (...) -> (...), same shape.

    Masks are drawn from the layer's own generator (``seed=``), so NumPy cannot reproduce the
    random draws of PyTorch. To compare the two exactly, set ``fixed_mask`` (a boolean "keep"
    array shaped like x): every training forward then uses it instead of drawing one - the
    tests read the mask off ``nn.Dropout``'s output and hand it over this way, and gradient
    checks use it to make the layer deterministic.
    """

    def __init__(self, p: float = 0.5, *, seed: int = 0):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability p must be a number in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(seed)
        self.fixed_mask: np.ndarray | None = None

    def forward(self, x):
        x = as_array(x, "x")
        if not self.training or self.p == 0:
            self._cache = {"scale": None, "shape": x.shape}
            return x.copy()
        if self.fixed_mask is not None:
            keep = np.asarray(self.fixed_mask, dtype=bool)
            if keep.shape != x.shape:
                raise ValueError(f"Dropout.fixed_mask must have the shape of x {x.shape}, got {keep.shape}")
        else:
            keep = self.rng.random(x.shape) >= self.p
        out, scale = dropout_forward(x, keep.astype(x.dtype), self.p)
        self._cache = {"scale": scale, "shape": x.shape}
        return out

    def backward(self, dout):
        cache = self._saved()
        dout = self._check_dout(dout, cache["shape"])
        return dout.copy() if cache["scale"] is None else dropout_backward(dout, cache["scale"])

    def to_torch(self):
        import torch.nn as nn

        return nn.Dropout(self.p).train(self.training)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


# -- double descent: a random-features model and its smallest-norm fit (notebook 05, section 7) ---
def random_relu_features(X, projection) -> np.ndarray:
    """phi(X) = max(X @ projection, 0): fixed random ReLU features.

    X (N, D), projection (D, P) -> (N, P). Only a linear readout on top of them is fitted, so the
    number of features P is the model's size (Rahimi & Recht 2007; the double-descent experiments
    of Belkin et al. 2019).
    """
    X = as_array(X, "X", ndim=2)
    projection = as_array(projection, "projection", ndim=2)
    if projection.shape[0] != X.shape[1]:
        raise ValueError(f"projection must have X's {X.shape[1]} features as rows, got shape {projection.shape}")
    return np.maximum(X @ projection, 0.0)


def min_norm_least_squares(features, targets) -> np.ndarray:
    """The readout B minimising ||features @ B - targets||^2, and among all minimisers the one of
    smallest norm: B = pinv(features) @ targets.

    features (N, P), targets (N, K) or (N,) -> B (P, K) or (P,). With P < N it is ordinary least
    squares; with P >= N many readouts fit the training set exactly and the pseudo-inverse picks the
    smallest - an implicit regulariser, the reason the test error descends again past P = N.
    """
    features = as_array(features, "features", ndim=2)
    targets = as_array(targets, "targets", ndim=(1, 2))
    if len(targets) != len(features):
        raise ValueError(f"features and targets must have the same number of rows, got {len(features)} and {len(targets)}")
    return np.linalg.pinv(features) @ targets
