"""Exercises of notebooks 04 (optimizers) and 05 (regularization), each with a self-check.

The references are the course's own implementations in ``nncourse.optim`` and
``nncourse.regularization``, which the tests check against PyTorch.
"""
from __future__ import annotations

import numpy as np

from .. import optim
from . import CheckResult, check

_RNG = np.random.default_rng(2014)


def _momentum_reference(p, g, velocity, lr, momentum):
    params = {"p": np.array(p, dtype=float)}
    opt = optim.SGD(params, lr=lr, momentum=momentum)
    if np.any(velocity != 0):  # continue from the given velocity, as PyTorch's buffer would
        opt.state["p"] = {"momentum_buffer": np.array(velocity, dtype=float)}
    opt.step({"p": np.array(g, dtype=float)})
    return params["p"], opt.state["p"]["momentum_buffer"]


def check_momentum_step(fn) -> CheckResult:
    """fn(p, g, velocity, lr, momentum) -> (new_p, new_velocity), PyTorch's SGD with momentum."""
    cases = [(np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([0.2, -0.1]), 0.1, 0.9)]
    cases += [(_RNG.normal(size=4), _RNG.normal(size=4), _RNG.normal(size=4), 0.05, m) for m in (0.5, 0.9, 0.99)]
    return check(fn, _momentum_reference, cases, name="momentum step",
                 hint="first the velocity: velocity = momentum * velocity + g; then p = p - lr * velocity. "
                      "Return both (new p first).")


def _adam_reference(p, g, m, v, t, lr, beta1, beta2, eps):
    params = {"p": np.array(p, dtype=float)}
    opt = optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=eps)
    opt.state["p"] = {"step": t - 1, "exp_avg": np.array(m, dtype=float), "exp_avg_sq": np.array(v, dtype=float)}
    opt.step({"p": np.array(g, dtype=float)})
    return params["p"], opt.state["p"]["exp_avg"], opt.state["p"]["exp_avg_sq"]


def check_adam_step(fn) -> CheckResult:
    """fn(p, g, m, v, t, lr, beta1, beta2, eps) -> (new_p, new_m, new_v): Adam's step number t (1, 2, ...)."""
    cases = [(np.array([1.0, -1.0]), np.array([0.1, -3.0]), np.zeros(2), np.zeros(2), 1, 0.01, 0.9, 0.999, 1e-8)]
    for t in (2, 5, 50):
        cases.append((_RNG.normal(size=3), _RNG.normal(size=3), 0.1 * _RNG.normal(size=3),
                      _RNG.uniform(0.01, 1, size=3), t, 0.001, 0.9, 0.999, 1e-8))
    return check(fn, _adam_reference, cases, name="Adam step",
                 hint="m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g**2; correct both: "
                      "m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t); "
                      "p = p - lr * m_hat / (sqrt(v_hat) + eps). Return (p, m, v) - the uncorrected m and v.")


def _dropout_reference(x, keep, p):
    return x * keep / (1 - p)


def check_dropout(fn) -> CheckResult:
    """fn(x, keep, p) -> output of inverted dropout in training mode, with the given keep-mask."""
    cases = []
    for p in (0.1, 0.5, 0.8):
        x = _RNG.normal(size=(3, 4))
        cases.append((x, (_RNG.random(x.shape) >= p).astype(float), p))
    return check(fn, _dropout_reference, cases, name="inverted dropout",
                 hint="zero the dropped units (multiply by keep) and scale the kept ones by 1 / (1 - p), "
                      "so the expected output equals x.")
