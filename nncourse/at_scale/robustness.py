"""Adversarial attacks and adversarial training in PyTorch (notebook 15).

The twins of :mod:`nncourse.robustness`: :func:`fgsm` and :func:`pgd` under an L∞ budget, with
the same step, projection and clipping (the tests check both give the same images on the same
weights), :func:`robust_accuracy`, and :func:`adversarial_fit` - Madry et al.'s adversarial
training: every batch is replaced by its PGD adversarial examples before the step.

Gradient masking: a defence that only makes the gradient useless (saturated, noisy or
shattered) looks robust against gradient attacks without being robust (Athalye et al. 2018).
Check a defended model with stronger attacks (more steps, random restarts) and expect robust
accuracy to be *below* clean accuracy at every ε; PGD training with a fixed ε does not mask.
"""
from __future__ import annotations

import math
import time

import numpy as np


def _loss_grad(model, x, y):
    import torch
    import torch.nn.functional as F

    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def project_linf(x_adv, x, eps: float, clip=(0.0, 1.0)):
    """The nearest tensor to ``x_adv`` within ``eps`` of ``x`` (L∞) and inside ``clip``."""
    import torch

    return torch.clamp(x + torch.clamp(x_adv - x, -eps, eps), *clip)


def fgsm(model, x, y, eps: float, *, clip=(0.0, 1.0)):
    """Fast gradient sign method: x + eps * sign(dL/dx), clipped to the valid range. (N, D) -> (N, D)."""
    import torch

    return torch.clamp(x + eps * _loss_grad(model, x, y).sign(), *clip).detach()


def pgd(model, x, y, eps: float, *, steps: int = 10, step_size: float | None = None,
        random_start: bool = False, generator=None, clip=(0.0, 1.0)):
    """Projected gradient descent under L∞ (Madry et al. 2018): ``steps`` signed steps of
    ``step_size`` (default 2.5 eps / steps), each projected onto the ε-ball and the valid range."""
    import torch

    step_size = 2.5 * eps / steps if step_size is None else step_size
    x_adv = x.detach().clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device) * 2 * eps - eps
        x_adv = project_linf(x + noise, x, eps, clip)
    for _ in range(steps):
        x_adv = project_linf(x_adv + step_size * _loss_grad(model, x_adv, y).sign(), x, eps, clip).detach()
    return x_adv


def robust_accuracy(model, X, y, eps: float, *, attack: str = "pgd", batch_size: int = 1024, **attack_options) -> float:
    """Accuracy of ``model`` on (X, y) after the ``attack`` ("fgsm" or "pgd") with budget ``eps``."""
    import torch

    attacks = {"fgsm": fgsm, "pgd": pgd}
    if attack not in attacks:
        raise ValueError(f"attack must be one of {list(attacks)}, got {attack!r}")
    device = next(model.parameters()).device
    X, y = torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(X), batch_size):
        xb, yb = X[i : i + batch_size], y[i : i + batch_size]
        xa = attacks[attack](model, xb, yb, eps, **attack_options) if eps > 0 else xb
        with torch.no_grad():
            correct += int((model(xa).argmax(dim=1) == yb).sum())
    model.train(was_training)
    return correct / len(X)


def adversarial_fit(model, train, *, eps: float, epochs: int = 10, steps: int = 5, lr: float = 1e-3,
                    batch_size: int = 64, seed: int = 0, progress: bool = True) -> list[float]:
    """Adversarial training: each batch is attacked with PGD (``steps``, random start) against the
    current model, and the model takes an Adam step on the adversarial batch. Returns the mean
    adversarial training loss of each epoch."""
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    from .training import seed_everything

    seed_everything(seed)
    device = next(model.parameters()).device
    X, y = (torch.as_tensor(a, device=device) for a in train)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = []
    steps_per_epoch = math.ceil(len(X) / batch_size)
    with tqdm(total=epochs * steps_per_epoch, desc="adversarial training", unit="batch", disable=not progress) as bar:
        for _ in range(epochs):
            order = torch.randperm(len(X), generator=generator).to(device)
            total, start = 0.0, time.perf_counter()
            for i in range(0, len(X), batch_size):
                idx = order[i : i + batch_size]
                xb = pgd(model, X[idx], y[idx], eps, steps=steps, random_start=True, generator=generator)
                loss = F.cross_entropy(model(xb), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
                bar.update(1)
            history.append(total / len(X))
            bar.set_postfix(loss=f"{history[-1]:.4f}", s_per_epoch=f"{time.perf_counter() - start:.2f}")
    return history


def as_numpy_images(x) -> np.ndarray:
    """A tensor of images back to NumPy (for plots and the NumPy comparison)."""
    return x.detach().cpu().numpy()
