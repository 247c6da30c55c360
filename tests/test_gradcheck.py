"""The gradient checker itself: it must pass correct gradients and catch wrong ones."""
import numpy as np
import pytest

import nncourse
from nncourse.gradcheck import gradcheck, numeric_gradient, relative_error


def test_numeric_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    grad = numeric_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored after perturbation


class BuggyLinear(nncourse.Linear):
    """Takes the bias gradient from the first example instead of summing it over the batch (a typical slip)."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["bias"] = dout[0]  # wrong: should sum over the batch
        return dx


def test_gradcheck_passes_a_correct_layer_and_catches_a_buggy_one():
    x = np.random.default_rng(0).standard_normal((5, 3))
    good = gradcheck(nncourse.Linear(3, 2, seed=1), x)
    assert max(good.values()) < 1e-8
    with pytest.raises(AssertionError, match="bias"):
        gradcheck(BuggyLinear(3, 2, seed=1), x)
    bad = gradcheck(BuggyLinear(3, 2, seed=1), x, raise_on_fail=False)
    assert bad["bias"] > 1e-2 and bad["weight"] < 1e-8


def test_compare_with_torch_catches_the_same_bug():
    x = np.random.default_rng(0).standard_normal((5, 3))
    errors = nncourse.compare_with_torch(BuggyLinear(3, 2, seed=1), x)
    assert errors["bias"] > 1e-2 and errors["out"] < 1e-12


def test_gradcheck_refuses_float32_parameters():
    layer = nncourse.Linear(2, 2).astype(np.float32)
    with pytest.raises(ValueError, match="float64.*astype"):
        gradcheck(layer, np.ones((1, 2)))


def test_relative_error_scale():
    a = np.array([1.0, 2.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, a * 1.1) == pytest.approx(0.2 / 2.2)
