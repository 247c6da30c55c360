"""The exercises of notebook 10: each checker accepts the answer and equivalent ones, and rejects
typical wrong answers with the message meant for them."""
import numpy as np
import pytest

from nncourse.exercises import transfer as ex
from nncourse.exercises.solutions import transfer as solutions
from exercise_support import not_attempted, verdict as _verdict


def _ncm_by_dot_products(f, y, q):
    """Equivalent: argmax of q.mu - |mu|^2 / 2 (the same ordering as the distances)."""
    classes = np.unique(y)
    means = np.array([f[y == c].mean(0) for c in classes])
    return classes[np.argmax(q @ means.T - 0.5 * (means ** 2).sum(1), axis=1)]


def _ncm_with_scipy(f, y, q):
    from scipy.spatial.distance import cdist
    classes = sorted(set(y.tolist()))
    means = np.array([f[y == c].mean(0) for c in classes])
    return np.array(classes)[cdist(q, means).argmin(1)]


@pytest.mark.parametrize("answer", [solutions.nearest_mean_classify, _ncm_by_dot_products, _ncm_with_scipy])
def test_nearest_mean_accepts_equivalent_answers(answer):
    assert _verdict(ex.nearest_mean_classify, answer) == (True, "✓ nearest_mean_classify: correct on all 3 test cases.")


@pytest.mark.parametrize("wrong, words", [
    (ex._positions_not_labels, "position of the nearest mean"),
    (ex._nearest_neighbour, "nearest single example"),
    (ex._farthest, "farthest"),
    (lambda f, y, q: np.full(len(q) + 1, y[0]), "shape"),
    (lambda f, y, q: np.full(len(q), y[0]), "test row"),
    (not_attempted, "not attempted"),
])
def test_nearest_mean_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.nearest_mean_classify, wrong)
    assert not passed and words in message and "argmin(axis=1)]" not in message


def _probe_with_logsumexp(W, b, X, y, l2):
    from scipy.special import logsumexp, softmax
    logits = X @ W + b
    loss = np.mean(logsumexp(logits, axis=1) - logits[np.arange(len(X)), y]) + l2 / 2 * np.linalg.norm(W) ** 2
    d = (softmax(logits, axis=1) - np.eye(W.shape[1])[y]) / len(X)
    return loss, X.T @ d + l2 * W, d.sum(0)


def _probe_as_list(W, b, X, y, l2):
    return list(solutions.probe_loss_and_grad(W, b, X, y, l2))


def _probe_without_max_shift(W, b, X, y, l2):
    logits = X @ W + b
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[np.arange(len(X)), y]).mean() + 0.5 * l2 * np.sum(W * W)
    d = p.copy()
    d[np.arange(len(X)), y] -= 1
    d /= len(X)
    return loss, X.T @ d + l2 * W, d.sum(0)


@pytest.mark.parametrize("answer", [solutions.probe_loss_and_grad, _probe_with_logsumexp, _probe_as_list])
def test_probe_accepts_equivalent_answers(answer):
    assert _verdict(ex.probe_loss_and_grad, answer) == (True, "✓ probe_loss_and_grad: correct on all 4 test cases.")


@pytest.mark.parametrize("wrong, words", [
    (ex._grads_without_mean, "N times too large"),
    (ex._no_penalty_in_grad, "misses its gradient"),
    (ex._penalty_without_half, "twice"),
    (ex._penalised_bias, "not the bias"),
    (ex._softmax_without_onehot, "subtract 1 at each row's correct"),
    (_probe_without_max_shift, "inf or nan"),
    (lambda W, b, X, y, l2: solutions.probe_loss_and_grad(W, b, X, y, l2)[:2], "return 3 values"),
    (not_attempted, "not attempted"),
])
def test_probe_rejects_typical_mistakes(wrong, words):
    with np.errstate(all="ignore"):
        passed, message = _verdict(ex.probe_loss_and_grad, wrong)
    assert not passed and words in message, message
