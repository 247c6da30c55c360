"""Residual connections from scratch: y = x + f(x) (notebook 05; the ResNet block of 06 builds on it).

He et al. (2016) found that adding layers to a plain network can make its *training* error
worse (the degradation problem), and that letting each block learn only a correction to its
input, ``y = x + f(x)``, removes it. The backward pass shows why: the identity adds ``dout``
itself to whatever the branch sends back,

    dx = dout + f.backward(dout)       (the Jacobian is I + df/dx, not df/dx alone)

so a gradient reaching the top of a stack of blocks reaches the bottom through the identity
paths, instead of through a product of many Jacobians that shrinks or grows exponentially with
depth (notebook 02's vanishing signal; the LSTM's additive cell state in 07 is the same idea
through time).

:class:`Residual` wraps any layer whose output has its input's shape; :func:`residual_mlp` and
:func:`plain_mlp` build the two networks notebook 05 compares. Their PyTorch twins are in
``nncourse.at_scale.generalization``.
"""
from __future__ import annotations

import numpy as np

from .layers import Container, Layer, Linear, ReLU, Sequential
from .normalization import BatchNorm1d
from .validation import as_array, check_positive_int


class Residual(Container):
    """y = x + inner(x) for any layer ``inner`` that keeps the shape of its input.

    forward: x (...) -> (...), the same shape. backward: ``dx = dout + inner.backward(dout)``.
    The parameters are the inner layer's, named ``"inner.<name>"`` as in the PyTorch twin
    ``nncourse.at_scale.generalization.Residual``.
    """

    def __init__(self, inner: Layer):
        super().__init__()
        if not isinstance(inner, Layer):
            raise TypeError(f"Residual wraps a Layer, got {type(inner).__name__}")
        self.inner = inner

    def forward(self, x):
        x = as_array(x, "x")
        fx = self.inner.forward(x)
        if fx.shape != x.shape:
            raise ValueError(f"Residual: the inner layer must keep the shape of its input to be added to it, "
                             f"got {x.shape} in and {fx.shape} out")
        self._cache = {"shape": x.shape}
        return x + fx

    def backward(self, dout):
        shape = self._saved()["shape"]
        dout = self._check_dout(dout, shape)
        return dout + self.inner.backward(dout)   # the identity path adds dout itself

    def to_torch(self):
        from .at_scale.generalization import Residual as TorchResidual

        return TorchResidual(self.inner.to_torch()).train(self.training)

    def __repr__(self) -> str:
        inner = repr(self.inner).replace("\n", "\n  ")
        return f"Residual(\n  (inner): {inner}\n)"


def residual_branch(width: int, *, batch_norm: bool = True, seed: int = 0, dtype=np.float64) -> Sequential:
    """The branch f of one block: Linear -> [BatchNorm] -> ReLU -> Linear -> [BatchNorm], (N, width) -> (N, width)."""
    width = check_positive_int(width, "width")
    layers: list[Layer] = [Linear(width, width, seed=seed, dtype=dtype)]
    if batch_norm:
        layers.append(BatchNorm1d(width, dtype=dtype))
    layers += [ReLU(), Linear(width, width, seed=seed + 1, dtype=dtype)]
    if batch_norm:
        layers.append(BatchNorm1d(width, dtype=dtype))
    return Sequential(*layers)


def _check_depth(depth) -> int:
    depth = check_positive_int(depth, "depth")
    if depth < 2 or depth % 2:
        raise ValueError(f"depth counts the linear layers before the output layer and must be an even number "
                         f">= 2 (an input layer plus blocks of two), got {depth}")
    return depth


def _mlp(in_features, width, depth, out_features, residual, batch_norm, seed, dtype):
    depth = _check_depth(depth)
    layers: list[Layer] = [Linear(in_features, width, seed=seed, dtype=dtype), ReLU()]
    for block in range((depth - 2) // 2):
        branch = residual_branch(width, batch_norm=batch_norm, seed=seed + 1 + 2 * block, dtype=dtype)
        layers += [Residual(branch) if residual else branch, ReLU()]
    layers.append(Linear(width, out_features, seed=seed + depth, dtype=dtype))
    return Sequential(*layers)


def plain_mlp(in_features: int, width: int, depth: int, out_features: int, *, batch_norm: bool = True,
              seed: int = 0, dtype=np.float64) -> Sequential:
    """Linear -> ReLU, then (depth - 2) / 2 branches without skips, then the output Linear.

    ``depth`` counts the hidden linear layers (even, >= 2); the output layer comes on top. The
    same layers as :func:`residual_mlp` with the same seeds, so the two differ only by the skips.
    """
    return _mlp(in_features, width, depth, out_features, False, batch_norm, seed, dtype)


def residual_mlp(in_features: int, width: int, depth: int, out_features: int, *, batch_norm: bool = True,
                 seed: int = 0, dtype=np.float64) -> Sequential:
    """Like :func:`plain_mlp`, but each branch f is a :class:`Residual` block, x -> ReLU(x + f(x))
    (the original ResNet block of He et al. 2016, with linear layers for convolutions)."""
    return _mlp(in_features, width, depth, out_features, True, batch_norm, seed, dtype)
