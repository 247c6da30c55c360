"""nncourse.optim tracks torch.optim and torch.optim.lr_scheduler step for step (float64)."""
import inspect

import numpy as np
import pytest
import torch

import nncourse
from nncourse import losses, optim

STEPS = 30
TOL = 1e-8

# (our class, torch class, hyperparameters) - the defaults, and every option switched on once.
CONFIGS = [
    (optim.SGD, torch.optim.SGD, dict(lr=0.05)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.02, momentum=0.9)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.02, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    (optim.Adagrad, torch.optim.Adagrad, dict()),
    (optim.Adagrad, torch.optim.Adagrad, dict(lr=0.2, lr_decay=0.05, weight_decay=0.01,
                                              initial_accumulator_value=0.1, eps=1e-6)),
    (optim.RMSprop, torch.optim.RMSprop, dict()),
    (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.005, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.01)),
    (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.9)),
    (optim.Adam, torch.optim.Adam, dict()),
    (optim.Adam, torch.optim.Adam, dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    (optim.Adam, torch.optim.Adam, dict(lr=0.02, amsgrad=True)),
    (optim.AdamW, torch.optim.AdamW, dict()),
    (optim.AdamW, torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
]
IDS = [f"{cls.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for cls, _, kw in CONFIGS]


def random_quadratic(seed):
    """Loss 0.5 * sum_k (p_k - c_k)^T A_k (p_k - c_k) over a matrix and a vector parameter,
    each with its own ill-conditioned SPD matrix A_k (condition number 20)."""
    rng = np.random.default_rng(seed)
    shapes = {"weight": (3, 4), "bias": (5,)}
    problem = {}
    for name, shape in shapes.items():
        n = int(np.prod(shape))
        q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        a = q @ np.diag(np.geomspace(1.0, 20.0, n)) @ q.T
        problem[name] = (a, rng.standard_normal(shape), rng.standard_normal(shape))  # A, centre, start
    return problem


def numpy_quadratic_grads(problem, params):
    return {name: (a @ (params[name] - c).ravel()).reshape(c.shape) for name, (a, c, _) in problem.items()}


def torch_quadratic_loss(problem, tensors):
    total = 0
    for name, (a, c, _) in problem.items():
        d = (tensors[name] - torch.from_numpy(c)).reshape(-1)
        total = total + 0.5 * d @ torch.from_numpy(a) @ d
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ours, theirs, hyper", CONFIGS, ids=IDS)
def test_tracks_torch_on_random_quadratics(ours, theirs, hyper, seed):
    problem = random_quadratic(seed)
    params = {name: start.copy() for name, (_, _, start) in problem.items()}
    tensors = {name: torch.tensor(start, requires_grad=True) for name, (_, _, start) in problem.items()}
    opt, opt_t = ours(params, **hyper), theirs(list(tensors.values()), **hyper)
    start_loss = float(torch_quadratic_loss(problem, tensors).detach())
    worst = 0.0
    for _ in range(STEPS):
        opt.step(numpy_quadratic_grads(problem, params))
        opt_t.zero_grad()
        torch_quadratic_loss(problem, tensors).backward()
        opt_t.step()
        worst = max(worst, max(float(np.max(np.abs(params[n] - t.detach().numpy()))) for n, t in tensors.items()))
    assert worst < TOL, f"max |ours - torch| = {worst:.3g} over {STEPS} steps"
    # and the parameters really moved (a test of an optimizer that does nothing would pass above)
    assert max(float(np.max(np.abs(params[n] - problem[n][2]))) for n in params) > 1e-3
    assert float(torch_quadratic_loss(problem, tensors).detach()) < start_loss


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("ours, theirs, hyper", CONFIGS, ids=IDS)
def test_tracks_torch_on_a_small_mlp(ours, theirs, hyper, seed):
    rng = np.random.default_rng(seed)
    model = nncourse.mlp([3, 6, 5, 2], "tanh", seed=seed)
    twin = model.to_torch()
    X, Y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    opt = ours(model.params, **hyper)
    opt_t = theirs(twin.parameters(), **hyper)
    X_t, Y_t = torch.from_numpy(X), torch.from_numpy(Y)
    worst = 0.0
    first_loss = None
    for _ in range(STEPS):
        loss, dout = losses.mse(model.forward(X), Y)
        first_loss = loss if first_loss is None else first_loss
        model.backward(dout)
        opt.step(model.grads)
        opt_t.zero_grad()
        torch.nn.functional.mse_loss(twin(X_t), Y_t).backward()
        opt_t.step()
        for name, p in twin.named_parameters():
            worst = max(worst, float(np.max(np.abs(model.params[name] - p.detach().numpy()))))
    assert worst < TOL, f"max |ours - torch| = {worst:.3g} over {STEPS} steps"
    assert losses.mse(model.forward(X), Y)[0] < first_loss  # it trained


@pytest.mark.parametrize("ours, theirs", [(optim.SGD, torch.optim.SGD), (optim.Adagrad, torch.optim.Adagrad),
                                          (optim.RMSprop, torch.optim.RMSprop), (optim.Adam, torch.optim.Adam),
                                          (optim.AdamW, torch.optim.AdamW)])
def test_default_hyperparameters_are_pytorchs(ours, theirs):
    ours_defaults = {k: v.default for k, v in inspect.signature(ours).parameters.items() if k != "params"}
    torch_defaults = theirs([torch.zeros(1, requires_grad=True)]).defaults
    assert ours_defaults, "no hyperparameters found"
    for name, value in ours_defaults.items():
        expected = torch_defaults[name]
        assert (tuple(value) if isinstance(value, (tuple, list)) else value) == \
            (tuple(expected) if isinstance(expected, (tuple, list)) else expected), name


def test_updates_the_layers_arrays_in_place():
    model = nncourse.mlp([2, 4, 1], seed=0)
    before = {k: (id(v), v.copy()) for k, v in model.params.items()}
    opt = optim.SGD(model.params, lr=0.1)
    model.forward(np.ones((3, 2)))
    model.backward(np.ones((3, 1)))
    opt.step(model.grads)
    for name, p in model.params.items():
        assert id(p) == before[name][0]
        assert not np.allclose(p, before[name][1])


def test_float32_parameters_stay_float32():
    p = {"w": np.ones(3, dtype=np.float32)}
    opt = optim.Adam(p, lr=0.1)
    opt.step({"w": np.ones(3, dtype=np.float64)})
    assert p["w"].dtype == np.float32
    np.testing.assert_allclose(p["w"], 0.9, rtol=1e-6)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_zero_state_behaves_like_a_fresh_optimizer(name):
    rng = np.random.default_rng(0)
    grads = [{"w": rng.standard_normal(4)} for _ in range(3)]
    p = {"w": np.zeros(4)}
    opt = optim.get(name, p, lr=0.1)
    for g in grads:
        opt.step(g)
    opt.zero_state()
    assert opt.steps == 0 and opt.state == {}
    start = p["w"].copy()
    opt.step(grads[0])
    fresh_p = {"w": start.copy()}
    optim.get(name, fresh_p, lr=0.1).step(grads[0])
    np.testing.assert_array_equal(p["w"], fresh_p["w"])


def test_adam_first_step_has_size_lr_thanks_to_bias_correction():
    # m_1 / (1 - b1) = g and sqrt(v_1 / (1 - b2)) = |g|, so the first step is lr * sign(g),
    # whatever the gradient's scale (up to eps / |g|) - the claim notebook 04 makes.
    g = np.array([1e-3, -3.0, 250.0])
    p = {"w": np.zeros(3)}
    optim.Adam(p, lr=0.01).step({"w": g})
    np.testing.assert_allclose(p["w"], -0.01 * np.sign(g), rtol=1e-4)


def test_get_and_momentum_alias():
    p = {"w": np.zeros(2)}
    opt = optim.get("Momentum", p, lr=0.1)
    assert isinstance(opt, optim.SGD) and opt.momentum == 0.9
    assert optim.get("nesterov", p, lr=0.1, momentum=0.5).nesterov
    with pytest.raises(ValueError, match="unknown optimizer 'lion'.*known: sgd"):
        optim.get("lion", p)


# --- bad input ---------------------------------------------------------------------------------


def test_clear_errors_for_bad_params():
    with pytest.raises(TypeError, match=r"dict name -> np.ndarray \(pass layer.params\), got Linear"):
        optim.SGD(nncourse.Linear(2, 2), lr=0.1)
    with pytest.raises(ValueError, match="params is empty"):
        optim.Adam({})
    with pytest.raises(TypeError, match=r"params\['w'\] must be a floating-point np.ndarray"):
        optim.Adam({"w": [1.0, 2.0]})
    with pytest.raises(TypeError, match=r"params\['w'\] must be a floating-point"):
        optim.Adam({"w": np.arange(3)})


@pytest.mark.parametrize("build, message", [
    (lambda p: optim.SGD(p, lr=-0.1), r"lr must be a finite number >= 0, got -0.1"),
    (lambda p: optim.SGD(p, lr=float("nan")), r"lr must be a finite number"),
    (lambda p: optim.SGD(p, lr="fast"), r"lr must be a number, got str"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), r"nesterov=True needs momentum > 0 and dampening == 0"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), r"betas\[1\] must be a finite number in \[0, 1\), got 1.0"),
    (lambda p: optim.Adam(p, betas=0.9), r"betas must be a pair"),
    (lambda p: optim.RMSprop(p, alpha=1.5), r"alpha must be a finite number in \[0, 1\]"),
    (lambda p: optim.Adagrad(p, eps=-1), r"eps must be a finite number >= 0"),
])
def test_clear_errors_for_bad_hyperparameters(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build({"w": np.zeros(2)})


def test_clear_errors_for_bad_grads():
    opt = optim.SGD({"w": np.zeros((2, 3)), "b": np.zeros(2)}, lr=0.1)
    with pytest.raises(ValueError, match=r"missing \['b'\], unknown \[\]"):
        opt.step({"w": np.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"unknown \['c'\]"):
        opt.step({"w": np.zeros((2, 3)), "b": np.zeros(2), "c": np.zeros(1)})
    with pytest.raises(ValueError, match=r"grads\['w'\] must have the parameter's shape \(2, 3\), got \(3, 2\)"):
        opt.step({"w": np.zeros((3, 2)), "b": np.zeros(2)})
    with pytest.raises(TypeError, match="grads must be a dict"):
        opt.step([np.zeros((2, 3)), np.zeros(2)])
    opt.lr = -1.0  # e.g. a broken schedule
    with pytest.raises(ValueError, match="lr must be a finite number >= 0, got -1.0"):
        opt.step({"w": np.zeros((2, 3)), "b": np.zeros(2)})


# --- learning-rate schedules ---------------------------------------------------------------------


def torch_lrs(make_scheduler, base_lr=0.5, steps=40):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(lrs)


S = torch.optim.lr_scheduler
SCHEDULE_CASES = [
    ("step", lambda t: optim.step_lr(t, 0.5, step_size=7, gamma=0.3), lambda o: S.StepLR(o, step_size=7, gamma=0.3)),
    ("cosine", lambda t: optim.cosine_lr(t, 0.5, total_steps=25), lambda o: S.CosineAnnealingLR(o, T_max=25)),
    ("cosine-min-past-end", lambda t: optim.cosine_lr(t, 0.5, total_steps=15, min_lr=0.01),
     lambda o: S.CosineAnnealingLR(o, T_max=15, eta_min=0.01)),
    ("warmup", lambda t: optim.linear_warmup(t, 0.5, warmup_steps=10),
     lambda o: S.LinearLR(o, start_factor=1 / 3, total_iters=10)),
    ("warmup-0.1", lambda t: optim.linear_warmup(t, 0.5, warmup_steps=5, start_factor=0.1),
     lambda o: S.LinearLR(o, start_factor=0.1, total_iters=5)),
    ("warmup-cosine", lambda t: optim.warmup_cosine(t, 0.5, warmup_steps=5, total_steps=30, min_lr=0.02),
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=1 / 3, total_iters=5),
                                  S.CosineAnnealingLR(o, T_max=25, eta_min=0.02)], milestones=[5])),
]


@pytest.mark.parametrize("name, ours, theirs", SCHEDULE_CASES, ids=[c[0] for c in SCHEDULE_CASES])
def test_schedules_match_torch_lr_scheduler(name, ours, theirs):
    expected = torch_lrs(theirs)
    got = np.array([ours(t) for t in range(len(expected))])
    assert np.max(np.abs(got - expected)) < 1e-12
    assert np.ptp(got) > 0.1  # the schedule really changes the rate


def test_adam_with_cosine_schedule_tracks_torch():
    problem = random_quadratic(5)
    params = {name: start.copy() for name, (_, _, start) in problem.items()}
    tensors = {name: torch.tensor(start, requires_grad=True) for name, (_, _, start) in problem.items()}
    opt, opt_t = optim.Adam(params, lr=0.1), torch.optim.Adam(list(tensors.values()), lr=0.1)
    sched = S.CosineAnnealingLR(opt_t, T_max=STEPS)
    for t in range(STEPS):
        opt.lr = optim.cosine_lr(t, 0.1, STEPS)
        opt.step(numpy_quadratic_grads(problem, params))
        opt_t.zero_grad()
        torch_quadratic_loss(problem, tensors).backward()
        opt_t.step()
        sched.step()
    for name, t in tensors.items():
        assert np.max(np.abs(params[name] - t.detach().numpy())) < TOL


@pytest.mark.parametrize("call, message", [
    (lambda: optim.step_lr(-1, 0.1, 5), "step must be a non-negative integer, got -1"),
    (lambda: optim.step_lr(1.5, 0.1, 5), "step must be a non-negative integer, got 1.5"),
    (lambda: optim.step_lr(1, 0.1, 0), "step_size must be a positive integer, got 0"),
    (lambda: optim.cosine_lr(1, 0.1, 0), "total_steps must be a positive integer"),
    (lambda: optim.linear_warmup(1, 0.1, 5, start_factor=2), r"start_factor must be a finite number in \[0, 1\]"),
    (lambda: optim.warmup_cosine(1, 0.1, 10, 10), "total_steps must be an integer larger than warmup_steps=10"),
])
def test_schedule_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
