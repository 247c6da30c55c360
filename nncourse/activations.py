"""Activation functions and their derivatives, side by side (taught in notebooks 01 and 02).

Each activation is a tiny class with ``forward(x)`` (the function, elementwise) and
``grad(x)`` (its derivative f'(x), elementwise), written next to each other so a reader sees
both on one screen. ``get(name)`` returns one by name; ``names()`` lists them.

At points where a function has no derivative (ReLU and the step at 0) we return the value
PyTorch's autograd uses, so gradients match PyTorch exactly.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from .validation import as_array


class Activation:
    """An elementwise nonlinearity f with its derivative f'."""

    name = "activation"
    torch_name = ""  # class name in torch.nn

    def forward(self, x: np.ndarray) -> np.ndarray:
        """f(x), same shape and dtype as ``x``."""
        raise NotImplementedError

    def grad(self, x: np.ndarray) -> np.ndarray:
        """f'(x), same shape and dtype as ``x``."""
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(as_array(x, "x"))

    def to_torch(self):
        """The equivalent ``torch.nn`` module."""
        import torch.nn as nn

        return getattr(nn, self.torch_name)()

    def __repr__(self) -> str:
        return f"activations.get({self.name!r})"


class Identity(Activation):
    name, torch_name = "linear", "Identity"

    def forward(self, x):
        return x.copy()

    def grad(self, x):
        return np.ones_like(x)


class Step(Activation):
    """Heaviside step, the perceptron's activation: 1 where x > 0, else 0. Its derivative is 0
    almost everywhere, which is exactly why a step network cannot be trained by gradients."""

    name = "step"

    def forward(self, x):
        return (x > 0).astype(x.dtype)

    def grad(self, x):
        return np.zeros_like(x)

    def to_torch(self):
        import torch

        class Step(torch.nn.Module):
            def forward(self, x):
                # "+ 0 * x" keeps the result in autograd's graph, with the step's zero gradient.
                return (x > 0).to(x.dtype) + 0 * x

        return Step()


def sigmoid(x):
    """1 / (1 + e^-x), elementwise, for any x (e.g. +-800) without overflow; float dtype kept.

    Only e^-|x| is ever computed (it lies in (0, 1]): for x >= 0 that is 1 / (1 + e^-x), for
    x < 0 the same value written as e^x / (1 + e^x). Both forms keep full relative precision,
    also in the far tail (sigmoid(-30) is 9.4e-14, not 0), which is what torch.sigmoid returns.
    """
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))[()]  # [()]: a scalar in, a scalar out


class Sigmoid(Activation):
    name, torch_name = "sigmoid", "Sigmoid"

    def forward(self, x):
        return sigmoid(x)

    def grad(self, x):
        s = sigmoid(x)
        return s * (1 - s)


class Tanh(Activation):
    name, torch_name = "tanh", "Tanh"

    def forward(self, x):
        return np.tanh(x)

    def grad(self, x):
        return 1.0 - np.tanh(x) ** 2


class ReLU(Activation):
    name, torch_name = "relu", "ReLU"

    def forward(self, x):
        return np.maximum(x, 0)

    def grad(self, x):
        return (x > 0).astype(x.dtype)  # 0 at x == 0, as in PyTorch


class LeakyReLU(Activation):
    name, torch_name = "leaky_relu", "LeakyReLU"

    def __init__(self, negative_slope: float = 0.01):  # PyTorch's default slope
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return np.where(x > 0, x, self.negative_slope * x)

    def grad(self, x):
        return np.where(x > 0, 1.0, self.negative_slope).astype(x.dtype)

    def to_torch(self):
        import torch.nn as nn

        return nn.LeakyReLU(self.negative_slope)


class ELU(Activation):
    name, torch_name = "elu", "ELU"

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def forward(self, x):
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))

    def grad(self, x):
        return np.where(x > 0, 1.0, self.alpha * np.exp(np.minimum(x, 0))).astype(x.dtype)

    def to_torch(self):
        import torch.nn as nn

        return nn.ELU(self.alpha)


class GELU(Activation):
    """Exact GELU, x * Phi(x) with Phi the standard normal CDF (PyTorch's default, not the tanh
    approximation)."""

    name, torch_name = "gelu", "GELU"

    def forward(self, x):
        return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))

    def grad(self, x):
        # Python floats, not NumPy scalars, so float32 input stays float32.
        cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
        pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return cdf + x * pdf


class SiLU(Activation):
    """SiLU, also called swish: x * sigmoid(x)."""

    name, torch_name = "silu", "SiLU"

    def forward(self, x):
        return x * sigmoid(x)

    def grad(self, x):
        s = sigmoid(x)
        return s * (1 + x * (1 - s))


class Softplus(Activation):
    """log(1 + e^x), a smooth ReLU. Like PyTorch, returns x itself above x = 20, where the two
    differ by less than 1e-8."""

    name, torch_name = "softplus", "Softplus"
    threshold = 20.0

    def forward(self, x):
        return np.where(x > self.threshold, x, np.logaddexp(0, np.minimum(x, self.threshold)))

    def grad(self, x):
        return np.where(x > self.threshold, 1.0, sigmoid(x)).astype(x.dtype)


class Scaled(Activation):
    """``outer * base(inner * x) + shift``: a stretched or shifted copy of another activation.

    Its slope at 0 is ``outer * inner * base'(0)``. Notebook 02 uses copies of the sigmoid to tell
    apart what its slope of 1/4 and its mean of 1/2 do to a deep network; LeCun et al.'s
    *Efficient BackProp* (1998) recommends ``Scaled("tanh", outer=1.7159, inner=2/3)``.
    """

    def __init__(self, base, *, outer: float = 1.0, inner: float = 1.0, shift: float = 0.0, name: str = ""):
        self.base = get(base)
        for label, value in (("outer", outer), ("inner", inner), ("shift", shift)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{label} must be a finite number, got {value!r}")
        self.outer, self.inner, self.shift = float(outer), float(inner), float(shift)
        self.name = name or f"{self.outer:g}*{self.base.name}({self.inner:g}x){self.shift:+g}"

    def forward(self, x):
        return self.outer * self.base.forward(self.inner * x) + self.shift

    def grad(self, x):
        return self.outer * self.inner * self.base.grad(self.inner * x)  # chain rule

    def to_torch(self):
        import torch

        base, outer, inner, shift = self.base.to_torch(), self.outer, self.inner, self.shift

        class Scaled(torch.nn.Module):
            def forward(self, x):
                return outer * base(inner * x) + shift

        return Scaled()

    def __repr__(self) -> str:
        return (f"activations.Scaled({self.base.name!r}, outer={self.outer:g}, inner={self.inner:g}, "
                f"shift={self.shift:g})")


_REGISTRY = {
    cls.name: cls
    for cls in (Identity, Step, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU, SiLU, Softplus)
}
_ALIASES = {"swish": "silu", "identity": "linear", "heaviside": "step"}


def names() -> list[str]:
    """Names accepted by :func:`get`."""
    return list(_REGISTRY)


def get(name: str | Activation) -> Activation:
    """Return the activation called ``name`` (e.g. ``"relu"``); an Activation passes through."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a string, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _REGISTRY:
        raise ValueError(f"unknown activation {name!r}; known activations: {', '.join(names())}")
    return _REGISTRY[key]()


# --- what a distribution of inputs does to an activation (notebook 02, the Activation explorer) --------

SATURATION_THRESHOLD = 0.01  # |f'(x)| below this: the unit passes back < 1 % of the gradient


def input_statistics(activation, mean: float, spread: float, *, points: int = 4001,
                     threshold: float = SATURATION_THRESHOLD) -> dict[str, float]:
    """For inputs x ~ N(mean, spread^2): the fraction of units with |f'(x)| < threshold
    (saturated; for ReLU, inactive on that input) and the mean gradient E[f'(x)] passed back for an
    upstream gradient of 1. A ReLU unit is *dead* only when this fraction is 1.

    Both are integrals over the normal density, computed on a fine grid over mean +- 8 spread
    (accurate to about 1e-3, and without sampling noise).
    """
    if not spread > 0:
        raise ValueError(f"spread must be positive, got {spread!r}")
    z = _standard_grid(points)
    weights = np.exp(-0.5 * z * z)
    weights /= weights.sum()
    grad = get(activation).grad(mean + spread * z)
    return {"saturated": float(np.sum(weights * (np.abs(grad) < threshold))),
            "mean_grad": float(np.sum(weights * grad))}


_GRID_CACHE: dict[int, np.ndarray] = {}


def _standard_grid(points: int) -> np.ndarray:
    if points not in _GRID_CACHE:
        _GRID_CACHE[points] = np.linspace(-8.0, 8.0, points)
    return _GRID_CACHE[points]


def softmax(x, axis: int = -1) -> np.ndarray:
    """exp(x) / sum(exp(x)) along ``axis``, computed as exp(x - max) so large inputs do not
    overflow (notebook 02 shows the overflow without the subtraction)."""
    x = as_array(x, "x")
    with np.errstate(over="ignore"):  # max - (-huge) may round to -inf: exp(-inf) = 0 is right
        shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis: int = -1) -> np.ndarray:
    """log(softmax(x)) without ever taking the log of 0: x - max - log(sum(exp(x - max)))."""
    x = as_array(x, "x")
    with np.errstate(over="ignore"):  # max - (-huge) may round to -inf: exp(-inf) = 0 is right
        shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_backward(probs, dout, axis: int = -1) -> np.ndarray:
    """Gradient through softmax: given s = softmax(x) and dL/ds, return dL/dx.

    The Jacobian ds_i/dx_j = s_i (delta_ij - s_j) is never built; its product with dout is
    s * (dout - sum(dout * s)). Followed by cross-entropy this collapses to s - one_hot
    (notebook 03). probs, dout: same shape; returns that shape.
    """
    probs, dout = as_array(probs, "probs"), as_array(dout, "dout")
    if probs.shape != dout.shape:
        raise ValueError(f"dout must have the same shape as probs {probs.shape}, got {dout.shape}")
    return probs * (dout - np.sum(dout * probs, axis=axis, keepdims=True))
