"""Each checker of notebooks 02-03 accepts a correct answer, rejects wrong ones, and never raises."""
import math

import numpy as np
import pytest

from nncourse.exercises import activations as ex02
from nncourse.exercises import backprop as ex03


def _not_attempted(*args):
    raise NotImplementedError


# --- notebook 02 ----------------------------------------------------------------------------------

def test_sigmoid_derivative(capsys):
    def right(x):
        s = 1 / (1 + np.exp(-x))
        return s * (1 - s)

    assert ex02.check_sigmoid_derivative(right)
    assert "✓" in capsys.readouterr().out
    assert not ex02.check_sigmoid_derivative(lambda x: 1 / (1 + np.exp(-x)))  # sigma itself
    assert "✗" in capsys.readouterr().out
    assert not ex02.check_sigmoid_derivative(lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2 * 2)
    assert not ex02.check_sigmoid_derivative(_not_attempted)
    assert "not attempted" in capsys.readouterr().out


def test_stable_softmax(capsys):
    def stable(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def naive(x):
        e = np.exp(x)
        return e / e.sum(axis=-1, keepdims=True)

    assert ex02.check_stable_softmax(stable)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not ex02.check_stable_softmax(naive)
    out = capsys.readouterr().out
    assert "Subtract the largest logit" in out
    # Normalising over the wrong axis is caught by the 2-D cases.
    assert not ex02.check_stable_softmax(lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum())


def test_he_std():
    assert ex02.check_he_std(lambda fan_in: math.sqrt(2 / fan_in))
    assert not ex02.check_he_std(lambda fan_in: math.sqrt(1 / fan_in))  # Xavier/LeCun, not He
    assert not ex02.check_he_std(lambda fan_in: 2 / fan_in)  # the variance, not the std
    assert not ex02.check_he_std(_not_attempted)


# --- notebook 03 ----------------------------------------------------------------------------------

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


@pytest.mark.parametrize("checker", [ex02.check_sigmoid_derivative, ex02.check_stable_softmax,
                                     ex03.check_linear_backward, ex03.check_cross_entropy_gradient])
def test_checkers_never_raise(checker):
    assert not checker(lambda *a: "nonsense")
