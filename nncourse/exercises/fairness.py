"""Exercises of notebook 13 (ethics and bias), each with a self-check."""
from __future__ import annotations

import numpy as np

from . import CheckResult, check

_RNG = np.random.default_rng(2016)

# The small table of exercise 1: ten loan decisions (1 = approved) and each applicant's group.
TABLE_GROUPS = np.array(["A", "A", "A", "A", "A", "A", "B", "B", "B", "B"])
TABLE_DECISIONS = np.array([1, 1, 0, 1, 0, 1, 0, 1, 0, 0])


def _dp_reference(y_pred, groups):
    rates = [np.mean(y_pred[groups == g]) for g in np.unique(groups)]
    return float(max(rates) - min(rates))


def check_dp_by_hand(value) -> CheckResult:
    """The demographic parity difference of ``TABLE_DECISIONS`` by ``TABLE_GROUPS``, computed by hand."""
    want = _dp_reference(TABLE_DECISIONS, TABLE_GROUPS)  # A: 4/6, B: 1/4
    if value is None:
        print("… demographic parity by hand: not attempted yet. Replace None with your number.")
        return CheckResult(False)
    try:
        ok = abs(float(value) - want) < 0.01
    except (TypeError, ValueError):
        print(f"✗ demographic parity by hand: expected a number, got {value!r}.")
        return CheckResult(False)
    if ok:
        print(f"✓ demographic parity by hand: {float(value):.3f} - group A is approved 4/6 of the time, "
              "group B 1/4.")
        return CheckResult(True)
    print(f"✗ demographic parity by hand: {value!r} is not it.\n  Hint: count the approvals in each group and "
          "divide by the group's size; the difference is the larger rate minus the smaller.")
    return CheckResult(False)


def _cases_dp():
    cases = [(TABLE_DECISIONS, TABLE_GROUPS)]
    for n_groups in (2, 3, 4):
        groups = _RNG.choice(list("abcd")[:n_groups], 40)
        cases.append((_RNG.integers(0, 2, 40), groups))
    return cases


def check_demographic_parity(fn) -> CheckResult:
    """fn(y_pred, groups) -> float: the largest gap in selection rate between any two groups."""
    return check(fn, _dp_reference, _cases_dp(), name="demographic parity difference",
                 hint="for each group g in np.unique(groups), the selection rate is y_pred[groups == g].mean(); "
                      "return max(rates) - min(rates) (it works for 2, 3 or 4 groups).")


def _tpr_reference(y_true, y_pred):
    positives = y_true == 1
    return float(y_pred[positives].mean()) if positives.any() else 0.0


def check_true_positive_rate(fn) -> CheckResult:
    """fn(y_true, y_pred) -> float: TP / (TP + FN), and 0.0 when there is no positive example."""
    cases = [(np.array([1, 1, 0, 1]), np.array([1, 0, 0, 1])),
             (np.array([0, 0, 0]), np.array([1, 0, 1]))]  # no positives: 0 by convention (as fairlearn)
    cases += [(_RNG.integers(0, 2, 30), _RNG.integers(0, 2, 30)) for _ in range(3)]
    return check(fn, _tpr_reference, cases, name="true positive rate",
                 hint="look only at the examples with y_true == 1 and return the fraction predicted 1; "
                      "if there are none, return 0.0 (that is what fairlearn and scikit-learn do).")


def _reweighing_reference(y, groups):
    w = np.empty(len(y))
    for g in np.unique(groups):
        for label in np.unique(y):
            cell = (groups == g) & (y == label)
            if cell.any():
                w[cell] = np.mean(groups == g) * np.mean(y == label) / np.mean(cell)
    return w


def check_reweighing(fn) -> CheckResult:
    """fn(y, groups) -> weights (N,): P(A=a) P(Y=y) / P(A=a, Y=y) for each example's (group, label)."""
    cases = [(np.array([1, 0, 0, 0]), np.array(["a", "a", "b", "b"]))]
    cases += [(_RNG.integers(0, 2, 50), _RNG.choice(["a", "b", "c"], 50)) for _ in range(3)]
    return check(fn, _reweighing_reference, cases, name="reweighing",
                 hint="for each group g and label y: weight = mean(groups == g) * mean(labels == y) / "
                      "mean((groups == g) & (labels == y)), given to every example in that cell.")
