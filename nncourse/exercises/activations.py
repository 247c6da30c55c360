"""Exercises of notebook 02 (activations and initialisation).

Answers: ``nncourse.exercises.solutions.activations``. The gain exercise is judged with
:func:`nncourse.initializers.signal_propagation`, the function the notebook's widget and table use.
"""
from __future__ import annotations

import math

import numpy as np

from ..activations import softmax
from ..initializers import signal_propagation, verdict
from . import Exercise
from .solutions import activations as solutions


# --- warm-up: a softmax that never overflows ---------------------------------------------------------
def _softmax_cases():
    rng = np.random.default_rng(2010)
    return [(np.array([1.0, 2.0, 3.0]),),
            (rng.normal(size=(3, 4)),),
            (np.array([800.0, 801.0, 802.0]),),
            (np.array([[-800.0, 0.0, 800.0], [5.0, 5.0, 5.0], [-800.0, -801.0, -800.0]]),),
            (rng.normal(scale=300.0, size=(2, 3, 5)),)]


def _naive_softmax(x):
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def _softmax_axis0(x):
    e = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def _softmax_global_max(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e, axis=-1, keepdims=True)


def _softmax_global_sum(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e)


stable_softmax = Exercise(
    "stable_softmax", solution=solutions.stable_softmax, reference=lambda x: softmax(x, axis=-1),
    cases=_softmax_cases, atol=1e-12,
    hints=["softmax(z) does not change when you subtract the same number from every logit of a row.",
           "Which number makes the largest exponent exp(0) = 1, so nothing can overflow? Take it per row: "
           "np.max(..., axis=-1, keepdims=True).",
           "Then exp, and divide by the sum over the last axis (keepdims=True, so the shapes broadcast)."],
    mistakes=[(_naive_softmax, "your softmax overflows for logits like ±800: exp(800) is inf in float64, "
                               "and inf / inf is nan."),
              (_softmax_axis0, "you normalised over the first axis; each row (the last axis) should sum to 1."),
              (_softmax_global_max, "you subtracted the largest logit of the whole array: a row whose own "
                                    "logits are all far below it underflows to 0 / 0. Each row needs its own."),
              (_softmax_global_sum, "you divided by the sum over the whole array; each row should sum to 1 "
                                    "on its own.")])


# --- warm-up: He initialisation -------------------------------------------------------------------
he_std = Exercise(
    "he_std", solution=solutions.he_std, cases=[(1,), (64,), (100,), (784,)],
    hints=["Var z = fan_in * Var w * E[h^2]. What does a ReLU do to E[h^2] for zero-mean inputs?",
           "ReLU zeroes half its inputs and keeps the other half: E[h^2] is half of Var z of the layer "
           "below. Solve fan_in * Var w * (1/2) = 1 for Var w.",
           "Return the standard deviation, the square root of the variance."],
    mistakes=[(lambda fan_in: 2 / fan_in, "you returned the variance s^2; the question asks for the standard deviation s."),
              (lambda fan_in: math.sqrt(1 / fan_in), "that is LeCun's 1 / fan_in, right for a linear (or tanh-near-0) "
                                                      "layer; a ReLU zeroes half of its inputs."),
              (lambda fan_in: 1 / fan_in, "that is 1 / fan_in, neither He's variance nor its standard deviation.")])


# --- substantial: the gain that keeps 50 tanh layers healthy ------------------------------------------
GAIN_DEPTH, GAIN_WIDTH, GAIN_SEEDS = 50, 64, range(5)
MIN_SPREAD = 0.1  # the spread at layer 50 must not fade below this (gain 1: about 0.07, and still falling)


def gain_problem(gain: float, seeds=GAIN_SEEDS) -> str | None:
    """None if Xavier weights times ``gain`` keep a 50-layer tanh stack healthy on every seed
    (forward spread at layer 50 >= MIN_SPREAD, backward verdict healthy), else what goes wrong."""
    for seed in seeds:
        stats = signal_propagation(GAIN_DEPTH, GAIN_WIDTH, "tanh", "xavier", scale=gain, seed=seed)
        v, spread = verdict(stats), stats.activation_std[-1]
        if v["forward"] == "vanishing" or spread < MIN_SPREAD:
            return (f"with gain {gain:g} the spread at layer 50 falls to {spread:.2g} (seed {seed}): "
                    f"the signal fades on the way up.")
        if v["backward"] == "exploding" or v["forward"] == "exploding":
            return (f"with gain {gain:g} layer 1's weight gradient is {stats.gradient_ratio():.2g} times "
                    f"layer 50's (seed {seed}): the gradients explode on the way down.")
        if v["backward"] == "vanishing":
            return (f"with gain {gain:g} the gradient reaching layer 1 is only {stats.gradient_ratio():.2g} "
                    f"of layer 50's (seed {seed}): it vanishes on the way down.")
    return None


def _gain_compare(got, want, case):
    if got is None:
        return "not attempted yet: set tanh_gain to a number."
    if isinstance(got, bool) or not isinstance(got, (int, float, np.floating, np.integer)):
        return f"tanh_gain should be one number; yours is a {type(got).__name__}."
    if not (math.isfinite(got) and got > 0):
        return f"tanh_gain should be a positive number, got {got!r}."
    return gain_problem(float(got))


tanh_gain = Exercise(
    "tanh_gain", solution=solutions.tanh_gain, reference=lambda: 5 / 3, compare=_gain_compare, cases=[()],
    describe=lambda case: f"{GAIN_DEPTH} tanh layers of width {GAIN_WIDTH}, Xavier weights times your gain, "
                          f"seeds {GAIN_SEEDS.start}-{GAIN_SEEDS.stop - 1}",
    hints=["Try a few gains with signal_propagation(50, 64, 'tanh', 'xavier', scale=gain) and look at "
           "activation_std (forward) and grad_norm (backward), or use the widget with depth 50.",
           "Near 0, tanh(z) is z: with gain 1 the variance is kept - but only for tiny z. Larger z are "
           "squashed (tanh' < 1), so the spread shrinks a little at every layer. A gain above 1 makes up for it.",
           "Too large a gain saturates units and makes the backward signal grow by a factor per layer; "
           "50 layers compound it. Look between 1 and 2."])
