"""The perceptron: Rosenblatt's rule, both label conventions, convergence on separable gates,
never on XOR, and clear errors."""
import numpy as np
import pytest
import torch

from nncourse import Perceptron
from nncourse.data import logic_gate, toy_dataset


@pytest.mark.parametrize("gate", ["and", "or", "nand", "nor"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_separable_gates_converge_to_zero_mistakes(gate, seed):
    X, y = logic_gate(gate)
    p = Perceptron(2, seed=seed).fit(X, y, epochs=100)
    assert p.converged and p.errors_[-1] == 0
    np.testing.assert_array_equal(p.predict(X), y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xor_never_converges(seed):
    X, y = logic_gate("xor")
    p = Perceptron(2, seed=seed).fit(X, y, epochs=1000)
    assert len(p.errors_) == 1000 and min(p.errors_) > 0 and not p.converged
    assert (p.predict(X) != y).sum() >= 1


def test_the_update_rule_by_hand():
    p = Perceptron(2, lr=0.5)
    assert p.update([1.0, 2.0], 1) is True        # w.x + b = 0 -> on the boundary counts as a mistake
    np.testing.assert_allclose(p.weight, [0.5, 1.0])
    assert p.bias == 0.5
    assert p.update([1.0, 2.0], 1) is False       # now correct: nothing changes
    assert p.update([1.0, 1.0], 0) is True        # label 0 means t = -1
    np.testing.assert_allclose(p.weight, [0.0, 0.5])
    assert p.bias == 0.0


def test_minus_one_plus_one_labels_are_handled_and_answered_in_kind():
    X, y01 = logic_gate("and")
    y_pm = np.where(y01 == 1, 1, -1)
    p01 = Perceptron(2).fit(X, y01, shuffle=False)
    p_pm = Perceptron(2).fit(X, y_pm, shuffle=False)
    np.testing.assert_array_equal(p01.weight, p_pm.weight)  # same rule, same weights
    assert set(p_pm.predict(X)) == {-1, 1} and set(p01.predict(X)) == {0, 1}


def test_separable_toy_data_converges():
    X, y = toy_dataset("gaussian", n=100, seed=0)
    p = Perceptron(2).fit(X, y, epochs=200)
    assert p.converged


def test_same_seed_same_history():
    X, y = toy_dataset("xor", n=50, seed=1)
    a = Perceptron(2, seed=5).fit(X, y, epochs=20)
    b = Perceptron(2, seed=5).fit(X, y, epochs=20)
    assert a.errors_ == b.errors_
    np.testing.assert_array_equal(a.weight, b.weight)


def test_to_torch_computes_the_same_scores():
    X, y = toy_dataset("gaussian", n=40, seed=0)
    p = Perceptron(2).fit(X, y)
    scores = p.to_torch()(torch.from_numpy(X)).detach().numpy()[:, 0]
    np.testing.assert_allclose(scores, p.decision_function(X), atol=1e-12)


def test_bad_labels_are_a_clear_error():
    X, _ = logic_gate("and")
    with pytest.raises(ValueError, match=r"labels \{0, 1\} or \{-1, 1\}, got \[0, 1, 2\]"):
        Perceptron(2).fit(X, [0, 1, 2, 1])
    p = Perceptron(2).fit(X, [0, 0, 0, 1])
    with pytest.raises(ValueError, match="convention this perceptron uses"):
        p.fit(X, [-1, -1, -1, 1])
    with pytest.raises(ValueError, match=r"labels must be \(0, 1\) or \(-1, 1\)"):
        Perceptron(2, labels=(1, 2))


def test_bad_shapes_and_values_are_clear_errors():
    p = Perceptron(2)
    with pytest.raises(ValueError, match=r"2 features.*got shape \(4, 3\)"):
        p.fit(np.zeros((4, 3)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="same number of examples, got 4 and 3"):
        p.fit(np.zeros((4, 2)), [0, 1, 0])
    with pytest.raises(ValueError, match=r"X must be finite, got 1 NaN/inf value\(s\) \(first at index \(1, 0\)\)"):
        p.fit(np.array([[0, 0], [np.nan, 1.0]]), [0, 1])
    with pytest.raises(ValueError, match="lr must be positive"):
        Perceptron(2, lr=0)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        p.fit(np.zeros((2, 2)), [0, 1], epochs=0)


def test_wrong_number_of_dimensions_is_a_clear_error():
    with pytest.raises(ValueError, match=r"X must be 1-D or 2-D, got a 3-D array of shape \(2, 2, 2\)"):
        Perceptron(2).fit(np.zeros((2, 2, 2)), [0, 1])
    with pytest.raises(ValueError, match=r"y must be 1-D.*got shape \(2, 1\)"):
        Perceptron(2).fit(np.zeros((2, 2)), [[0], [1]])
