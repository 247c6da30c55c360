"""Regularization layers from scratch: inverted Dropout and BatchNorm1d (notebook 05).

Both behave differently in training and in evaluation, so both follow ``layer.train()`` /
``layer.eval()`` (``Sequential.train()`` passes the mode on to every child), like their
PyTorch twins ``nn.Dropout`` and ``nn.BatchNorm1d``. Weight decay and early stopping are not
layers: they live in the optimizer (``nncourse.optim``) and the training loop
(``nncourse.training``).
"""
from __future__ import annotations

import numpy as np

from .layers import Layer, _to_tensor, _torch_dtype, load_into_torch
from .validation import as_array, check_positive_int


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
        # One array holds the mask and the 1/(1-p) scale: backward is a single multiply too.
        scale = keep.astype(x.dtype) / (1 - self.p) if self.p < 1 else np.zeros_like(x)
        self._cache = {"scale": scale, "shape": x.shape}
        return x * scale

    def backward(self, dout):
        cache = self._saved()
        dout = self._check_dout(dout, cache["shape"])
        return dout.copy() if cache["scale"] is None else dout * cache["scale"]

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
        axes = (0,) if x.ndim == 2 else (0, 2)             # every axis but the channel axis
        shape = (1, -1) if x.ndim == 2 else (1, -1, 1)     # (1, C) or (1, C, 1): broadcast per channel
        if self.training:
            count = x.size // self.num_features
            if count < 2:
                raise ValueError(f"BatchNorm1d needs more than 1 value per channel in training mode to compute "
                                 f"a variance, got x of shape {x.shape}; use a larger batch or call .eval()")
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)                          # biased: what the batch is normalised with
            self.num_batches_tracked += 1
            momentum = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
            unbiased = var * count / (count - 1)
            self.running_mean *= 1 - momentum
            self.running_mean += momentum * mean
            self.running_var *= 1 - momentum
            self.running_var += momentum * unbiased
        else:
            mean = self.running_mean.astype(x.dtype, copy=False)
            var = self.running_var.astype(x.dtype, copy=False)
        inv_std = 1.0 / np.sqrt(var + self.eps)             # (C,)
        x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)  # (C,) -> (1, C[, 1]) per channel
        out = x_hat
        if self.affine:
            weight = self.params["weight"].astype(x.dtype, copy=False)
            bias = self.params["bias"].astype(x.dtype, copy=False)
            out = x_hat * weight.reshape(shape) + bias.reshape(shape)  # (1, C[, 1]) each
        self._cache = {"x_hat": x_hat, "inv_std": inv_std, "axes": axes, "shape": shape,
                       "batch_stats": self.training, "out_shape": out.shape}
        return out

    def backward(self, dout):
        cache = self._saved()
        dout = self._check_dout(dout, cache["out_shape"]).astype(cache["x_hat"].dtype, copy=False)
        x_hat, inv_std, axes, shape = cache["x_hat"], cache["inv_std"], cache["axes"], cache["shape"]
        if self.affine:
            self.grads["weight"] = (dout * x_hat).sum(axis=axes).astype(self.params["weight"].dtype, copy=False)
            self.grads["bias"] = dout.sum(axis=axes).astype(self.params["bias"].dtype, copy=False)
            dx_hat = dout * self.params["weight"].astype(dout.dtype, copy=False).reshape(shape)  # (1, C[, 1])
        else:
            dx_hat = dout
        if not cache["batch_stats"]:
            return dx_hat * inv_std.reshape(shape)         # fixed statistics: a per-channel affine map
        # Batch statistics depend on every x, which adds two terms (cs231n's compact form):
        # dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))
        mean_dx_hat = dx_hat.mean(axis=axes, keepdims=True)
        mean_dx_hat_x_hat = (dx_hat * x_hat).mean(axis=axes, keepdims=True)
        return inv_std.reshape(shape) * (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat)  # (1, C[, 1]) * x's shape

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
