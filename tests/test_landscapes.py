"""Loss surfaces: gradients match autograd; optimizer paths match torch.optim; the race's claims hold."""
import numpy as np
import pytest
import torch

from nncourse import landscapes
from nncourse.gradcheck import relative_error
from nncourse.landscapes import LANDSCAPES, descend

NAMES = list(LANDSCAPES)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_autograd_and_finite_differences(name, seed):
    land = LANDSCAPES[name]
    rng = np.random.default_rng(seed)
    x = rng.uniform(*land.xlim, 20)
    y = rng.uniform(*land.ylim, 20)
    xt, yt = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    land.value(xt, yt).sum().backward()  # the same formula runs on tensors
    dx, dy = land.gradient(x, y)
    np.testing.assert_allclose(land.value(x, y), land.value(xt, yt).detach().numpy(), rtol=1e-14)
    assert relative_error(dx, xt.grad.numpy()) < 1e-12
    assert relative_error(dy, yt.grad.numpy()) < 1e-12
    h = 1e-6
    assert relative_error(dx, (land.value(x + h, y) - land.value(x - h, y)) / (2 * h)) < 1e-6
    assert relative_error(dy, (land.value(x, y + h) - land.value(x, y - h)) / (2 * h)) < 1e-6


@pytest.mark.parametrize("name, expected", [("ravine", 0.0), ("rosenbrock", 0.0), ("saddle", -0.25), ("beale", 0.0)])
def test_minima(name, expected):
    land = LANDSCAPES[name]
    assert land.min_value == pytest.approx(expected, abs=1e-14)
    for x, y in land.minima:
        np.testing.assert_allclose(land.gradient(x, y), 0, atol=1e-12)
    xx, yy, zz = land.grid(101)
    assert zz.shape == (101, 101) and zz.min() >= expected - 1e-12
    assert np.isfinite(land.value(*land.start))


@pytest.mark.parametrize("name, optimizer, torch_optimizer, lr", [
    ("rosenbrock", "adam", lambda p, lr: torch.optim.Adam(p, lr=lr), 0.05),
    ("beale", "momentum", lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9), 0.002),
    ("saddle", "rmsprop", lambda p, lr: torch.optim.RMSprop(p, lr=lr), 0.05),
    ("ravine", "sgd", lambda p, lr: torch.optim.SGD(p, lr=lr), 0.45),
])
def test_descend_follows_torch_optim(name, optimizer, torch_optimizer, lr):
    land = LANDSCAPES[name]
    path, losses = descend(land, optimizer, lr=lr, steps=60)
    point = torch.tensor(land.start, dtype=torch.float64, requires_grad=True)
    opt = torch_optimizer([point], lr)
    expected = [point.detach().numpy().copy()]
    for _ in range(60):
        opt.zero_grad()
        land.value(point[0], point[1]).backward()
        opt.step()
        expected.append(point.detach().numpy().copy())
    np.testing.assert_allclose(path, np.array(expected), atol=1e-10)
    assert losses[-1] < losses[0]


def test_sgd_zigzags_across_the_ravine_and_momentum_overshoots():
    sgd, _ = descend("ravine", "sgd", lr=0.45, steps=40)
    # the steep coordinate y flips sign on every step (factor 1 - 0.45 * 4 = -0.8) ...
    assert np.all(np.sign(sgd[1:, 1]) == -np.sign(sgd[:-1, 1]))
    # ... while the flat coordinate x only creeps towards 0, never passing it
    assert np.all(sgd[:, 0] < 0) and sgd[-1, 0] < -0.1
    heavy_ball, _ = descend("ravine", "momentum", lr=0.05, steps=40)
    assert heavy_ball[:, 0].max() > 0.5  # the heavy ball rolls past the minimum in x


def test_adam_first_steps_have_length_lr_in_every_coordinate():
    path, _ = descend("ravine", "adam", lr=0.3, steps=1)
    np.testing.assert_allclose(np.abs(path[1] - path[0]), [0.3, 0.3], rtol=1e-6)


def test_plain_gradient_descent_lingers_at_the_saddle():
    def steps_near_saddle(optimizer, lr):
        path, _ = descend("saddle", optimizer, lr=lr, steps=200)
        return int(np.sum(np.hypot(path[:, 0], path[:, 1]) < 0.3))

    sgd = steps_near_saddle("sgd", 0.1)
    assert sgd > 20
    assert steps_near_saddle("momentum", 0.05) < sgd / 3
    assert steps_near_saddle("adam", 0.1) < sgd / 3
    _, losses = descend("saddle", "sgd", lr=0.1, steps=200)
    assert losses[-1] == pytest.approx(-0.25, abs=1e-6)  # it escapes in the end


def test_diverging_path_stops_and_is_padded_with_nan():
    path, losses = descend("ravine", "sgd", lr=1.0, steps=100)  # y factor 1 - 4 = -3 per step
    finite = np.isfinite(path[:, 0])
    assert finite[0] and not finite[-1]
    assert np.all(np.abs(path[finite]) < 1e6)
    assert np.isnan(losses[-1])


def test_bad_input():
    with pytest.raises(ValueError, match="unknown landscape 'himmelblau'; known: ravine, rosenbrock"):
        landscapes.get("himmelblau")
    with pytest.raises(ValueError, match=r"start must be a finite point \(x, y\), got \(1, 2, 3\)"):
        descend("ravine", start=(1, 2, 3))
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        descend("ravine", steps=0)
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        descend("ravine", "lion")
