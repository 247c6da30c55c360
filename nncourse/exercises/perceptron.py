"""Exercises of notebook 01 (the perceptron), each with a self-check."""
from __future__ import annotations

import numpy as np

from . import CheckResult, check

_RNG = np.random.default_rng(1957)


def _update_reference(w, b, x, t, lr):
    if t * (w @ x + b) <= 0:
        return w + lr * t * x, b + lr * t
    return w, b


def check_update(fn) -> CheckResult:
    """fn(w, b, x, t, lr) -> (new_w, new_b): one perceptron step with t in {-1, +1}."""
    cases = [(np.zeros(2), 0.0, np.array([1.0, 1.0]), 1, 1.0),            # mistake on the boundary
             (np.array([1.0, -2.0]), 0.5, np.array([2.0, 0.5]), -1, 0.1),  # misclassified negative
             (np.array([1.0, 1.0]), 0.0, np.array([2.0, 3.0]), 1, 1.0)]    # already right: no change
    cases += [(_RNG.normal(size=3), float(_RNG.normal()), _RNG.normal(size=3), int(t), 0.5)
              for t in (-1, 1, -1, 1)]
    return check(fn, _update_reference, cases, name="perceptron update",
                 hint="only update when t * (w·x + b) <= 0; then w + lr*t*x and b + lr*t. "
                      "Otherwise return w and b unchanged.")


def _predict_reference(w, b, X):
    return (X @ w + b > 0).astype(int)


def check_predict(fn) -> CheckResult:
    """fn(w, b, X) -> labels (N,) in {0, 1}: 1 where w·x + b > 0."""
    cases = [(np.array([1.0, 1.0]), -1.5, np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float))]
    cases += [(_RNG.normal(size=2), float(_RNG.normal()), _RNG.normal(size=(8, 2))) for _ in range(3)]
    return check(fn, _predict_reference, cases, name="perceptron predict",
                 hint="compute the scores X @ w + b (one per row) and return 1 where the score is > 0, else 0.")


def _plain(value) -> str:
    """A number as a learner typed it: -1.0 -> "-1", 1.5 -> "1.5" (never "np.float64(-1.0)")."""
    return f"{float(value):.4g}"


def check_gate_weights(w, b, gate: str = "nand") -> CheckResult:
    """Hand-picked (w, b) that computes a logic gate with a step function."""
    from ..data import logic_gate

    X, y = logic_gate(gate)
    try:
        pred = (X @ np.asarray(w, dtype=float) + float(b) > 0).astype(int)
    except Exception as err:
        print(f"✗ {gate.upper()} weights: could not use w={w!r}, b={b!r} ({err}). Hint: w is a pair of numbers, b one number.")
        return CheckResult(False)
    if np.array_equal(pred, y):
        w_text = ", ".join(_plain(v) for v in np.asarray(w, dtype=float).ravel())
        print(f"✓ {gate.upper()} weights: w=({w_text}), b={_plain(b)} compute {gate.upper()} on all four inputs.")
        return CheckResult(True)
    rows = [f"{tuple(int(v) for v in x)} -> {p} (want {t})" for x, p, t in zip(X, pred, y) if p != t]
    print(f"✗ {gate.upper()} weights: wrong on {', '.join(rows)}.\n  Hint: for NAND, make b positive and "
          "both weights negative, so only (1, 1) pushes the score below 0.")
    return CheckResult(False)
