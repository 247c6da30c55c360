"""NumPy transfer learning (nncourse.transfer, notebook 10): NT-Xent against PyTorch's autograd and
finite differences, augmentations, the linear probe against scikit-learn, nearest class mean."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nncourse import transfer
from nncourse.gradcheck import numeric_gradient


def _torch_nt_xent(z, temperature):
    zt = torch.tensor(z, requires_grad=True)
    n = len(z) // 2
    u = F.normalize(zt, dim=1)
    s = (u @ u.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    loss = F.cross_entropy(s, (torch.arange(2 * n) + n) % (2 * n))
    loss.backward()
    return loss.item(), zt.grad.numpy()


@pytest.mark.parametrize("seed, n, d, temperature", [(0, 2, 3, 0.5), (1, 8, 5, 0.1), (2, 16, 32, 1.0), (3, 5, 2, 0.07)])
def test_nt_xent_value_and_gradient_match_torch_autograd(seed, n, d, temperature):
    z = np.random.default_rng(seed).normal(size=(2 * n, d)) * 3
    loss, cache = transfer.nt_xent_forward(z, temperature)
    dz = transfer.nt_xent_backward(1.0, cache)
    want_loss, want_dz = _torch_nt_xent(z, temperature)
    assert abs(loss - want_loss) < 1e-12
    np.testing.assert_allclose(dz, want_dz, atol=1e-12, rtol=1e-10)
    np.testing.assert_allclose(transfer.nt_xent_backward(2.5, cache), 2.5 * want_dz, atol=1e-12)


def test_nt_xent_gradient_matches_finite_differences():
    z = np.random.default_rng(7).normal(size=(6, 4))
    numeric = numeric_gradient(lambda: transfer.nt_xent_forward(z, 0.3)[0], z)
    analytic = transfer.nt_xent_backward(1.0, transfer.nt_xent_forward(z, 0.3)[1])
    np.testing.assert_allclose(analytic, numeric, atol=1e-7)


def test_nt_xent_is_low_when_the_views_agree_and_high_when_they_do_not():
    rng = np.random.default_rng(0)
    z1 = np.eye(8)                            # 8 orthogonal images
    aligned = transfer.nt_xent(z1, z1 * 2.0, 0.1)          # each view's partner points the same way
    shuffled = transfer.nt_xent(z1, z1[rng.permutation(8)[::-1]], 0.1)
    assert aligned < 0.01 and shuffled > 5
    # scaling an embedding changes nothing: the loss sees directions only
    z2 = rng.normal(size=(8, 8))
    assert transfer.nt_xent(z1, z2) == pytest.approx(transfer.nt_xent(3 * z1, 0.5 * z2))


@pytest.mark.parametrize("args, words", [
    ((np.ones((4, 3)), np.ones((4, 2))), "same shape"),
    ((np.ones((1, 3)), np.ones((1, 3))), "at least 2"),
    ((np.zeros((3, 3)), np.ones((3, 3))), "all zeros"),
])
def test_nt_xent_rejects_bad_input(args, words):
    with pytest.raises(ValueError, match=words):
        transfer.nt_xent(*args)
    with pytest.raises(ValueError, match="temperature"):
        transfer.nt_xent(np.ones((3, 2)), np.ones((3, 2)), temperature=0)


def test_augment_keeps_shape_range_and_identity_when_switched_off():
    rng = np.random.default_rng(0)
    images = rng.random((6, 1, 8, 8))
    same = transfer.augment(images, rng, max_rotation=0, scale=(1, 1), max_shift=0, noise=0)
    np.testing.assert_allclose(same, images, atol=1e-12)
    views = transfer.augment(images, rng)
    assert views.shape == images.shape and views.min() >= 0 and views.max() <= 1
    assert not np.allclose(views, images)
    # a whole-pixel shift moves the picture by one pixel (the image index never mixes images)
    shifted = transfer.augment(images[:, 0], np.random.default_rng(1), max_rotation=0, scale=(1, 1),
                               max_shift=0, noise=0)
    np.testing.assert_allclose(shifted, images[:, 0], atol=1e-12)
    one = np.zeros((2, 8, 8)); one[0, 3, 3] = 1.0
    rotated = transfer.augment(one, np.random.default_rng(2), max_rotation=30, scale=(1, 1), max_shift=0, noise=0)
    assert rotated[1].max() == 0 and rotated[0].sum() > 0.3   # image 1 stays black: no mixing


def test_augment_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        transfer.augment(np.zeros((2, 3, 8, 8)), np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        transfer.augment(np.zeros((2, 8, 8)), 0)


def test_probe_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    W, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    _, dW, db = transfer.probe_loss_and_grad(W, b, X, y, 0.3)
    np.testing.assert_allclose(dW, numeric_gradient(lambda: transfer.probe_loss_and_grad(W, b, X, y, 0.3)[0], W), atol=1e-7)
    np.testing.assert_allclose(db, numeric_gradient(lambda: transfer.probe_loss_and_grad(W, b, X, y, 0.3)[0], b), atol=1e-7)


def test_linear_probe_matches_scikit_learn_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5)) + np.repeat(np.eye(5)[:3] * 2, 20, axis=0)
    y = np.repeat([5, 7, 9], 20)
    probe = transfer.fit_linear_probe(X, y, l2=0.1)
    Xs = (X - X.mean(0)) / (X.std(0) + 1e-8)
    # sklearn minimises C * sum(CE) + |W|^2 / 2: the same optimum as mean(CE) + l2/2 |W|^2 with C = 1/(l2 N)
    sk = LogisticRegression(C=1 / (0.1 * 60), tol=1e-10, max_iter=10_000).fit(Xs, y)
    np.testing.assert_allclose(probe.W, sk.coef_.T, atol=1e-5)
    np.testing.assert_allclose(probe.logits(X) - probe.logits(X).mean(1, keepdims=True),
                               sk.decision_function(Xs) - sk.decision_function(Xs).mean(1, keepdims=True), atol=1e-5)
    assert list(probe.classes) == [5, 7, 9] and probe.accuracy(X, y) == (sk.predict(Xs) == y).mean()


def test_linear_probe_uses_the_given_loss_and_rejects_bad_input():
    calls = []

    def counting(*args):
        calls.append(1)
        return transfer.probe_loss_and_grad(*args)

    X, y = np.random.default_rng(0).normal(size=(10, 3)), np.arange(10) % 2
    transfer.fit_linear_probe(X, y, loss_and_grad=counting)
    assert calls
    with pytest.raises(ValueError, match="2 classes"):
        transfer.fit_linear_probe(X, np.zeros(10, int))
    with pytest.raises(ValueError, match=r"one per row.*\(10,\)"):
        transfer.fit_linear_probe(X, y[:5])
    probe = transfer.fit_linear_probe(X, y)
    with pytest.raises(ValueError, match="3 columns"):
        probe.predict(np.zeros((2, 4)))


def test_nearest_class_mean_returns_labels_of_the_nearest_mean():
    train = np.array([[0.0, 0], [0, 2], [10, 0], [10, 2]])
    labels = np.array([6, 6, 9, 9])                           # means (0, 1) and (10, 1)
    query = np.array([[4.9, 100.0], [5.1, -3], [0, 1]])
    np.testing.assert_array_equal(transfer.nearest_class_mean(train, labels, query), [6, 9, 6])
    # not nearest neighbour: the query is closest to one example of class 6 but to the mean of 9
    train = np.array([[0.0], [1.0], [-9.0], [1.4], [1.6]])
    assert transfer.nearest_class_mean(train, np.array([0, 0, 0, 1, 1]), np.array([[1.1]]))[0] == 1
    with pytest.raises(ValueError, match="columns"):
        transfer.nearest_class_mean(train, np.zeros(5), np.zeros((1, 2)))


def test_sample_per_class_and_summarize():
    y = np.repeat([5, 6, 7], [3, 4, 5])
    pick = transfer.sample_per_class(y, 3, np.random.default_rng(0))
    assert np.bincount(y[pick]).tolist()[5:] == [3, 3, 3] and len(set(pick)) == 9
    with pytest.raises(ValueError, match="class 5 has only 3"):
        transfer.sample_per_class(y, 4, np.random.default_rng(0))
    records = [{"method": "a", "budget": 1, "seed": s, "accuracy": a} for s, a in enumerate([0.5, 0.7])]
    assert transfer.summarize(records) == {("a", 1): (pytest.approx(0.6), pytest.approx(np.std([0.5, 0.7], ddof=1)), 2)}
