"""Deep networks that train, at scale in PyTorch (notebook 05, sections on depth).

The PyTorch side of :mod:`nncourse.residual` and :mod:`nncourse.normalization`:

* :class:`Residual` - ``y = x + inner(x)``, the twin of ``nncourse.residual.Residual``;
* :func:`plain_mlp` / :func:`residual_mlp` - the two networks of the degradation experiment
  (He et al. 2016): the same Linear -> BatchNorm -> ReLU layers, with or without the skips,
  He-initialised;
* :func:`first_layer_gradient_norm` - ``||dL/dW||`` of the first linear layer on one batch: how
  much gradient survives the trip down a deep network.

This module imports torch at the top: ``from nncourse.at_scale.generalization import residual_mlp``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .training import seed_everything


class Residual(nn.Module):
    """y = x + inner(x); ``inner`` must keep the shape of its input."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return x + self.inner(x)


def _branch(width: int, batch_norm: bool) -> nn.Sequential:
    norm = (lambda: [nn.BatchNorm1d(width)]) if batch_norm else (lambda: [])
    return nn.Sequential(nn.Linear(width, width), *norm(), nn.ReLU(), nn.Linear(width, width), *norm())


def _mlp(in_features, width, depth, out_features, residual, batch_norm, seed):
    if not isinstance(depth, int) or depth < 2 or depth % 2:
        raise ValueError(f"depth counts the linear layers before the output layer and must be an even number "
                         f">= 2 (an input layer plus blocks of two), got {depth!r}")
    seed_everything(seed)
    layers: list[nn.Module] = [nn.Linear(in_features, width), nn.ReLU()]
    for _ in range((depth - 2) // 2):
        branch = _branch(width, batch_norm)
        layers += [Residual(branch) if residual else branch, nn.ReLU()]
    layers.append(nn.Linear(width, out_features))
    model = nn.Sequential(*layers)
    for module in model.modules():      # He et al. 2015: variance-preserving for ReLU
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return model


def plain_mlp(in_features: int, width: int, depth: int, out_features: int, *, batch_norm: bool = True,
              seed: int = 0) -> nn.Sequential:
    """``depth`` hidden Linear layers (even): Linear -> ReLU, then (depth - 2) / 2 blocks of
    Linear -> BN -> ReLU -> Linear -> BN, each followed by ReLU, then the output Linear.
    (N, in_features) -> (N, out_features) logits. Same seed, same weights as :func:`residual_mlp`."""
    return _mlp(in_features, width, depth, out_features, False, batch_norm, seed)


def residual_mlp(in_features: int, width: int, depth: int, out_features: int, *, batch_norm: bool = True,
                 seed: int = 0) -> nn.Sequential:
    """:func:`plain_mlp` with a skip around every block: x -> ReLU(x + f(x)) (He et al. 2016)."""
    return _mlp(in_features, width, depth, out_features, True, batch_norm, seed)


def first_layer_gradient_norm(model: nn.Sequential, X, y) -> float:
    """The norm of dL/dW for the first ``nn.Linear`` of ``model`` on the batch (X, y), cross-entropy,
    in training mode; the model's gradients are cleared before and after."""
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    X = torch.as_tensor(X, dtype=first.weight.dtype)
    y = torch.as_tensor(y, dtype=torch.long)
    model.zero_grad()
    was_training = model.training
    model.train()
    F.cross_entropy(model(X), y).backward()
    norm = float(first.weight.grad.norm())
    model.zero_grad()
    model.train(was_training)
    return norm
