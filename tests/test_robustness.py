"""nncourse.robustness: attacks equal PyTorch's on the same weights, stay in the ε-ball and the
valid range; corruptions; ECE; ROC/AUC against scikit-learn."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nncourse
from nncourse import robustness as R
from nncourse.at_scale import robustness as AR


def _net_and_batch(seed, n=24):
    rng = np.random.default_rng(seed)
    net = nncourse.mlp([16, 12, 5], "tanh" if seed % 2 else "relu", seed=seed)
    return net, rng.uniform(0, 1, (n, 16)), rng.integers(0, 5, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_input_gradient_equals_autograd(seed):
    net, x, y = _net_and_batch(seed)
    loss, grad = R.input_gradient(net, x, y)
    xt = torch.tensor(x, requires_grad=True)
    torch_loss = F.cross_entropy(net.to_torch()(xt), torch.from_numpy(y))
    torch_loss.backward()
    assert abs(loss - torch_loss.item()) < 1e-12
    np.testing.assert_allclose(grad, xt.grad.numpy(), atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("eps", [0.03, 0.1, 0.3])
def test_fgsm_and_pgd_equal_pytorch_and_stay_in_the_ball_and_range(seed, eps):
    net, x, y = _net_and_batch(seed)
    torch_net, xt, yt = net.to_torch(), torch.from_numpy(x), torch.from_numpy(y)
    for mine, theirs in [(R.fgsm(net, x, y, eps), AR.fgsm(torch_net, xt, yt, eps)),
                         (R.pgd(net, x, y, eps, steps=7), AR.pgd(torch_net, xt, yt, eps, steps=7)),
                         (R.pgd(net, x, y, eps, steps=5, step_size=eps / 3), AR.pgd(torch_net, xt, yt, eps, steps=5, step_size=eps / 3))]:
        np.testing.assert_allclose(mine, theirs.numpy(), atol=1e-12)
        assert np.abs(mine - x).max() <= eps + 1e-12
        assert mine.min() >= 0 and mine.max() <= 1
        assert np.abs(mine - x).max() > 0.5 * eps      # it did move


def test_attacks_raise_the_loss_and_pgd_beats_fgsm_on_average():
    net, x, y = _net_and_batch(3, n=200)
    clean, _ = R.input_gradient(net, x, y)
    fgsm_loss, _ = R.input_gradient(net, R.fgsm(net, x, y, 0.1), y)
    pgd_loss, _ = R.input_gradient(net, R.pgd(net, x, y, 0.1, steps=20), y)
    assert clean < fgsm_loss <= pgd_loss + 1e-9


def test_random_start_is_seeded_and_projected():
    net, x, y = _net_and_batch(0)
    a = R.pgd(net, x, y, 0.2, steps=3, random_start=True, seed=5)
    b = R.pgd(net, x, y, 0.2, steps=3, random_start=True, seed=5)
    c = R.pgd(net, x, y, 0.2, steps=3, random_start=True, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.abs(a - x).max() <= 0.2 + 1e-12 and 0 <= a.min() and a.max() <= 1


def test_project_linf_clips_to_ball_and_range():
    x = np.array([[0.0, 0.5, 1.0]])
    out = R.project_linf(np.array([[-0.5, 0.9, 1.5]]), x, 0.2)
    np.testing.assert_allclose(out, [[0.0, 0.7, 1.0]])
    out = R.project_linf(np.array([[-0.5, 0.9, 1.5]]), x, 0.2, clip=(-1.0, 2.0))
    np.testing.assert_allclose(out, [[-0.2, 0.7, 1.2]])


def test_zero_budget_changes_nothing_and_bad_input_is_named():
    net, x, y = _net_and_batch(0)
    np.testing.assert_array_equal(R.fgsm(net, x, y, 0.0), x)
    with pytest.raises(ValueError, match="non-negative"):
        R.fgsm(net, x, y, -0.1)
    with pytest.raises(ValueError, match="one label per image"):
        R.pgd(net, x, y[:3], 0.1)
    with pytest.raises(ValueError, match="flat images"):
        R.fgsm(net, x.reshape(-1, 4, 4), y, 0.1)
    with pytest.raises(ValueError, match="steps"):
        R.pgd(net, x, y, 0.1, steps=0)


def test_corruptions_keep_shape_and_range_and_grow_with_severity():
    rng = np.random.default_rng(0)
    X = np.zeros((5, 64), np.float32)
    X.reshape(5, 8, 8)[:, 2:6, 3:5] = 1.0          # a bar in the middle
    X = np.clip(X + rng.uniform(0, 0.1, X.shape), 0, 1).astype(np.float32)
    for kind in R.CORRUPTIONS:
        np.testing.assert_array_equal(R.corrupt(X, (8, 8), kind, 0), X)
        changes = []
        for s in range(1, 6):
            out = R.corrupt(X, (8, 8), kind, s, seed=1)
            assert out.shape == X.shape and out.dtype == X.dtype and 0 <= out.min() and out.max() <= 1
            changes.append(np.abs(out - X).mean())
        assert changes[0] > 0 and changes[-1] > changes[0], kind
    shifted = R.corrupt(X, (8, 8), "shift", 2).reshape(5, 8, 8)   # 1 pixel down and right
    np.testing.assert_allclose(shifted[:, 1:, 1:], X.reshape(5, 8, 8)[:, :-1, :-1], atol=1e-6)
    np.testing.assert_array_equal(R.corrupt(X, (8, 8), "noise", 3, seed=4), R.corrupt(X, (8, 8), "noise", 3, seed=4))
    big = np.zeros((1, 16, 16), np.float32)
    big[0, 4:12, 6:10] = 1.0                                       # on a 16x16 image the shift doubles
    shifted = R.corrupt(big.reshape(1, -1), (16, 16), "shift", 2).reshape(16, 16)
    np.testing.assert_allclose(shifted[2:, 2:], big[0, :-2, :-2], atol=1e-6)
    with pytest.raises(ValueError, match="kind must be one of"):
        R.corrupt(X, (8, 8), "fog", 1)
    with pytest.raises(ValueError, match="severity"):
        R.corrupt(X, (8, 8), "blur", 6)


def test_ece_by_hand_and_edge_cases():
    # Two bins used: confidences 0.95 (both right) and 0.6 (one of two right).
    probs = np.array([[0.95, 0.05], [0.05, 0.95], [0.6, 0.4], [0.4, 0.6]])
    y = np.array([0, 1, 0, 0])
    expected = 0.5 * abs(1.0 - 0.95) + 0.5 * abs(0.5 - 0.6)
    assert R.expected_calibration_error(probs, y) == pytest.approx(expected)
    perfect = np.eye(3)[[0, 1, 2]]
    assert R.expected_calibration_error(perfect, np.array([0, 1, 2])) == 0
    assert R.expected_calibration_error(perfect, np.array([1, 2, 0])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="sum to 1"):
        R.expected_calibration_error(np.ones((2, 3)), np.array([0, 1]))


@pytest.mark.parametrize("seed", [0, 1])
def test_roc_and_auc_equal_scikit_learn(seed):
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(seed)
    pos, neg = rng.normal(1, 1, 50).round(1), rng.normal(0, 1, 70).round(1)   # rounded: ties
    labels, scores = np.r_[np.ones(50), np.zeros(70)], np.r_[pos, neg]
    assert R.roc_auc(pos, neg) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    fpr, tpr = R.roc_curve(pos, neg)
    sk_fpr, sk_tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    assert R.roc_auc(neg + 100, neg) == 1.0 and R.roc_auc(neg, neg) == 0.5
    with pytest.raises(ValueError, match="at least one"):
        R.roc_auc([], neg)


def test_max_softmax_score_and_accuracy():
    net, x, y = _net_and_batch(0)
    probs = R.predict_proba(net, x)
    np.testing.assert_allclose(R.max_softmax_score(probs), probs.max(axis=1))
    assert R.accuracy(net, x, y) == np.mean(net.forward(x).argmax(1) == y)
