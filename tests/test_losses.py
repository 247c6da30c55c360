"""Every loss: value and gradient against torch.nn.functional (float64), and bad inputs."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nncourse import losses

SEEDS = [0, 1, 2]


def _torch_value_and_grad(fn, pred, *rest):
    pt = torch.from_numpy(pred.copy()).requires_grad_(True)
    value = fn(pt, *(torch.from_numpy(np.asarray(r)) for r in rest))
    value.backward()
    return float(value.detach()), pt.grad.numpy()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 4)])
def test_mse_matches_torch(seed, shape):
    rng = np.random.default_rng(seed)
    pred, target = rng.normal(size=shape), rng.normal(size=shape)
    loss, grad = losses.mse(pred, target)
    want_loss, want_grad = _torch_value_and_grad(F.mse_loss, pred, target)
    assert loss == pytest.approx(want_loss, abs=1e-12)
    np.testing.assert_allclose(grad, want_grad, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_cross_entropy_matches_torch(seed):
    rng = np.random.default_rng(seed)
    prob = rng.uniform(0.01, 0.99, size=(6, 2))
    prob[0, 0], prob[0, 1] = 0.0, 1.0  # the clamped logs (-100) and the 1e-12 floor of the gradient
    target = rng.integers(0, 2, size=(6, 2)).astype(float)
    target[0] = [0.0, 1.0]
    loss, grad = losses.binary_cross_entropy(prob, target)
    want_loss, want_grad = _torch_value_and_grad(F.binary_cross_entropy, prob, target)
    assert loss == pytest.approx(want_loss, abs=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-12)
    # A prediction that is certain and wrong costs 100 per element, as in PyTorch (not inf).
    loss, _ = losses.binary_cross_entropy(np.array([0.0]), np.array([1.0]))
    assert loss == pytest.approx(100.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_cross_entropy_with_logits_matches_torch(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=4.0, size=(8,))
    logits[:2] = [800.0, -800.0]  # exact where sigmoid then log would overflow
    target = rng.uniform(size=8)  # soft targets are allowed
    loss, grad = losses.binary_cross_entropy_with_logits(logits, target)
    want_loss, want_grad = _torch_value_and_grad(F.binary_cross_entropy_with_logits, logits, target)
    assert np.isfinite(loss)
    assert loss == pytest.approx(want_loss, abs=1e-12)
    np.testing.assert_allclose(grad, want_grad, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n,c", [(1, 2), (7, 3), (16, 10)])
def test_cross_entropy_matches_torch(seed, n, c):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, c))
    targets = rng.integers(0, c, size=n)
    loss, grad = losses.cross_entropy(logits, targets)
    want_loss, want_grad = _torch_value_and_grad(F.cross_entropy, logits, targets)
    assert loss == pytest.approx(want_loss, abs=1e-12)
    np.testing.assert_allclose(grad, want_grad, atol=1e-12)


def test_cross_entropy_huge_logits_stay_finite():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]])
    targets = np.array([2, 1])
    loss, grad = losses.cross_entropy(logits, targets)
    want_loss, want_grad = _torch_value_and_grad(F.cross_entropy, logits, targets)
    assert loss == pytest.approx(want_loss) and loss == pytest.approx(1e4)
    np.testing.assert_allclose(grad, want_grad, atol=1e-12)


@pytest.mark.parametrize("name", ["mse", "binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_gradients_match_finite_differences(name):
    fn = getattr(losses, name)
    rng = np.random.default_rng(7)
    pred = rng.uniform(0.1, 0.9, size=(3, 2))
    target = rng.integers(0, 2, size=(3, 2)).astype(float)
    _, grad = fn(pred, target)
    numeric = np.zeros_like(pred)
    for i in np.ndindex(pred.shape):
        up, down = pred.copy(), pred.copy()
        up[i] += 1e-6
        down[i] -= 1e-6
        numeric[i] = (fn(up, target)[0] - fn(down, target)[0]) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_float32_gradients_stay_float32():
    pred = np.array([[0.2, 0.7]], dtype=np.float32)
    assert losses.mse(pred, np.array([[0.0, 1.0]]))[1].dtype == np.float32
    assert losses.cross_entropy(pred, [1])[1].dtype == np.float32


# --- bad input: clear errors --------------------------------------------------------------------

def test_mse_shape_mismatch_is_an_error_not_a_broadcast():
    with pytest.raises(ValueError, match=r"target must have the same shape as pred \(4, 1\), got \(4,\)"):
        losses.mse(np.zeros((4, 1)), np.zeros(4))


def test_bce_rejects_probabilities_outside_0_1():
    with pytest.raises(ValueError, match=r"prob must lie in \[0, 1\].*binary_cross_entropy_with_logits"):
        losses.binary_cross_entropy(np.array([0.5, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="same shape"):
        losses.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(2))


def test_cross_entropy_bad_targets():
    logits = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\] for 4 classes, got values in \[0, 4\]"):
        losses.cross_entropy(logits, [0, 1, 4])
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\].*\[-1, 1\]"):
        losses.cross_entropy(logits, [0, 1, -1])
    with pytest.raises(ValueError, match=r"one class index per row of logits \(3, 4\), got shape \(2,\)"):
        losses.cross_entropy(logits, [0, 1])
    with pytest.raises(ValueError, match=r"got shape \(3, 4\)"):
        losses.cross_entropy(logits, np.eye(3, 4))  # one-hot targets are not class indices
    with pytest.raises(TypeError, match="integer class indices, got dtype float64"):
        losses.cross_entropy(logits, [0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match="logits must be 2-D, got a 1-D array"):
        losses.cross_entropy(np.zeros(4), [1])
    # Whole-number floats are accepted as class indices.
    assert losses.cross_entropy(logits, [0.0, 1.0, 2.0])[0] == pytest.approx(np.log(4))


def test_losses_reject_non_numbers():
    with pytest.raises(TypeError, match="pred must hold numbers"):
        losses.mse(["a"], [1.0])


def test_bce_with_logits_gradient_keeps_the_tails():
    """The gradient uses activations.sigmoid: sigmoid(-30) is 9.4e-14, not 0, as in torch."""
    logits = np.array([-30.0, -5.0, 0.0, 30.0])
    target = np.zeros(4)
    _, grad = losses.binary_cross_entropy_with_logits(logits, target)
    z = torch.tensor(logits, requires_grad=True)
    F.binary_cross_entropy_with_logits(z, torch.tensor(target)).backward()
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-12, atol=0)
