"""nncourse.at_scale.privacy: Opacus's PrivacyEngine glue and the accountant."""
import math

import numpy as np
import torch

import nncourse
from nncourse.at_scale import privacy as AP


def _blobs(seed=0, n=200):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, (3, 8))
    y = rng.integers(0, 3, n)
    return (centres[y] + rng.normal(0, 0.3, (n, 8))).astype(np.float32), y


def test_dp_fit_learns_and_reports_the_accountants_epsilon():
    torch.set_num_threads(1)
    X, y = _blobs()
    model = nncourse.mlp([8, 16, 3], seed=0).to_torch().float()
    eps = AP.dp_fit(model, (X, y), noise_multiplier=1.0, max_grad_norm=1.0, epochs=5, lr=0.5, batch_size=50,
                    delta=1e-5, progress=False)
    # Opacus samples each example with rate batch_size / N for N / batch_size steps per epoch.
    assert math.isclose(eps, AP.epsilon(1.0, 50 / 200, 5 * 4, 1e-5), rel_tol=1e-9) and 1 < eps < 100
    with torch.no_grad():
        accuracy = (model(torch.from_numpy(X)).argmax(1).numpy() == y).mean()
    assert accuracy > 0.9
    assert isinstance(model, torch.nn.Module) and not hasattr(model, "_module")  # the caller's model, trained in place


def test_dp_fit_without_noise_has_infinite_epsilon():
    X, y = _blobs(n=60)
    model = nncourse.mlp([8, 4, 3], seed=0).to_torch().float()
    assert AP.dp_fit(model, (X, y), noise_multiplier=0.0, epochs=1, batch_size=30, progress=False) == math.inf
