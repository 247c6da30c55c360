"""Batch normalisation from scratch, for feature vectors and for images (notebook 05; used by 06).

Batch norm (Ioffe & Szegedy 2015) normalises every channel with the mean and the variance of
the batch, then rescales it with a learned gain and shift. Notebook 05 builds it in cells and
shows what it is for: a deep network that does not train becomes trainable. Notebook 06 puts
it in the ResNet block, after each convolution.

One pair of pure kernels covers every layout, because a channel is always axis 1 and the
statistics are taken over *every other axis*, as PyTorch's ``BatchNorm1d``/``BatchNorm2d`` do:

* x (N, C): over the batch N (a fully connected layer's features);
* x (N, C, L): over N and the positions L (sequences);
* x (N, C, H, W): over N and every pixel H, W (a convolution's feature maps).

``batchnorm_forward(x, gamma, beta, eps) -> (out, cache)`` and
``batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)``. The layer :class:`BatchNorm` wraps
them on the course's layer protocol (``nncourse.layers``): checks, dtypes, the running
statistics, ``train()``/``eval()`` and ``to_torch()``. :class:`BatchNorm1d` and
:class:`BatchNorm2d` are the same layer restricted to PyTorch's layouts. Layer normalisation,
the per-example variant, is ``nncourse.transformer.LayerNorm`` (built in notebook 08).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layers import Layer, _to_tensor, _torch_dtype, load_into_torch
from .validation import as_array, check_positive_int


# -- the kernels: the maths, nothing else ---------------------------------------------------------
def channel_axes(ndim: int) -> tuple[int, ...]:
    """The axes batch norm averages over: all but the channel axis 1. (0,) for (N, C), (0, 2, 3) for images."""
    return (0, *range(2, ndim))


def per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """A (C,) vector shaped to broadcast along axis 1 of an ndim-D array: (1, C), (1, C, 1, 1), ..."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


@dataclass
class BatchNormCache:
    """What :func:`batchnorm_backward` needs from the forward pass."""

    x_hat: np.ndarray     # the normalised input, shaped like x: (N, C) or (N, C, H, W)
    inv_std: np.ndarray   # 1 / sqrt(var + eps), (C,)
    gamma: np.ndarray     # (C,)
    mean: np.ndarray      # the statistics x was normalised with, (C,) each
    var: np.ndarray
    batch_stats: bool     # True: mean and var came from this batch (training); False: given


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5,
                      mean: np.ndarray | None = None, var: np.ndarray | None = None):
    """Batch normalisation of x (N, C, ...), channel by channel.

    Training (no ``mean``/``var`` given): mu = the mean of x over every axis but 1, var = its
    *biased* variance (divide by the count); evaluation: the given running statistics (C,).
    Then x_hat = (x - mu) / sqrt(var + eps) and out = gamma * x_hat + beta (gamma, beta: (C,)).
    Returns (out, cache), out shaped like x; ``cache.mean`` and ``cache.var`` (C,) feed the
    layer's running averages.
    """
    axes = channel_axes(x.ndim)
    batch_stats = mean is None
    if batch_stats:
        mean = x.mean(axis=axes)                                    # (C,)
        var = x.var(axis=axes)                                      # (C,), biased: 1/count
    inv_std = 1.0 / np.sqrt(var + eps)                              # (C,)
    x_hat = (x - per_channel(mean, x.ndim)) * per_channel(inv_std, x.ndim)
    out = per_channel(gamma, x.ndim) * x_hat + per_channel(beta, x.ndim)
    return out, BatchNormCache(x_hat, inv_std, gamma, mean, var, batch_stats)


def batchnorm_backward(dout: np.ndarray, cache: BatchNormCache):
    """The gradients of batch normalisation, given dL/dout shaped like x: returns (dx, dgamma, dbeta).

    dgamma and dbeta (C,) sum over every axis but the channel (every value of the channel used
    them). With batch statistics every x_i also moves the mean and the variance that normalise
    all the others, which adds two terms to the plain dx_hat / sigma (means over the same axes):

        dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)),  dx_hat = dout * gamma
    """
    axes, ndim = channel_axes(dout.ndim), dout.ndim
    x_hat, inv_std = cache.x_hat, per_channel(cache.inv_std, ndim)
    dgamma = (dout * x_hat).sum(axis=axes)                          # (C,)
    dbeta = dout.sum(axis=axes)                                     # (C,)
    dx_hat = dout * per_channel(cache.gamma, ndim)
    if not cache.batch_stats:                                       # fixed statistics: an affine map
        return dx_hat * inv_std, dgamma, dbeta
    dx = inv_std * (dx_hat - dx_hat.mean(axis=axes, keepdims=True)
                    - x_hat * (dx_hat * x_hat).mean(axis=axes, keepdims=True))
    return dx, dgamma, dbeta


# -- the layer ------------------------------------------------------------------------------------
class BatchNorm(Layer):
    r"""Batch normalisation (Ioffe & Szegedy 2015) of x (N, C), (N, C, L) or (N, C, H, W).

    Training: each channel is normalised with the *batch* mean and (biased) variance over every
    axis but 1, ``x_hat = (x - mean) / sqrt(var + eps)``, then scaled and shifted,
    ``y = weight * x_hat + bias``; the running statistics move towards the batch ones,
    ``running = (1 - momentum) * running + momentum * batch`` (the running variance uses the
    unbiased batch variance, as in PyTorch; ``momentum=None`` gives a plain cumulative average).
    Evaluation: the running statistics replace the batch ones, so one example's output does not
    depend on the others in its batch.

    Parameters ``weight`` (C,) = 1 and ``bias`` (C,) = 0 (none with ``affine=False``); buffers
    ``running_mean`` (C,) = 0, ``running_var`` (C,) = 1, ``num_batches_tracked``.
    forward: same shape out as in.

    ``to_torch()`` gives ``nn.BatchNorm2d`` once the layer has seen a 4-D input and
    ``nn.BatchNorm1d`` otherwise (the two compute the same; PyTorch only checks the layout), with
    the same parameters, buffers and mode. Use :class:`BatchNorm2d` for a twin of image layout
    before any forward pass.
    """

    _ndims: tuple[int, ...] = (2, 3, 4)
    _layouts = "(N, {c}), (N, {c}, L) or (N, {c}, H, W)"

    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, dtype=np.float64):
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
        self.input_ndim: int | None = None   # the layout last seen; picks the PyTorch twin

    def _check_input(self, x) -> np.ndarray:
        x = as_array(x, "x", ndim=self._ndims)
        if x.shape[1] != self.num_features:
            layouts = self._layouts.format(c=self.num_features)
            raise ValueError(f"{type(self).__name__}({self.num_features}) expects x of shape {layouts}, got "
                             f"{x.shape} (channel axis 1 has {x.shape[1]})")
        return x

    def forward(self, x):
        x = self._check_input(x)
        count = x.size // self.num_features          # values per channel the statistics average
        gamma, beta = self._affine(x.dtype)
        if self.training:
            if count < 2:
                raise ValueError(f"{type(self).__name__} needs more than 1 value per channel in training mode "
                                 f"to compute a variance, got x of shape {x.shape}; use a larger batch or "
                                 "call .eval()")
            out, cache = batchnorm_forward(x, gamma, beta, self.eps)
            self._update_running(cache.mean, cache.var, count)
        else:
            out, cache = batchnorm_forward(x, gamma, beta, self.eps,
                                           mean=self.running_mean.astype(x.dtype, copy=False),
                                           var=self.running_var.astype(x.dtype, copy=False))
        self.input_ndim = x.ndim
        self._cache = {"kernel": cache, "out_shape": out.shape}
        return out

    def _affine(self, dtype):
        if not self.affine:
            return np.ones(self.num_features, dtype=dtype), np.zeros(self.num_features, dtype=dtype)
        return self.params["weight"].astype(dtype, copy=False), self.params["bias"].astype(dtype, copy=False)

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
        dout = self._check_dout(dout, saved["out_shape"]).astype(cache.x_hat.dtype, copy=False)
        dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        if self.affine:
            self.grads["weight"] = dgamma.astype(self.params["weight"].dtype, copy=False)
            self.grads["bias"] = dbeta.astype(self.params["bias"].dtype, copy=False)
        return dx

    def astype(self, dtype):
        super().astype(dtype)
        self.running_mean = self.running_mean.astype(dtype)
        self.running_var = self.running_var.astype(dtype)
        return self

    def _torch_class(self):
        import torch.nn as nn

        return nn.BatchNorm2d if self.input_ndim == 4 else nn.BatchNorm1d

    def to_torch(self):
        import torch

        module = self._torch_class()(self.num_features, eps=self.eps, momentum=self.momentum,
                                     affine=self.affine, dtype=_torch_dtype(self.running_mean.dtype))
        if self.affine:
            load_into_torch(module, self.params)
        with torch.no_grad():
            module.running_mean.copy_(_to_tensor(self.running_mean))
            module.running_var.copy_(_to_tensor(self.running_var))
            module.num_batches_tracked.fill_(self.num_batches_tracked)
        return module.train(self.training)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_features}, eps={self.eps:g}, momentum={self.momentum}, "
                f"affine={self.affine})")


class BatchNorm1d(BatchNorm):
    """:class:`BatchNorm` for x (N, C) or (N, C, L), PyTorch's ``nn.BatchNorm1d`` (its signature too)."""

    _ndims = (2, 3)
    _layouts = "(N, {c}) or (N, {c}, L)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, *, dtype=np.float64):
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine, dtype=dtype)

    def _torch_class(self):
        import torch.nn as nn

        return nn.BatchNorm1d


class BatchNorm2d(BatchNorm):
    """:class:`BatchNorm` for images x (N, C, H, W), PyTorch's ``nn.BatchNorm2d`` (its signature too).

    Each channel (feature map) gets one mean and one variance over the batch and every pixel.
    """

    _ndims = (4,)
    _layouts = "(N, {c}, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, *, dtype=np.float64):
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine, dtype=dtype)

    def _torch_class(self):
        import torch.nn as nn

        return nn.BatchNorm2d
