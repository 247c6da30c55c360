"""Exercises of notebooks 04 (optimizers) and 05 (regularization).

The expected answers come from the course's own implementations in ``nncourse.optim`` and
``nncourse.regularization``, which the tests check against PyTorch; the answers a teacher can
show are in ``nncourse.exercises.solutions.training``.
"""
from __future__ import annotations

import numpy as np

from .. import optim
from . import Exercise
from .solutions import training as solutions


def _momentum_reference(p, g, velocity, lr, momentum):
    params = {"p": np.array(p, dtype=float)}
    opt = optim.SGD(params, lr=lr, momentum=momentum)
    if np.any(velocity != 0):  # continue from the given velocity, as PyTorch's buffer would
        opt.state["p"] = {"momentum_buffer": np.array(velocity, dtype=float)}
    opt.step({"p": np.array(g, dtype=float)})
    return params["p"], opt.state["p"]["momentum_buffer"]


def _momentum_cases():
    rng = np.random.default_rng(2014)
    cases = [(np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([0.2, -0.1]), 0.1, 0.9)]
    return cases + [(rng.normal(size=4), rng.normal(size=4), rng.normal(size=4), 0.05, m) for m in (0.5, 0.9, 0.99)]


momentum_step = Exercise(
    "momentum_step", solution=solutions.momentum_step, reference=_momentum_reference, cases=_momentum_cases,
    output_names=("new_p", "new_velocity"),
    hints=["Two lines: first update the velocity from the old velocity and the gradient, then move p.",
           "PyTorch's velocity is momentum * velocity + g (no (1 - momentum) factor, no lr inside).",
           "p moves by -lr * (the new velocity). Return (new_p, new_velocity)."],
    mistakes=[(lambda p, g, v, lr, m: (p - lr * (m * v + (1 - m) * g), m * v + (1 - m) * g),
               "you damped the gradient by (1 - momentum): that is another convention, not PyTorch's."),
              (lambda p, g, v, lr, m: (p - lr * (m * v + g), m * v + lr * g),
               "your velocity includes the learning rate; in PyTorch's convention it sums raw gradients."),
              (lambda p, g, v, lr, m: (p - lr * v, m * v + g),
               "you moved p with the *old* velocity; update the velocity first, then step with it.")])


def _adam_reference(p, g, m, v, t, lr, beta1, beta2, eps):
    params = {"p": np.array(p, dtype=float)}
    opt = optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=eps)
    opt.state["p"] = {"step": t - 1, "exp_avg": np.array(m, dtype=float), "exp_avg_sq": np.array(v, dtype=float)}
    opt.step({"p": np.array(g, dtype=float)})
    return params["p"], opt.state["p"]["exp_avg"], opt.state["p"]["exp_avg_sq"]


def _adam_cases():
    rng = np.random.default_rng(2015)  # Kingma & Ba's year
    cases = [(np.array([1.0, -1.0]), np.array([0.1, -3.0]), np.zeros(2), np.zeros(2), 1, 0.01, 0.9, 0.999, 1e-8)]
    for t in (2, 5, 50):
        cases.append((rng.normal(size=3), rng.normal(size=3), 0.1 * rng.normal(size=3),
                      rng.uniform(0.01, 1, size=3), t, 0.001, 0.9, 0.999, 1e-8))
    return cases


def _adam_without_correction(p, g, m, v, t, lr, beta1, beta2, eps):
    m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g**2
    return p - lr * m / (np.sqrt(v) + eps), m, v


def _adam_returning_corrected(p, g, m, v, t, lr, beta1, beta2, eps):
    m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m_hat, v_hat


adam_step = Exercise(
    "adam_step", solution=solutions.adam_step, reference=_adam_reference, cases=_adam_cases,
    output_names=("new_p", "new_m", "new_v"),
    hints=["Three stages: update the two running averages, correct their bias, then step.",
           "m = beta1*m + (1-beta1)*g and v = beta2*v + (1-beta2)*g**2; both start at 0, so early on they "
           "are too small: divide by (1 - beta**t).",
           "p = p - lr * m_hat / (sqrt(v_hat) + eps). Return (p, m, v) - the uncorrected m and v, which "
           "the next step continues from."],
    mistakes=[(_adam_without_correction, "the step is off: did you leave out the bias correction (1 - beta**t)?"),
              (_adam_returning_corrected, "the new p is right, but return the *uncorrected* m and v: the next "
                                          "step continues from them.")])


def _dropout_cases():
    rng = np.random.default_rng(2014)  # Srivastava et al.'s year
    cases = []
    for p in (0.1, 0.5, 0.8):
        x = rng.normal(size=(3, 4))
        cases.append((x, (rng.random(x.shape) >= p).astype(float), p))
    return cases


inverted_dropout = Exercise(
    "inverted_dropout", solution=solutions.inverted_dropout, cases=_dropout_cases,
    hints=["Two things happen to x: the dropped units become 0, and the kept ones are scaled.",
           "Scale the kept units so the expected output equals x: each is kept with probability 1 - p."],
    mistakes=[(lambda x, keep, p: x * keep, "the dropped units are right, but the kept ones are not scaled."),
              (lambda x, keep, p: x * keep * (1 - p), "you scaled by (1 - p); inverted dropout divides by it."),
              (lambda x, keep, p: x * keep / p, "you divided by p, the drop probability; divide by the keep "
                                                 "probability instead.")])


# The older names (notebook cells written before the staged hints).
check_momentum_step, check_adam_step, check_dropout = momentum_step.check, adam_step.check, inverted_dropout.check
