"""Notebook 02's exercises accept a correct answer, reject wrong ones, and never raise."""
import math

import numpy as np
import pytest

from nncourse.exercises import activations as ex02


def _not_attempted(*args):
    raise NotImplementedError


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



@pytest.mark.parametrize("checker", [ex02.check_sigmoid_derivative, ex02.check_stable_softmax])
def test_checkers_never_raise(checker):
    assert not checker(lambda *a: "nonsense")
