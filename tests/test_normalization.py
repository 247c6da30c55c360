"""nncourse.normalization: batch norm on (N, C), (N, C, L) and (N, C, H, W) against PyTorch.

Values and gradients against nn.BatchNorm1d/2d and torch autograd, training and evaluation mode
with running statistics, finite-difference gradient checks, and the error messages.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nncourse import compare_with_torch, gradcheck
from nncourse.normalization import (BatchNorm, BatchNorm1d, BatchNorm2d, batchnorm_backward,
                                    batchnorm_forward, channel_axes)

SEEDS = [0, 1, 2]
SHAPES = {2: (7, 4), 3: (5, 4, 3), 4: (3, 4, 5, 2)}   # channel axis 1 has 4 everywhere


def random_input(rng, ndim):
    shape = SHAPES[ndim]
    offsets = rng.standard_normal((1, shape[1]) + (1,) * (ndim - 2)) * 3   # each channel its own mean
    return rng.standard_normal(shape) * rng.uniform(0.5, 3) + offsets


def with_random_affine(layer, rng):
    if layer.affine:   # a non-trivial gain and shift so their gradients are exercised
        layer.params["weight"][:] = rng.uniform(0.5, 2.0, layer.num_features)
        layer.params["bias"][:] = rng.standard_normal(layer.num_features)
    return layer


# --- the kernels against torch autograd -------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ndim", [2, 3, 4])
@pytest.mark.parametrize("training", [True, False])
def test_kernels_match_torch_autograd(seed, ndim, training):
    rng = np.random.default_rng(seed)
    x = random_input(rng, ndim)
    c = x.shape[1]
    gamma, beta, dout = rng.uniform(0.5, 2, c), rng.standard_normal(c), rng.standard_normal(x.shape)
    mean, var = (None, None) if training else (rng.standard_normal(c), rng.uniform(0.5, 2, c))
    out, cache = batchnorm_forward(x, gamma, beta, 1e-5, mean=mean, var=var)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)

    x_t, g_t, b_t = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    running = (None, None) if training else (torch.from_numpy(mean), torch.from_numpy(var))
    out_t = F.batch_norm(x_t, *running, g_t, b_t, training=training, eps=1e-5)
    out_t.backward(torch.from_numpy(dout))
    for name, ours, theirs in [("out", out, out_t), ("dx", dx, x_t.grad), ("dgamma", dgamma, g_t.grad),
                               ("dbeta", dbeta, b_t.grad)]:
        assert ours.shape == tuple(theirs.shape), name
        np.testing.assert_allclose(ours, theirs.detach().numpy(), atol=1e-10, err_msg=name)
    if training:
        axes = channel_axes(ndim)
        np.testing.assert_allclose(cache.mean, x.mean(axis=axes))
        np.testing.assert_allclose(cache.var, x.var(axis=axes))                 # biased variance
        np.testing.assert_allclose(dx.sum(axis=axes), 0, atol=1e-10)          # shifting a channel changes nothing


def test_channel_axes():
    assert channel_axes(2) == (0,)
    assert channel_axes(3) == (0, 2)
    assert channel_axes(4) == (0, 2, 3)


# --- the layer against nn.BatchNorm1d / nn.BatchNorm2d --------------------------------------------
LAYERS = [(BatchNorm, 2), (BatchNorm, 3), (BatchNorm, 4), (BatchNorm1d, 2), (BatchNorm1d, 3), (BatchNorm2d, 4)]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("cls, ndim", LAYERS)
@pytest.mark.parametrize("affine", [True, False])
def test_training_matches_torch_and_gradcheck(seed, cls, ndim, affine):
    rng = np.random.default_rng(seed)
    x = random_input(rng, ndim)
    layer = with_random_affine(cls(x.shape[1], affine=affine), rng)
    if cls is BatchNorm and ndim == 4:
        layer.forward(x)   # the general layer picks its twin from the layout it has seen
    expected = torch.nn.BatchNorm2d if ndim == 4 else torch.nn.BatchNorm1d
    assert type(layer.to_torch()) is expected
    errors = compare_with_torch(layer, x, seed=seed)
    assert max(errors.values()) < 1e-10, errors
    assert max(gradcheck(layer, x, seed=seed).values()) < 1e-6


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ndim", [2, 4])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_running_stats_and_eval_match_torch(seed, ndim, momentum):
    rng = np.random.default_rng(seed)
    layer = with_random_affine((BatchNorm2d if ndim == 4 else BatchNorm)(4, momentum=momentum), rng)
    twin = layer.to_torch()
    for _ in range(5):
        x = random_input(rng, ndim) * 2 + 1
        out = layer.forward(x)
        np.testing.assert_allclose(out, twin(torch.from_numpy(x)).detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(layer.running_mean, twin.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.running_var, twin.running_var.numpy(), atol=1e-12)
    assert layer.num_batches_tracked == int(twin.num_batches_tracked) == 5
    assert not np.allclose(layer.running_mean, 0)       # the statistics really moved
    assert not np.allclose(layer.running_var, 1)

    layer.eval()
    twin = layer.to_torch()                              # carries the running statistics and the mode
    assert not twin.training
    np.testing.assert_array_equal(twin.running_mean.numpy(), layer.running_mean)
    x = random_input(rng, ndim)
    errors = compare_with_torch(layer, x, seed=seed)
    assert max(errors.values()) < 1e-10, errors
    assert max(gradcheck(layer, x, seed=seed).values()) < 1e-6
    # evaluation: one example's output does not depend on its batch, and the statistics stay put
    before = layer.running_mean.copy()
    np.testing.assert_allclose(layer.forward(x[:1]), layer.forward(x)[:1], atol=1e-14)
    np.testing.assert_array_equal(layer.running_mean, before)


def test_images_are_normalised_per_channel_over_batch_and_pixels():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3, 6, 6)) * np.array([1, 10, 100])[:, None, None] + np.array([5, -5, 50])[:, None, None]
    out = BatchNorm(3).forward(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-4)
    assert not np.allclose(out.mean(axis=(0, 2)), 0, atol=1e-3)   # not per pixel column: per channel only
    assert BatchNorm(3).forward(x.astype(np.float32)).dtype == np.float32


def test_single_image_in_training_is_enough_but_single_value_is_not():
    BatchNorm2d(2).forward(np.random.default_rng(0).standard_normal((1, 2, 3, 3)))   # 9 values per channel
    with pytest.raises(ValueError, match=r"more than 1 value per channel in training mode.*call .eval\(\)"):
        BatchNorm2d(2).forward(np.ones((1, 2, 1, 1)))
    BatchNorm2d(2).eval().forward(np.ones((1, 2, 1, 1)))   # fine in evaluation


def test_float32_layers_and_twins():
    layer = BatchNorm2d(3).astype(np.float32)
    assert layer.running_var.dtype == np.float32
    twin = layer.to_torch()
    assert type(twin) is torch.nn.BatchNorm2d and twin.weight.dtype == torch.float32
    assert twin.running_var.dtype == torch.float32


def test_regularization_keeps_its_names():
    from nncourse import regularization

    assert regularization.BatchNorm1d is BatchNorm1d
    assert regularization.batchnorm_forward is batchnorm_forward
    assert isinstance(BatchNorm1d(2), BatchNorm) and isinstance(BatchNorm2d(2), BatchNorm)


def test_bad_input_and_arguments():
    with pytest.raises(ValueError, match=r"BatchNorm\(4\) expects x of shape \(N, 4\), \(N, 4, L\) or \(N, 4, H, W\), "
                                         r"got \(5, 3, 2, 2\) \(channel axis 1 has 3\)"):
        BatchNorm(4).forward(np.ones((5, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"x must be 2-D or 3-D or 4-D, got a 5-D array"):
        BatchNorm(4).forward(np.ones((2, 4, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"x must be 4-D, got a 2-D array of shape \(5, 4\)"):
        BatchNorm2d(4).forward(np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4\) expects x of shape \(N, 4, H, W\), got \(5, 2, 3, 3\)"):
        BatchNorm2d(4).forward(np.ones((5, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"x must be 2-D or 3-D, got a 4-D array"):
        BatchNorm1d(4).forward(np.ones((2, 4, 3, 3)))
    layer = BatchNorm(4)
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward"):
        layer.backward(np.ones((2, 4)))
    layer.forward(np.random.default_rng(0).standard_normal((3, 4, 2, 2)))
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output \(3, 4, 2, 2\), got \(3, 4\)"):
        layer.backward(np.ones((3, 4)))
    with pytest.raises(ValueError, match="num_features must be a positive integer"):
        BatchNorm(0)
    with pytest.raises(ValueError, match="momentum must be in"):
        BatchNorm(3, momentum=2)
    with pytest.raises(ValueError, match="eps must be positive"):
        BatchNorm(3, eps=0)
    with pytest.raises(TypeError):
        BatchNorm(3, 1e-5)   # eps and momentum are keyword-only on the general layer
