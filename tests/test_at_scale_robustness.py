"""nncourse.at_scale.robustness: the PyTorch attacks, robust accuracy and adversarial training."""
import numpy as np
import pytest
import torch

import nncourse
from nncourse import robustness as R
from nncourse.at_scale import robustness as AR


def _blobs(seed=0, n=300):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.3, 0.7, (3, 8))
    y = rng.integers(0, 3, n)
    X = np.clip(centres[y] + rng.normal(0, 0.05, (n, 8)), 0, 1).astype(np.float32)
    return X, y


def test_robust_accuracy_matches_the_numpy_attacks():
    X, y = _blobs()
    net = nncourse.mlp([8, 16, 3], seed=0)
    model = net.to_torch()
    Xd = X.astype(np.float64)
    assert AR.robust_accuracy(model, Xd, y, 0.0) == R.accuracy(net, Xd, y)
    for attack, fn in (("fgsm", R.fgsm), ("pgd", R.pgd)):
        assert AR.robust_accuracy(model, Xd, y, 0.05, attack=attack, batch_size=64) == R.accuracy(net, fn(net, Xd, y, 0.05), y)
    with pytest.raises(ValueError, match="attack must be one of"):
        AR.robust_accuracy(model, Xd, y, 0.1, attack="cw")


def test_pgd_random_start_uses_the_generator():
    X, y = _blobs(n=20)
    model = nncourse.mlp([8, 16, 3], seed=0).to_torch().float()
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    a = AR.pgd(model, xt, yt, 0.1, steps=2, random_start=True, generator=torch.Generator().manual_seed(0))
    b = AR.pgd(model, xt, yt, 0.1, steps=2, random_start=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and (a - xt).abs().max() <= 0.1 + 1e-6


def test_adversarial_training_raises_robust_accuracy():
    torch.set_num_threads(1)
    X, y = _blobs(n=300)
    eps = 0.08
    plain, robust = (nncourse.mlp([8, 32, 3], seed=1).to_torch().float() for _ in range(2))
    nncourse.fit(plain, (X, y), epochs=30, lr=1e-2, batch_size=64, progress=False, verbose=False)
    history = AR.adversarial_fit(robust, (X, y), eps=eps, epochs=30, steps=3, lr=1e-2, progress=False)
    assert len(history) == 30 and history[-1] < history[0]
    assert AR.robust_accuracy(robust, X, y, eps, steps=10) > AR.robust_accuracy(plain, X, y, eps, steps=10) + 0.1
