"""Dropout and BatchNorm1d match nn.Dropout / nn.BatchNorm1d (forward, dx, grads, running stats)."""
import numpy as np
import pytest
import torch

import nncourse
from nncourse import gradcheck, compare_with_torch
from nncourse.regularization import BatchNorm1d, Dropout

SEEDS = [0, 1, 2]


def random_shape(rng, ndim):
    return tuple(int(v) for v in rng.integers(2, 7, ndim))


# --- Dropout ---------------------------------------------------------------------------------


def share_torch_mask(layer):
    """A torch_call for compare_with_torch: run nn.Dropout, then give its keep-mask to our layer."""
    def call(module, x_t):
        out = module(x_t)
        layer.fixed_mask = (out != 0).detach().numpy()
        return out
    return call


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_matches_torch_with_a_shared_mask(p, seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    x = rng.standard_normal(random_shape(rng, 3)) + 3.0  # no exact zeros, so out != 0 is the mask
    layer = Dropout(p)
    errors = compare_with_torch(layer, x, seed=seed, torch_call=share_torch_mask(layer))
    assert max(errors.values()) < 1e-12, errors
    assert 0 < layer.fixed_mask.mean() < 1  # some dropped, some kept: the check was not trivial


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_gradcheck_with_fixed_mask(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 5))
    layer = Dropout(0.3)
    layer.fixed_mask = rng.random(x.shape) > 0.3
    assert max(gradcheck(layer, x, seed=seed).values()) < 1e-8


def test_dropout_statistics_and_modes():
    layer = Dropout(0.25, seed=0)
    x = np.ones((400, 500))
    out = layer.forward(x)
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.005
    np.testing.assert_allclose(out[kept], 1 / 0.75)             # survivors scaled by 1/(1-p)
    assert abs(out.mean() - 1.0) < 0.01                         # expectation preserved
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx, out)                      # gradient flows only through kept units
    layer.eval()
    np.testing.assert_array_equal(layer.forward(x), x)          # evaluation: identity
    np.testing.assert_array_equal(layer.backward(2 * x), 2 * x)
    assert layer.forward(x.astype(np.float32)).dtype == np.float32


def test_dropout_is_seeded_and_fresh_each_forward():
    x = np.ones((10, 10))
    a, b = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    first = a.forward(x)
    np.testing.assert_array_equal(first, b.forward(x))
    assert not np.array_equal(first, a.forward(x))              # a new mask every training forward


def test_dropout_edge_probabilities_match_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(Dropout(0.0).forward(x), x)
    np.testing.assert_array_equal(Dropout(1.0).forward(x), torch.nn.Dropout(1.0)(torch.from_numpy(x)).numpy())


def test_sequential_passes_train_and_eval_to_dropout():
    model = nncourse.Sequential(nncourse.Linear(3, 4), Dropout(0.5), nncourse.Linear(4, 2))
    x = np.ones((5, 3))
    model.eval()
    np.testing.assert_array_equal(model.forward(x), model.forward(x))
    model.train()
    assert not np.array_equal(model.forward(x), model.forward(x))
    assert isinstance(model.to_torch()[1], torch.nn.Dropout)


@pytest.mark.parametrize("p", [-0.1, 1.5, "half", True])
def test_dropout_bad_p(p):
    with pytest.raises(ValueError, match=r"dropout probability p must be a number in \[0, 1\]"):
        Dropout(p)


def test_dropout_bad_mask_and_dout():
    layer = Dropout(0.5)
    layer.fixed_mask = np.ones((2, 2), dtype=bool)
    with pytest.raises(ValueError, match=r"fixed_mask must have the shape of x \(3, 2\), got \(2, 2\)"):
        layer.forward(np.ones((3, 2)))
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward"):
        Dropout(0.5).backward(np.ones(3))
    layer.fixed_mask = None
    layer.forward(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output \(3, 2\), got \(2, 3\)"):
        layer.backward(np.ones((2, 3)))


# --- BatchNorm1d -----------------------------------------------------------------------------


def random_batchnorm(rng, channels, **kwargs):
    layer = BatchNorm1d(channels, **kwargs)
    if layer.affine:  # non-trivial scale and shift so their gradients are exercised
        layer.params["weight"][:] = rng.uniform(0.5, 2.0, channels)
        layer.params["bias"][:] = rng.standard_normal(channels)
    return layer


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_training_matches_torch(seed, ndim, affine):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, ndim)
    x = rng.standard_normal(shape) * 3 + rng.standard_normal((1, shape[1]) + (1,) * (ndim - 2))
    layer = random_batchnorm(rng, shape[1], affine=affine)
    errors = compare_with_torch(layer, x, seed=seed)
    assert max(errors.values()) < 1e-10, errors
    assert max(gradcheck(layer, x, seed=seed).values()) < 1e-6


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_running_stats_and_eval_match_torch(seed, momentum):
    rng = np.random.default_rng(seed)
    layer = random_batchnorm(rng, 4, momentum=momentum)
    twin = layer.to_torch()
    for _ in range(5):
        x = rng.standard_normal((8, 4)) * 2 + 1
        layer.forward(x)
        twin(torch.from_numpy(x))
    np.testing.assert_allclose(layer.running_mean, twin.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.running_var, twin.running_var.numpy(), atol=1e-12)
    assert layer.num_batches_tracked == int(twin.num_batches_tracked) == 5
    assert not np.allclose(layer.running_mean, 0)  # the statistics really moved
    layer.eval()
    x = rng.standard_normal((6, 4, 3))
    errors = compare_with_torch(layer, x, seed=seed)  # to_torch() carries the running stats over
    assert max(errors.values()) < 1e-10, errors
    assert max(gradcheck(layer, x, seed=seed).values()) < 1e-6
    # evaluation: one example's output does not depend on its batch
    np.testing.assert_allclose(layer.forward(x[:1]), layer.forward(x)[:1], atol=1e-14)


def test_batchnorm_normalises_in_training():
    x = np.random.default_rng(0).standard_normal((256, 3)) * [1, 10, 100] + [5, -5, 50]
    out = BatchNorm1d(3).forward(x)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    assert BatchNorm1d(3).forward(x.astype(np.float32)).dtype == np.float32


def test_batchnorm_float32_to_torch():
    layer = BatchNorm1d(3).astype(np.float32)
    assert layer.running_var.dtype == np.float32
    assert layer.to_torch().weight.dtype == torch.float32


def test_batchnorm_bad_input():
    layer = BatchNorm1d(4)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4\) expects x of shape \(N, 4\) or \(N, 4, L\), got \(5, 3\)"):
        layer.forward(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"x must be 2-D or 3-D, got a 4-D array"):
        layer.forward(np.ones((2, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"more than 1 value per channel in training mode.*call .eval\(\)"):
        layer.forward(np.ones((1, 4)))
    layer.eval().forward(np.ones((1, 4)))  # fine in evaluation
    with pytest.raises(ValueError, match="num_features must be a positive integer"):
        BatchNorm1d(0)
    with pytest.raises(ValueError, match="momentum must be in"):
        BatchNorm1d(3, momentum=2)


# --- mlp with regularizers ------------------------------------------------------------------------


def test_mlp_with_batch_norm_and_dropout_structure_and_torch_twin():
    plain = nncourse.mlp([3, 5, 4, 2], "tanh", seed=2, dropout=0.0, batch_norm=False)
    reference = nncourse.mlp([3, 5, 4, 2], "tanh", seed=2)
    for name, p in reference.params.items():
        np.testing.assert_array_equal(plain.params[name], p)
    model = nncourse.mlp([3, 5, 4, 2], dropout=0.2, batch_norm=True, seed=2)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Linear", "BatchNorm1d", "ActivationLayer", "Dropout"] * 2 + ["Linear"]
    x = np.random.default_rng(0).standard_normal((8, 3))
    model.forward(x)  # move the running statistics away from their start
    model.eval()
    twin = model.to_torch().eval()
    np.testing.assert_allclose(model.forward(x), twin(torch.from_numpy(x)).detach().numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="sizes must list at least"):
        nncourse.mlp([3], dropout=0.5)


# -- the pure kernels (notebook 05 builds them in cells) against torch autograd --------------------
@pytest.mark.parametrize("seed", range(3))
def test_dropout_kernels_match_torch_autograd(seed):
    import torch

    from nncourse.regularization import dropout_backward, dropout_forward

    rng = np.random.default_rng(seed)
    x, dout = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    p = [0.2, 0.5, 0.8][seed]
    keep = (rng.random(x.shape) >= p).astype(float)
    out, cache = dropout_forward(x, keep, p)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = x_t * torch.from_numpy(keep) / (1 - p)
    out_t.backward(torch.from_numpy(dout))
    assert np.allclose(out, out_t.detach().numpy(), atol=1e-14)
    assert np.allclose(dropout_backward(dout, cache), x_t.grad.numpy(), atol=1e-14)
    assert np.all(out[keep == 0] == 0)
    out1, _ = dropout_forward(x, np.zeros_like(x), 1.0)
    assert np.all(out1 == 0)


def test_batchnorm_kernels_are_the_normalization_modules():
    # One implementation: tests/test_normalization.py checks the kernels against torch in every layout.
    from nncourse import normalization, regularization

    assert regularization.batchnorm_forward is normalization.batchnorm_forward
    assert regularization.batchnorm_backward is normalization.batchnorm_backward
    assert regularization.BatchNorm1d is normalization.BatchNorm1d


# -- double descent helpers ----------------------------------------------------------------------
def test_min_norm_least_squares_matches_torch_and_is_smallest():
    from nncourse.regularization import min_norm_least_squares, random_relu_features

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((12, 5)), rng.standard_normal((12, 3))
    for p in [4, 30]:                                   # under- and over-parameterised
        phi = random_relu_features(X, rng.standard_normal((5, p)))
        assert phi.shape == (12, p) and phi.min() >= 0
        B = min_norm_least_squares(phi, Y)
        theirs = torch.linalg.lstsq(torch.from_numpy(phi), torch.from_numpy(Y), driver="gelsd").solution.numpy()
        np.testing.assert_allclose(B, theirs, atol=1e-8)
    np.testing.assert_allclose(phi @ B, Y, atol=1e-8)   # p > n: fits the training targets exactly
    null = np.linalg.svd(phi)[2][-1]                    # a direction phi cannot see
    other = B + np.outer(null, np.ones(3))              # another exact fit ...
    np.testing.assert_allclose(phi @ other, Y, atol=1e-8)
    assert np.linalg.norm(other) > np.linalg.norm(B)    # ... with a larger norm


def test_random_features_errors():
    from nncourse.regularization import min_norm_least_squares, random_relu_features

    with pytest.raises(ValueError, match=r"projection must have X's 5 features as rows, got shape \(4, 3\)"):
        random_relu_features(np.ones((2, 5)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="same number of rows, got 3 and 2"):
        min_norm_least_squares(np.ones((3, 4)), np.ones(2))
