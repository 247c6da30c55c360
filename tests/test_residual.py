"""nncourse.residual and nncourse.at_scale.generalization: y = x + f(x) against PyTorch."""
import numpy as np
import pytest
import torch

from nncourse import compare_with_torch, gradcheck
from nncourse.layers import Linear, Sequential, Tanh
from nncourse.residual import Residual, plain_mlp, residual_mlp
from nncourse.at_scale import generalization as at_scale


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_residual_matches_torch_and_gradcheck(seed):
    rng = np.random.default_rng(seed)
    block = Residual(Sequential(Linear(5, 5, seed=seed), Tanh(), Linear(5, 5, seed=seed + 1)))
    x = rng.standard_normal((4, 5))
    errors = compare_with_torch(block, x, seed=seed)
    assert sorted(errors) == ["inner.0.bias", "inner.0.weight", "inner.2.bias", "inner.2.weight", "out", "x"]
    assert max(errors.values()) < 1e-12, errors
    assert max(gradcheck(block, x, seed=seed).values()) < 1e-7


def test_identity_path_adds_dout():
    inner = Sequential(Linear(3, 3, seed=0))
    inner.params["0.weight"][:] = 0          # a branch that does nothing: the block is the identity
    inner.params["0.bias"][:] = 0
    block = Residual(inner)
    x = np.random.default_rng(0).standard_normal((2, 3))
    np.testing.assert_array_equal(block.forward(x), x)
    dout = np.random.default_rng(1).standard_normal((2, 3))
    np.testing.assert_array_equal(block.backward(dout), dout)   # the gradient passes straight through


@pytest.mark.parametrize("residual", [False, True])
def test_mlps_match_their_torch_twins(residual):
    build = residual_mlp if residual else plain_mlp
    model = build(6, 5, 6, 3, seed=1)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Linear", "ReLU"] + [("Residual" if residual else "Sequential"), "ReLU"] * 2 + ["Linear"]
    x = np.random.default_rng(0).standard_normal((8, 6))
    errors = compare_with_torch(model, x)
    assert max(errors.values()) < 1e-10, errors
    twin = at_scale.residual_mlp(6, 5, 6, 3) if residual else at_scale.plain_mlp(6, 5, 6, 3)
    assert sorted(n for n, _ in twin.named_parameters()) == sorted(model.params)


def test_residual_keeps_first_layer_gradient_alive_in_deep_nets():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 10)).astype(np.float32), rng.integers(0, 3, 64)
    norms = {(residual, depth): at_scale.first_layer_gradient_norm(
                 (at_scale.residual_mlp if residual else at_scale.plain_mlp)(10, 32, depth, 3, seed=0), X, y)
             for residual in [False, True] for depth in [4, 40]}
    plain_growth = norms[(False, 40)] / norms[(False, 4)]
    residual_growth = norms[(True, 40)] / norms[(True, 4)]
    assert plain_growth > 10 * residual_growth, norms


def test_errors():
    with pytest.raises(TypeError, match="Residual wraps a Layer"):
        Residual(np.eye(3))
    with pytest.raises(ValueError, match=r"must keep the shape of its input.*\(2, 3\) in and \(2, 4\) out"):
        Residual(Linear(3, 4)).forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="even number >= 2"):
        plain_mlp(3, 4, 5, 2)
    with pytest.raises(ValueError, match="even number >= 2"):
        at_scale.residual_mlp(3, 4, 1, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        Residual(Linear(3, 3)).backward(np.ones((2, 3)))
