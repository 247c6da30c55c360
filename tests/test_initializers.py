"""Initialisation schemes against torch.nn.init, and the signal-propagation experiment."""
import math

import numpy as np
import pytest
import torch

from nncourse import initializers as init
from nncourse.initializers import signal_propagation
from nncourse.layers import Linear, ReLU, Sequential, mlp


@pytest.mark.parametrize("name,param", [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                                        ("leaky_relu", 0.01)])
def test_gain_matches_torch(name, param):
    assert init.gain(name) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_relu_like_activations_use_relus_gain():
    for name in ("elu", "gelu", "silu", "softplus"):
        assert init.gain(name) == pytest.approx(math.sqrt(2))


FAN_OUT, FAN_IN = 300, 400


def _torch_weight(fill, seed=0):
    torch.manual_seed(seed)
    w = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)
    fill(w)
    return w.numpy()


@pytest.mark.parametrize("scheme,distribution,fill", [
    ("xavier", "normal", torch.nn.init.xavier_normal_),
    ("xavier", "uniform", torch.nn.init.xavier_uniform_),
    ("he", "normal", lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu")),
    ("he", "uniform", lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")),
    ("pytorch", "normal", lambda w: torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5))),  # nn.Linear's default
])
def test_schemes_match_torch_init(scheme, distribution, fill):
    ours = init.init_weight(FAN_OUT, FAN_IN, scheme, activation="relu", distribution=distribution, seed=1)
    theirs = _torch_weight(fill)
    assert ours.shape == theirs.shape == (FAN_OUT, FAN_IN)
    expected = init.weight_std(scheme, FAN_IN, FAN_OUT, activation="relu")
    # 120,000 draws: the sample standard deviation is within 1 % of the true one.
    assert ours.std() == pytest.approx(expected, rel=0.01)
    assert theirs.std() == pytest.approx(expected, rel=0.01)
    if distribution == "uniform" or scheme == "pytorch":
        bound = math.sqrt(3) * expected
        assert np.abs(ours).max() <= bound and np.abs(ours).max() > 0.99 * bound
        assert np.abs(theirs).max() <= bound and np.abs(theirs).max() > 0.99 * bound


def test_pytorch_scheme_is_nn_linear_default():
    torch.manual_seed(0)
    layer = torch.nn.Linear(FAN_IN, FAN_OUT)
    bound = 1 / math.sqrt(FAN_IN)
    assert math.sqrt(3) * init.weight_std("pytorch", FAN_IN, FAN_OUT) == pytest.approx(bound)
    assert layer.weight.abs().max().item() == pytest.approx(bound, rel=0.01)


def test_naive_is_standard_normal_times_scale_and_seeded():
    w = init.init_weight(200, 300, "naive", scale=0.01, seed=3)
    assert w.std() == pytest.approx(0.01, rel=0.02)
    np.testing.assert_array_equal(w, init.init_weight(200, 300, "naive", scale=0.01, seed=3))
    assert not np.array_equal(w, init.init_weight(200, 300, "naive", scale=0.01, seed=4))
    assert init.init_weight(3, 2, "he", dtype=np.float32).dtype == np.float32
    assert init.weight_std("kaiming", 50, 10, activation="tanh") == pytest.approx(5 / 3 / math.sqrt(50))
    assert init.weight_std("glorot", 50, 10) == pytest.approx(math.sqrt(2 / 60))


def test_initialize_numpy_model_and_torch_module():
    model = mlp([64, 128, 128, 10], "relu", seed=0)
    assert init.initialize(model, "he", seed=1) is model
    for layer in model.layers[::2]:
        assert layer.params["weight"].std() == pytest.approx(math.sqrt(2 / layer.in_features), rel=0.05)
        assert np.all(layer.params["bias"] == 0)
    module = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 256))
    assert init.initialize_torch(module, "xavier", seed=1) is module
    for layer in (module[0], module[2]):
        fan_out, fan_in = layer.weight.shape
        assert layer.weight.std().item() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.05)
        assert torch.all(layer.bias == 0)
    single = Linear(5, 3)
    init.initialize(single, "naive", scale=2.0)
    assert np.all(single.params["bias"] == 0)


def test_bad_arguments_give_clear_errors():
    with pytest.raises(ValueError, match="unknown initialisation scheme 'lecun'.*naive, xavier, he, pytorch"):
        init.weight_std("lecun", 3, 3)
    with pytest.raises(ValueError, match="scale must be a positive number, got -1"):
        init.weight_std("naive", 3, 3, scale=-1)
    with pytest.raises(ValueError, match="fan_in must be a positive integer, got 0"):
        init.weight_std("he", 0, 3)
    with pytest.raises(ValueError, match="distribution must be 'normal' or 'uniform', got 'gaussian'"):
        init.init_weight(3, 3, "he", distribution="gaussian")
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        init.gain("relu6")
    with pytest.raises(ValueError, match="found no Linear layer in Sequential"):
        init.initialize(Sequential(ReLU()))
    with pytest.raises(ValueError, match="found no nn.Linear in ReLU"):
        init.initialize_torch(torch.nn.ReLU())
    with pytest.raises(ValueError, match="depth must be a positive integer, got 0"):
        signal_propagation(depth=0)


# --- signal propagation --------------------------------------------------------------------------

@pytest.mark.parametrize("activation,scheme", [("tanh", "xavier"), ("relu", "he"), ("sigmoid", "naive")])
def test_signal_propagation_matches_torch_autograd(activation, scheme):
    depth, width, batch = 6, 12, 9
    stats = signal_propagation(depth, width, activation, scheme, batch_size=batch, seed=5)
    x, standard, out_grad = init._standard_draws(depth, width, batch, 5)
    weights = [torch.tensor(stats.weight_std * standard[i], requires_grad=True) for i in range(depth)]
    act = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[activation]
    h = torch.tensor(x)
    hs = []
    for w in weights:
        h = act(h @ w.T)
        h.retain_grad()
        hs.append(h)
    (h * torch.tensor(out_grad)).sum().backward()
    for i in range(depth):
        np.testing.assert_allclose(stats.activations[i], hs[i].detach().numpy(), rtol=1e-12, atol=1e-14)
        assert stats.grad_norm[i] == pytest.approx(weights[i].grad.norm().item(), rel=1e-10)
        if i:
            assert stats.input_grad_std[i] == pytest.approx(hs[i - 1].grad.std(unbiased=False).item(), rel=1e-10)


def test_sigmoid_with_small_naive_weights_loses_its_gradient():
    stats = signal_propagation(30, 64, "sigmoid", "naive", scale=0.1)
    assert stats.gradient_ratio() < 1e-10  # layer 1 learns ten billion times slower than layer 30


def test_relu_with_he_keeps_signal_and_gradient_healthy():
    stats = signal_propagation(30, 64, "relu", "he")
    assert np.all((stats.activation_std > 0.1) & (stats.activation_std < 10))
    assert 0.1 < stats.gradient_ratio() < 10
    assert stats.grad_norm.max() / stats.grad_norm.min() < 10


def test_bad_scales_vanish_or_explode():
    assert signal_propagation(30, 64, "tanh", "naive", scale=0.01).activation_std[-1] < 1e-20
    assert signal_propagation(30, 64, "relu", "naive", scale=1.0).activation_std[-1] > 1e20
    tanh_naive = signal_propagation(30, 64, "tanh", "naive", scale=1.0)
    assert tanh_naive.saturated.mean() > 0.5  # |z| ~ 8: most tanh units are flat


def test_signal_propagation_is_seeded():
    a = signal_propagation(5, 16, "gelu", "he", seed=2)
    b = signal_propagation(5, 16, "gelu", "he", seed=2)
    c = signal_propagation(5, 16, "gelu", "he", seed=3)
    np.testing.assert_array_equal(a.grad_norm, b.grad_norm)
    assert not np.array_equal(a.grad_norm, c.grad_norm)
    assert a.depth == 5 and a.activations[0].shape == (100, 16)


def test_pytorch_scheme_uses_uniform_weights():
    stats = signal_propagation(3, 200, "linear", "pytorch", batch_size=500)
    # A linear layer with Var w = 1/(3 fan_in) divides the variance by 3.
    assert stats.activation_std[0] == pytest.approx(1 / math.sqrt(3), rel=0.05)
