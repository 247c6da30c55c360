"""Exercises of notebook 02 (activations and initialisation), each with a self-check."""
from __future__ import annotations

import math

import numpy as np

from . import check
from ..activations import Sigmoid, softmax

_RNG = np.random.default_rng(2010)


def check_sigmoid_derivative(fn):
    """fn(x) -> sigma'(x) elementwise, for an array x of any shape."""
    cases = [(np.array([0.0]),), (np.linspace(-8, 8, 17),), (_RNG.normal(scale=3, size=(4, 5)),),
             (np.array([-40.0, 40.0]),)]  # far tails: the derivative is tiny but not NaN
    return check(fn, lambda x: Sigmoid().grad(x), cases, name="sigmoid derivative",
                 hint="sigma'(x) = sigma(x) * (1 - sigma(x)), with sigma(x) = 1 / (1 + exp(-x)). "
                      "At x = 0 it is 0.25, its largest value.", atol=1e-10)


def check_stable_softmax(fn):
    """fn(x) -> softmax over the last axis, correct even for logits like 1000."""
    cases = [(np.array([1.0, 2.0, 3.0]),), (_RNG.normal(size=(3, 4)),),
             (np.array([1000.0, 1001.0, 1002.0]),), (np.array([[-1000.0, 0.0, 1000.0], [5.0, 5.0, 5.0]]),)]
    return check(fn, lambda x: softmax(x, axis=-1), cases, name="stable softmax",
                 hint="exp(1000) overflows to inf and inf / inf is NaN. Subtract the largest logit of each "
                      "row first (np.max(x, axis=-1, keepdims=True)): softmax does not change, and the "
                      "largest exponent becomes exp(0) = 1.", atol=1e-12)


def check_he_std(fn):
    """fn(fan_in) -> the standard deviation of He (Kaiming) normal weights for a ReLU layer."""
    cases = [(1,), (64,), (100,), (784,)]
    return check(fn, lambda fan_in: math.sqrt(2.0 / fan_in), cases, name="He initialisation",
                 hint="Var z = fan_in * Var w * E[h^2], and ReLU halves E[h^2] (half the units are 0). "
                      "Keeping Var z = 1 needs Var w = 2 / fan_in: return the square root of that.")
