"""Regularization layers from scratch: inverted Dropout and BatchNorm1d (notebook 05).

The maths lives in pure kernels (cs231n's pattern), which notebook 05 builds in cells and the
tests check against PyTorch's autograd:

* ``dropout_forward(x, keep, p) -> (out, cache)``, ``dropout_backward(dout, cache) -> dx``;
* ``batchnorm_forward(x, gamma, beta, eps) -> (out, cache)`` on x (N, D), statistics over the
  batch axis 0 (or given running statistics), ``batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)``.

The layers ``Dropout`` and ``BatchNorm1d`` are thin wrappers: checks, the random mask, the
running statistics, (N, C, L) inputs and dtypes. Both behave differently in training and in evaluation, so both follow ``layer.train()`` /
``layer.eval()`` (``Sequential.train()`` passes the mode on to every child), like their
PyTorch twins ``nn.Dropout`` and ``nn.BatchNorm1d``. Weight decay and early stopping are not
layers: they live in the optimizer (``nncourse.optim``) and the training loop
(``nncourse.training``).
"""
from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from .layers import Layer, _to_tensor, _torch_dtype, load_into_torch
from .validation import as_array, check_positive_int


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


@dataclass
class BatchNormCache:
    """What :func:`batchnorm_backward` needs from the forward pass."""

    x_hat: np.ndarray     # the normalised input, (N, D)
    inv_std: np.ndarray   # 1 / sqrt(var + eps), (D,)
    gamma: np.ndarray     # (D,)
    mean: np.ndarray      # the statistics x was normalised with, (D,) each
    var: np.ndarray
    batch_stats: bool     # True: mean and var came from this batch (training); False: given


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5,
                      mean: np.ndarray | None = None, var: np.ndarray | None = None):
    """Batch normalisation of x (N, D), feature by feature.

    Training (no ``mean``/``var`` given): mu = mean of x over the batch, var = its *biased*
    variance (divide by N); evaluation: the given running statistics. Then
    x_hat = (x - mu) / sqrt(var + eps) and out = gamma * x_hat + beta (gamma, beta: (D,)).
    Returns (out, cache); ``cache.mean`` and ``cache.var`` feed the layer's running averages.
    """
    batch_stats = mean is None
    if batch_stats:
        mean = x.mean(axis=0)                       # (D,)
        var = x.var(axis=0)                         # (D,), biased: 1/N
    inv_std = 1.0 / np.sqrt(var + eps)              # (D,)
    x_hat = (x - mean) * inv_std                    # (N, D)
    out = gamma * x_hat + beta                      # (N, D)
    return out, BatchNormCache(x_hat, inv_std, gamma, mean, var, batch_stats)


def batchnorm_backward(dout: np.ndarray, cache: BatchNormCache):
    """The gradients of batch normalisation, given dL/dout (N, D): returns (dx, dgamma, dbeta).

    dgamma and dbeta sum over the batch (every example used them). With batch statistics every
    x_i also moves the mean and the variance that normalise all the others, which adds two terms
    to the plain dx_hat / sigma (cs231n's compact form):

        dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)),  dx_hat = dout * gamma
    """
    x_hat, inv_std = cache.x_hat, cache.inv_std
    dgamma = (dout * x_hat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dx_hat = dout * cache.gamma
    if not cache.batch_stats:                       # fixed statistics: a per-feature affine map
        return dx_hat * inv_std, dgamma, dbeta
    dx = inv_std * (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0))
    return dx, dgamma, dbeta


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


class BatchNorm1d(Layer):
    r"""Batch normalisation (Ioffe & Szegedy 2015), PyTorch's ``nn.BatchNorm1d``.

    Training: each feature (channel) is normalised with the *batch* mean and (biased) variance,
    ``x_hat = (x - mean) / sqrt(var + eps)``, then scaled and shifted, ``y = weight * x_hat + bias``;
    the running statistics move towards the batch ones,
    ``running = (1 - momentum) * running + momentum * batch`` (the running variance uses the
    unbiased batch variance, as in PyTorch; ``momentum=None`` gives a plain cumulative average).
    Evaluation: the running statistics replace the batch ones, so one example's output does
    not depend on the others in its batch.

    forward: x (N, C) or (N, C, L) -> same shape; statistics over N (and L) per channel C.
    Parameters ``weight`` (C,) = 1 and ``bias`` (C,) = 0; buffers ``running_mean`` (C,) = 0,
    ``running_var`` (C,) = 1, ``num_batches_tracked``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, *, dtype=np.float64):
        super().__init__()
        self.num_features = check_positive_int(num_features, "num_features")
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1] or None (cumulative average), got {momentum!r}")
        self.eps, self.momentum, self.affine = float(eps), momentum, bool(affine)
        if self.affine:
            self.params["weight"] = np.ones(num_features, dtype=dtype)
            self.params["bias"] = np.zeros(num_features, dtype=dtype)
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)
        self.num_batches_tracked = 0

    def _check_input(self, x) -> np.ndarray:
        x = as_array(x, "x", ndim=(2, 3))
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d({self.num_features}) expects x of shape (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got {x.shape} (channel axis 1 has {x.shape[1]})")
        return x

    def forward(self, x):
        x = self._check_input(x)
        x2 = x if x.ndim == 2 else x.transpose(0, 2, 1).reshape(-1, self.num_features)  # (N*L, C)
        if self.training:
            if len(x2) < 2:
                raise ValueError(f"BatchNorm1d needs more than 1 value per channel in training mode to compute "
                                 f"a variance, got x of shape {x.shape}; use a larger batch or call .eval()")
            out2, cache = batchnorm_forward(x2, *self._affine(x.dtype), self.eps)
            self._update_running(cache.mean, cache.var, len(x2))
        else:
            out2, cache = batchnorm_forward(x2, *self._affine(x.dtype), self.eps,
                                               mean=self.running_mean.astype(x.dtype, copy=False),
                                               var=self.running_var.astype(x.dtype, copy=False))
        out = out2 if x.ndim == 2 else out2.reshape(x.shape[0], x.shape[2], -1).transpose(0, 2, 1)
        self._cache = {"kernel": cache, "out_shape": out.shape}
        return out

    def _affine(self, dtype):
        if not self.affine:
            return np.ones(self.num_features, dtype=dtype), np.zeros(self.num_features, dtype=dtype)
        return (self.params["weight"].astype(dtype, copy=False), self.params["bias"].astype(dtype, copy=False))

    def _update_running(self, mean, var, count):
        """running = (1 - momentum) running + momentum batch; the variance unbiased, as in PyTorch."""
        self.num_batches_tracked += 1
        momentum = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
        self.running_mean *= 1 - momentum
        self.running_mean += momentum * mean
        self.running_var *= 1 - momentum
        self.running_var += momentum * var * count / (count - 1)

    def backward(self, dout):
        saved = self._saved()
        cache: BatchNormCache = saved["kernel"]
        shape = saved["out_shape"]
        dout = self._check_dout(dout, shape).astype(cache.x_hat.dtype, copy=False)
        d2 = dout if dout.ndim == 2 else dout.transpose(0, 2, 1).reshape(-1, self.num_features)
        dx2, dgamma, dbeta = batchnorm_backward(d2, cache)
        if self.affine:
            self.grads["weight"] = dgamma.astype(self.params["weight"].dtype, copy=False)
            self.grads["bias"] = dbeta.astype(self.params["bias"].dtype, copy=False)
        return dx2 if dout.ndim == 2 else dx2.reshape(shape[0], shape[2], -1).transpose(0, 2, 1)

    def astype(self, dtype):
        super().astype(dtype)
        self.running_mean = self.running_mean.astype(dtype)
        self.running_var = self.running_var.astype(dtype)
        return self

    def to_torch(self):
        import torch
        import torch.nn as nn

        dtype = _torch_dtype(self.running_mean.dtype)
        module = nn.BatchNorm1d(self.num_features, eps=self.eps, momentum=self.momentum, affine=self.affine,
                                dtype=dtype)
        if self.affine:
            load_into_torch(module, self.params)
        with torch.no_grad():
            module.running_mean.copy_(_to_tensor(self.running_mean))
            module.running_var.copy_(_to_tensor(self.running_var))
            module.num_batches_tracked.fill_(self.num_batches_tracked)
        return module.train(self.training)

    def __repr__(self) -> str:
        return (f"BatchNorm1d({self.num_features}, eps={self.eps:g}, momentum={self.momentum}, "
                f"affine={self.affine})")
