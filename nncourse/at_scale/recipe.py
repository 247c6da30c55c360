"""The training recipe in PyTorch (notebook 04, section 8): a learning-rate range test on a module.

The NumPy side (the test's loop, smoothing, the one-cycle schedule, gradient noise, momentum's
phase diagram, search helpers) is ``nncourse.recipe``; this file adds the PyTorch step it drives.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import recipe

__all__ = ["range_test"]


def range_test(model, batches: Sequence, lr_min: float, lr_max: float, *,
               make_optimizer: Callable | None = None, loss_fn: Callable | None = None,
               beta: float = 0.98, diverge: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smith's range test on a ``torch.nn.Module``: one optimizer step per batch of ``batches``.

    batches: a list of ``(xb, yb)`` tensors, one per step (``len(batches)`` steps at most).
    make_optimizer: ``params -> torch.optim.Optimizer`` (default Adam); its rate is overwritten
    before each step. loss_fn: ``(outputs, yb) -> scalar`` (default cross-entropy). The test
    trains (and usually ruins) ``model``: pass a throw-away copy. Returns ``(lrs, losses, smoothed)``
    as :func:`nncourse.recipe.lr_range_test`.
    """
    import torch
    import torch.nn.functional as F

    if len(batches) < 2:
        raise ValueError(f"a range test needs at least 2 batches, got {len(batches)}")
    optimizer = (make_optimizer or (lambda ps: torch.optim.Adam(ps, lr=lr_min)))(model.parameters())
    loss_fn = loss_fn or F.cross_entropy
    model.train()
    batch_iter = iter(batches)

    def step(lr: float) -> float:
        xb, yb = next(batch_iter)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return recipe.lr_range_test(step, lr_min, lr_max, len(batches), beta=beta, diverge=diverge)
