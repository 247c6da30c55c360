"""nncourse.recipe and nncourse.at_scale.recipe (notebook 04, sections 8-12): the training recipe,
checked against torch.optim / torch.optim.lr_scheduler, simulation and closed forms."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import nncourse
from nncourse import recipe
from nncourse.at_scale import recipe as recipe_torch

S = torch.optim.lr_scheduler


# --- sanity checks -------------------------------------------------------------------------------

def test_update_ratios_per_tensor():
    before = {"w": np.array([3.0, 4.0]), "b": np.array([1.0])}
    after = {"w": np.array([3.0, 4.5]), "b": np.array([1.0])}
    assert recipe.update_ratios(before, after) == pytest.approx({"w": 0.1, "b": 0.0})


def test_update_ratios_of_an_sgd_step_is_lr_times_grad_norm_over_weight_norm():
    net = nncourse.mlp([5, 7, 3], "tanh", seed=0)
    x, y = np.random.default_rng(0).standard_normal((8, 5)), np.arange(8) % 3
    _, d = nncourse.losses.cross_entropy(net.forward(x), y)
    net.backward(d)
    before = {k: v.copy() for k, v in net.params.items()}
    nncourse.optim.SGD(net.params, lr=0.01).step(net.grads)
    ratios = recipe.update_ratios(before, net.params)
    for name, g in net.grads.items():
        assert ratios[name] == pytest.approx(0.01 * np.linalg.norm(g) / np.linalg.norm(before[name]), rel=1e-12)


def test_update_ratios_errors():
    with pytest.raises(ValueError, match="same parameters"):
        recipe.update_ratios({"w": np.ones(2)}, {"v": np.ones(2)})
    with pytest.raises(ValueError, match="shape"):
        recipe.update_ratios({"w": np.ones(2)}, {"w": np.ones(3)})


# --- range test ----------------------------------------------------------------------------------

def test_smooth_losses_is_a_bias_corrected_ema():
    losses = np.array([2.0, 1.0, 4.0, 3.0])
    beta, avg, want = 0.9, 0.0, []
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        want.append(avg / (1 - beta ** (i + 1)))
    assert np.allclose(recipe.smooth_losses(losses, beta), want, rtol=1e-14)
    assert recipe.smooth_losses(losses, beta)[0] == 2.0          # the correction removes the zero start
    assert np.allclose(recipe.smooth_losses(np.full(50, 3.0), 0.98), 3.0)  # a constant stays constant
    assert np.array_equal(recipe.smooth_losses(losses, 0.0), losses)


def test_range_test_rates_are_geometric_and_it_stops_at_divergence():
    # a loss that falls, then explodes past lr = 0.1
    lrs, losses, smoothed = recipe.lr_range_test(lambda lr: 1.0 if lr < 0.1 else 1.0 + 100 * lr,
                                                 1e-4, 10.0, 51, beta=0.5)
    assert lrs[0] == pytest.approx(1e-4) and np.allclose(lrs[1:] / lrs[:-1], 10 ** 0.1)
    assert len(lrs) < 51 and smoothed[-1] > 4 * smoothed[:-1].min()
    assert smoothed[:-1].max() <= 4 * smoothed[:-1].min()       # it did not run past the first divergence
    assert np.allclose(smoothed, recipe.smooth_losses(losses, 0.5))
    full, _, _ = recipe.lr_range_test(lambda lr: 1.0, 1e-4, 10.0, 51)
    assert len(full) == 51 and full[-1] == pytest.approx(10.0)
    nan_lrs, _, _ = recipe.lr_range_test(lambda lr: float("nan") if lr > 1e-2 else 1.0, 1e-4, 1.0, 5)
    assert nan_lrs[-1] == pytest.approx(1e-1) and len(nan_lrs) == 4


def test_suggest_lr_is_the_minimum_over_ten():
    assert recipe.suggest_lr([1e-3, 1e-2, 1e-1], [2.0, 0.5, np.nan]) == pytest.approx(1e-3)
    assert recipe.suggest_lr([1e-3, 1e-2, 1e-1], [2.0, 0.5, 9.0], factor=2) == pytest.approx(5e-3)


def test_range_test_on_a_torch_model_equals_the_hand_loop():
    torch.manual_seed(0)
    X, y = torch.randn(8 * 32, 6), torch.randint(0, 3, (8 * 32,))
    batches = [(X[i:i + 32], y[i:i + 32]) for i in range(0, len(X), 32)]

    def model():
        torch.manual_seed(1)
        return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))

    got = recipe_torch.range_test(model(), batches, 1e-3, 1.0, beta=0.8, diverge=1e9)
    m = model()
    opt = torch.optim.Adam(m.parameters(), lr=1.0)
    want = []
    for i, (xb, yb) in enumerate(batches):
        opt.param_groups[0]["lr"] = 1e-3 * 1000 ** (i / 7)
        loss = F.cross_entropy(m(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        want.append(loss.item())
    assert np.array_equal(got[1], want)
    assert np.allclose(got[0], np.geomspace(1e-3, 1.0, 8))
    with pytest.raises(ValueError, match="at least 2 batches"):
        recipe_torch.range_test(model(), batches[:1], 1e-3, 1.0)


@pytest.mark.parametrize("call, message", [
    (lambda: recipe.lr_range_test(lambda lr: 1.0, 1.0, 0.1, 10), "lr_max must exceed lr_min"),
    (lambda: recipe.lr_range_test(lambda lr: 1.0, 0.0, 0.1, 10), "lr_min must be a positive"),
    (lambda: recipe.lr_range_test(lambda lr: 1.0, 1e-3, 0.1, 1), "num_steps must be at least 2"),
    (lambda: recipe.lr_range_test(lambda lr: 1.0, 1e-3, 0.1, 10, beta=1.0), r"beta must be in \[0, 1\)"),
    (lambda: recipe.smooth_losses(np.ones((2, 2))), "must be 1-D"),
    (lambda: recipe.suggest_lr([1.0], [1.0, 2.0]), "same non-zero length"),
])
def test_range_test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- one-cycle -----------------------------------------------------------------------------------

@pytest.mark.parametrize("total, kwargs", [
    (100, {}), (37, dict(pct_start=0.25)), (10, dict(pct_start=0.5, div_factor=10.0, final_div_factor=100.0)),
    (1000, dict(pct_start=0.1)),
])
def test_one_cycle_equals_torch_onecycle(total, kwargs):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = S.OneCycleLR(opt, max_lr=0.5, total_steps=total, **kwargs)
    theirs = []
    for _ in range(total):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    ours = [recipe.one_cycle_lr(t, 0.5, total, **kwargs) for t in range(total)]
    assert np.abs(np.array(ours) - theirs).max() < 1e-14
    assert max(ours) == pytest.approx(0.5, rel=1e-2) and ours[-1] < ours[0] < max(ours)  # up, then down below the start


@pytest.mark.parametrize("call, message", [
    (lambda: recipe.one_cycle_lr(10, 0.1, 10), r"step must be an integer in \[0, 9\]"),
    (lambda: recipe.one_cycle_lr(-1, 0.1, 10), "step must be an integer"),
    (lambda: recipe.one_cycle_lr(0, -0.1, 10), "max_lr must be a positive"),
    (lambda: recipe.one_cycle_lr(0, 0.1, 0), "total_steps must be a positive integer"),
    (lambda: recipe.one_cycle_lr(0, 0.1, 10, pct_start=1.0), r"pct_start must be in \(0, 1\)"),
])
def test_one_cycle_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- gradient noise ------------------------------------------------------------------------------

def test_gradient_noise_matches_the_without_replacement_formula():
    rng = np.random.default_rng(0)
    per_example = rng.standard_normal((300, 20)) * np.linspace(0.1, 3, 20) + 1.0
    sizes = [1, 4, 16, 64, 300]
    measured = recipe.gradient_noise(per_example, sizes, 400, np.random.default_rng(1))
    theory = recipe.gradient_noise_theory(per_example, sizes)
    assert np.allclose(measured[:-1], theory[:-1], rtol=0.15)
    assert theory[-1] == 0 and measured[-1] < 1e-25            # the whole set: the exact gradient
    sigma2 = np.mean(np.sum((per_example - per_example.mean(0)) ** 2, axis=1))
    assert theory[0] == pytest.approx(sigma2)


def test_minibatch_gradients_are_unbiased():
    rng = np.random.default_rng(0)
    per_example = rng.standard_normal((50, 3))
    draws = recipe.minibatch_gradients(per_example, 5, 4000, rng)
    assert draws.shape == (4000, 3)
    assert np.allclose(draws.mean(axis=0), per_example.mean(axis=0), atol=0.03)


@pytest.mark.parametrize("call, message", [
    (lambda: recipe.minibatch_gradients(np.ones(5), 2, 3, np.random.default_rng()), r"must be \(N, D\)"),
    (lambda: recipe.minibatch_gradients(np.ones((5, 2)), 6, 3, np.random.default_rng()), "exceeds the 5 examples"),
    (lambda: recipe.minibatch_gradients(np.ones((5, 2)), 0, 3, np.random.default_rng()), "batch_size must be a positive"),
    (lambda: recipe.gradient_noise_theory(np.ones((5, 2)), [6]), "at most the 5 examples"),
])
def test_gradient_noise_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- heavy ball ----------------------------------------------------------------------------------

def test_heavy_ball_rate_is_the_spectral_radius():
    a, b = np.meshgrid(np.linspace(0.01, 4.5, 60), np.linspace(0, 0.99, 40))
    eig = np.array([[np.abs(np.linalg.eigvals(recipe.heavy_ball_matrix(x, y, 1.0))).max() for x in a[0]] for y in b[:, 0]])
    assert np.abs(recipe.heavy_ball_rate(a, b) - eig).max() < 1e-10
    assert recipe.heavy_ball_rate(0.5, 0.0, 2.0) == pytest.approx(0.0)   # lr = 1 / curvature: one step
    assert recipe.heavy_ball_rate(0.1, 0.81, 10.0) == pytest.approx(0.9)  # complex: sqrt(beta)


def test_heavy_ball_matrix_is_torch_sgd_with_momentum():
    lr, beta, curvature = 0.07, 0.85, 3.0
    x = torch.tensor([1.5], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=lr, momentum=beta)
    state, M = np.array([1.5, 0.0]), recipe.heavy_ball_matrix(lr, beta, curvature)
    sim = recipe.heavy_ball_simulate(lr, beta, curvature, 30, x0=1.5)
    for t in range(30):
        opt.zero_grad()
        (curvature * x ** 2 / 2).sum().backward()
        opt.step()
        state = M @ state
        assert x.item() == pytest.approx(state[0], abs=1e-12) == pytest.approx(sim[t + 1], abs=1e-12)


def test_phase_diagram_closed_form_agrees_with_simulation():
    a, b = np.meshgrid(np.linspace(0.02, 4.5, 45), np.linspace(0, 0.97, 25))
    rate = recipe.heavy_ball_rate(a, b)
    closed = recipe.heavy_ball_converges(a, b)
    assert np.array_equal(closed, rate < 1)
    for lr, beta, r in zip(a.ravel(), b.ravel(), rate.ravel()):
        if abs(r - 1) > 0.01:
            end = recipe.heavy_ball_simulate(lr, beta, 1.0, 1500)[-1]
            assert (abs(end) < 1) == (r < 1), (lr, beta, r)
    # the boundary is lr * curvature = 2 (1 + beta)
    assert recipe.heavy_ball_converges(2 * 1.9 - 1e-9, 0.9) and not recipe.heavy_ball_converges(2 * 1.9 + 1e-9, 0.9)
    assert not recipe.heavy_ball_converges(0.1, 1.0) and not recipe.heavy_ball_converges(0.0, 0.5)


def test_optimal_momentum_rate_on_a_ravine():
    mu, L = 0.2, 4.0
    kappa = L / mu
    beta = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    lr = (2 / (math.sqrt(mu) + math.sqrt(L))) ** 2
    rate = max(recipe.heavy_ball_rate(lr, beta, mu), recipe.heavy_ball_rate(lr, beta, L))
    assert rate == pytest.approx((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1), abs=1e-6)


def test_heavy_ball_errors():
    with pytest.raises(ValueError, match="beta must be non-negative"):
        recipe.heavy_ball_rate(0.1, -0.5)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        recipe.heavy_ball_simulate(0.1, 0.5, 1.0, 0)


# --- search --------------------------------------------------------------------------------------

def test_grid_and_random_configs():
    ranges = {"lr": (1e-4, 1e-1), "wd": (1e-6, 1e-3)}
    grid = recipe.grid_configs(ranges, 3)
    assert len(grid) == 9 and sorted({c["lr"] for c in grid}) == pytest.approx([1e-4, 10 ** -2.5, 1e-1])
    assert len({(c["lr"], c["wd"]) for c in grid}) == 9
    draws = recipe.random_configs(ranges, 2000, np.random.default_rng(0))
    lrs = np.array([c["lr"] for c in draws])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1 and len(set(lrs)) == 2000
    assert np.mean(lrs < 10 ** -2.5) == pytest.approx(0.5, abs=0.05)   # log-uniform: half below the log-midpoint
    assert recipe.random_configs(ranges, 4, np.random.default_rng(3)) == recipe.random_configs(ranges, 4, np.random.default_rng(3))


@pytest.mark.parametrize("call, message", [
    (lambda: recipe.grid_configs({}, 3), "at least one hyperparameter"),
    (lambda: recipe.grid_configs({"lr": (0.0, 1.0)}, 3), "0 < low < high"),
    (lambda: recipe.grid_configs({"lr": (1.0, 0.1)}, 3), "0 < low < high"),
    (lambda: recipe.random_configs({"lr": (1e-3, 1.0)}, 0, np.random.default_rng()), "n must be a positive integer"),
])
def test_search_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
