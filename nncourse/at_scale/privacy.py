"""DP-SGD at scale with Opacus (notebook 15), and the privacy accountant.

* :func:`dp_fit` trains a PyTorch model with Opacus's ``PrivacyEngine().make_private(module,
  optimizer, data_loader, noise_multiplier, max_grad_norm)``: Poisson-sampled batches, per-sample
  gradients from hooks, clipping to ``max_grad_norm`` and Gaussian noise of std
  ``noise_multiplier * max_grad_norm``; it returns ε for δ from the RDP accountant.
* :func:`epsilon` is that accountant on its own: ε after ``steps`` steps with sampling rate q.
* :func:`opacus_gradient` is the noisy, clipped gradient Opacus computes for one batch (the
  tests compare it with :func:`nncourse.privacy.dp_sgd_step`).
"""
from __future__ import annotations

import warnings


def epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """ε of (ε, δ)-DP after ``steps`` DP-SGD steps with Poisson sampling rate ``sample_rate``,
    from Opacus's Rényi-DP accountant (Mironov 2017; Abadi et al.'s moments accountant refined)."""
    from opacus.accountants import RDPAccountant

    if noise_multiplier <= 0:
        return float("inf")
    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    return float(accountant.get_epsilon(delta=delta))


def opacus_gradient(model, X, y, *, max_grad_norm: float, noise_multiplier: float, generator=None) -> dict:
    """The gradient Opacus's DPOptimizer hands to the optimizer for the batch (X, y):
    (sum of per-sample clipped gradients + noise) / len(X). Returns {name: tensor}; model unchanged."""
    import torch
    import torch.nn.functional as F
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = GradSampleModule(model)
        opt = DPOptimizer(torch.optim.SGD(wrapped.parameters(), lr=0.0), noise_multiplier=noise_multiplier,
                          max_grad_norm=max_grad_norm, expected_batch_size=len(X), generator=generator)
        opt.zero_grad()
        F.cross_entropy(wrapped(X), y).backward()
        opt.pre_step()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    opt.zero_grad()
    wrapped._close()
    return grads


def dp_fit(model, train, *, noise_multiplier: float, max_grad_norm: float = 1.0, epochs: int = 10,
           lr: float = 0.1, batch_size: int = 64, delta: float = 1e-5, seed: int = 0,
           progress: bool = True) -> float:
    """Train ``model`` in place with DP-SGD through Opacus (plain SGD with momentum 0) and return ε
    for ``delta`` (from the engine's RDP accountant). ``noise_multiplier=0`` clips without noise
    (ε = inf)."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from opacus import PrivacyEngine
    from tqdm.auto import tqdm

    from .training import seed_everything

    seed_everything(seed)
    X, y = (torch.as_tensor(np.asarray(a)) for a in train)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=batch_size,
                                         generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # Opacus warns about secure_mode (not needed for teaching)
        engine = PrivacyEngine(accountant="rdp")
        private_model, optimizer, loader = engine.make_private(
            module=model, optimizer=optimizer, data_loader=loader, noise_multiplier=noise_multiplier,
            max_grad_norm=max_grad_norm, noise_generator=torch.Generator().manual_seed(seed + 1))
        for _ in tqdm(range(epochs), desc=f"DP-SGD (σ={noise_multiplier})", disable=not progress):
            for xb, yb in loader:
                if len(xb) == 0:
                    continue
                optimizer.zero_grad()
                F.cross_entropy(private_model(xb), yb).backward()
                optimizer.step()
        eps = engine.get_epsilon(delta) if noise_multiplier > 0 else float("inf")
    private_model._close()
    return float(eps)
