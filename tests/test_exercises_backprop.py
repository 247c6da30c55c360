"""Notebook 03's exercises accept a correct answer, reject wrong ones, and never raise."""
import numpy as np
import pytest

from nncourse.exercises import backprop as ex03


def _not_attempted(*args):
    raise NotImplementedError


def test_linear_backward(capsys):
    def right(x, weight, dout):
        return dout @ weight, dout.T @ x, dout.sum(axis=0)

    assert ex03.check_linear_backward(right)
    assert not ex03.check_linear_backward(lambda x, w, d: (d @ w, x.T @ d, d.sum(axis=0)))  # dW transposed
    assert not ex03.check_linear_backward(lambda x, w, d: (d @ w, d.T @ x, d.mean(axis=0)))  # mean, not sum
    assert not ex03.check_linear_backward(lambda x, w, d: (d @ w, d.T @ x))  # forgot dbias
    out = capsys.readouterr().out
    assert "✓ Linear backward" in out and out.count("✗") == 3


def test_mse():
    def right(pred, target):
        diff = pred - target
        return float(np.mean(diff**2)), 2 * diff / diff.size

    assert ex03.check_mse(right)
    assert not ex03.check_mse(lambda p, t: (float(np.mean((p - t) ** 2)), 2 * (p - t)))  # no 1/n
    assert not ex03.check_mse(lambda p, t: (float(np.sum((p - t) ** 2)), 2 * (p - t)))


def test_cross_entropy_gradient():
    def right(logits, targets):
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        p[np.arange(len(targets)), targets] -= 1
        return p / len(targets)

    def no_mean(logits, targets):
        return right(logits, targets) * len(targets)

    assert ex03.check_cross_entropy_gradient(right)
    assert not ex03.check_cross_entropy_gradient(no_mean)
    assert not ex03.check_cross_entropy_gradient(lambda l, t: 1 / 0)  # a crash is reported, not raised


@pytest.mark.parametrize("checker", [ex03.check_linear_backward, ex03.check_cross_entropy_gradient])
def test_checkers_never_raise(checker):
    assert not checker(lambda *a: "nonsense")
