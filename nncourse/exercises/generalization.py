"""Exercises of notebook 05 (generalization).

Warm-up: ``inverted_dropout``. Substantial: ``batchnorm_backward``, which the notebook then trains a
network with. The expected answers come from ``nncourse.regularization``'s kernels, which the tests
check against PyTorch's autograd; the answers a teacher can show are in
``nncourse.exercises.solutions.generalization``.
"""
from __future__ import annotations

import numpy as np

from .. import regularization
from . import Exercise
from .solutions import generalization as solutions


def _dropout_cases():
    rng = np.random.default_rng(2014)  # Srivastava et al.'s year
    cases = []
    for p in (0.1, 0.5, 0.8):
        x = rng.normal(size=(3, 4))
        cases.append((x, (rng.random(x.shape) >= p).astype(float), p))
    return cases


inverted_dropout = Exercise(
    "inverted_dropout", solution=solutions.inverted_dropout,
    reference=lambda x, keep, p: regularization.dropout_forward(x, keep, p)[0], cases=_dropout_cases,
    hints=["Two things happen to x: the dropped units become 0, and the kept ones are scaled.",
           "Scale the kept units so the expected output equals x: each is kept with probability 1 - p."],
    mistakes=[(lambda x, keep, p: x * keep, "the dropped units are right, but the kept ones are not scaled."),
              (lambda x, keep, p: x * keep * (1 - p), "you scaled by (1 - p); inverted dropout divides by it."),
              (lambda x, keep, p: x * keep / p, "you divided by p, the drop probability; divide by the keep "
                                                 "probability instead.")])


def _batchnorm_reference(dout, x, gamma, eps):
    _, cache = regularization.batchnorm_forward(x, gamma, np.zeros_like(gamma), eps)
    return regularization.batchnorm_backward(dout, cache)


def _batchnorm_cases():
    rng = np.random.default_rng(2015)  # Ioffe & Szegedy's year
    cases = []
    for n, d in [(8, 5), (16, 3), (5, 7)]:   # never square: a sum over the wrong axis shows in the shape
        x = rng.uniform(0.5, 3, d) * rng.standard_normal((n, d)) + rng.standard_normal(d)
        cases.append((rng.standard_normal((n, d)), x, rng.uniform(0.5, 2, d), 1e-5))
    return cases


def _normalise(x, eps, ddof=0):
    mu, var = x.mean(axis=0), x.var(axis=0, ddof=ddof)
    return (x - mu) / np.sqrt(var + eps), 1 / np.sqrt(var + eps)


def _bn_constant_statistics(dout, x, gamma, eps):      # mu and sigma treated as constants
    x_hat, inv_std = _normalise(x, eps)
    return dout * gamma * inv_std, (dout * x_hat).sum(0), dout.sum(0)


def _bn_only_mean_term(dout, x, gamma, eps):          # the path through the mean, not through the variance
    x_hat, inv_std = _normalise(x, eps)
    dx_hat = dout * gamma
    return inv_std * (dx_hat - dx_hat.mean(0)), (dout * x_hat).sum(0), dout.sum(0)


def _bn_only_variance_term(dout, x, gamma, eps):
    x_hat, inv_std = _normalise(x, eps)
    dx_hat = dout * gamma
    return inv_std * (dx_hat - x_hat * (dx_hat * x_hat).mean(0)), (dout * x_hat).sum(0), dout.sum(0)


def _bn_unbiased(dout, x, gamma, eps):                # normalised with the N - 1 variance
    n = len(x)
    mu, var = x.mean(0), x.var(0, ddof=1)
    x_hat, inv_std = (x - mu) / np.sqrt(var + eps), 1 / np.sqrt(var + eps)
    dx_hat = dout * gamma
    dx = inv_std * (dx_hat - dx_hat.mean(0) - x_hat * (dx_hat * x_hat).sum(0) / (n - 1))
    return dx, (dout * x_hat).sum(0), dout.sum(0)


def _bn_wrong_axis_for_dx(dout, x, gamma, eps):       # the means of the correction taken along the features
    x_hat, inv_std = _normalise(x, eps)
    dx_hat = dout * gamma
    dx = inv_std * (dx_hat - dx_hat.mean(1, keepdims=True) - x_hat * (dx_hat * x_hat).mean(1, keepdims=True))
    return dx, (dout * x_hat).sum(0), dout.sum(0)


def _bn_gamma_twice(dout, x, gamma, eps):
    dx, dgamma, dbeta = _batchnorm_reference(dout, x, gamma, eps)
    return dx * gamma, dgamma, dbeta


batchnorm_backward = Exercise(
    "batchnorm_backward", solution=solutions.batchnorm_backward, reference=_batchnorm_reference,
    cases=_batchnorm_cases, output_names=("dx", "dgamma", "dbeta"), atol=1e-8, rtol=1e-6,
    hints=["Start with the easy two: out = gamma * x_hat + beta, and gamma and beta are shared by every "
           "example, so dgamma and dbeta are sums over the batch (axis 0), shape (D,).",
           "For dx, go backwards through the forward pass one line at a time: dx_hat = dout * gamma; then "
           "x_hat = (x - mu) * (var + eps)**-0.5, where mu and var are functions of *every* x in the batch. "
           "x_i reaches the loss three ways: directly, through mu, and through var.",
           "Chain rule per feature: dvar = sum(dx_hat * (x - mu)) * -0.5 * (var + eps)**-1.5; dmu = "
           "-sum(dx_hat) / sqrt(var + eps) (the dvar term through mu sums to 0); dx = dx_hat / sqrt(var + eps) "
           "+ dvar * 2 (x - mu) / N + dmu / N. Simplified: dx = (dx_hat - mean(dx_hat) - x_hat * "
           "mean(dx_hat * x_hat)) / sqrt(var + eps), means over the batch."],
    mistakes=[(_bn_constant_statistics,
               "dgamma and dbeta are right, but dx treats mu and sigma as constants: in training they are "
               "computed from this very batch, so x also reaches the loss through them."),
              (_bn_only_mean_term, "dx has the path through the mean, but not the one through the variance."),
              (_bn_only_variance_term, "dx has the path through the variance, but not the one through the mean."),
              (_bn_unbiased, "you normalised with the unbiased variance (divide by N - 1); batch norm normalises "
                             "the batch with the biased one (divide by N), as np.var does by default - only the "
                             "running estimate is unbiased."),
              (_bn_wrong_axis_for_dx, "the means in dx are taken over the wrong axis: the statistics are per "
                                      "feature, over the batch (axis 0)."),
              (_bn_gamma_twice, "dx is gamma times too large: you multiplied by gamma twice.")])
