"""Exercises of notebook 13 (ethics and bias).

* ``dp_by_hand`` (warm-up): the demographic parity difference of ten printed decisions, counted.
* ``equalized_odds`` (the substantial one): the equalized odds difference from scratch, for any
  number of groups; checked against fairlearn's ``equalized_odds_difference`` (the reference is
  ``nncourse.fairness``'s, which the tests hold equal to fairlearn's), then used to score every
  mitigation the notebook compares.
* ``reweighing_weights``: Kamiran & Calders' weights.
* ``lender_criterion``: a judgement question, with a model answer on request.

The answers are in ``nncourse.exercises.solutions.fairness``.
"""
from __future__ import annotations

import numpy as np

from .. import fairness, mitigation
from . import Exercise, Question
from .solutions import fairness as solutions

# The small table of the warm-up: ten loan decisions (1 = approved) and each applicant's group.
TABLE_GROUPS = np.array(["A", "A", "A", "A", "A", "A", "B", "B", "B", "B"])
TABLE_DECISIONS = np.array([1, 1, 0, 1, 0, 1, 0, 1, 0, 0])


# -- warm-up: demographic parity by hand ------------------------------------------------------------
def _rates_of_table():
    return {g: float(TABLE_DECISIONS[TABLE_GROUPS == g].mean()) for g in ("A", "B")}  # A 4/6, B 1/4


def _dp_by_hand_reference():
    rates = _rates_of_table()
    return max(rates.values()) - min(rates.values())


def _compare_dp_by_hand(got, want, case) -> str | None:
    if got is None:
        return "not attempted yet: replace None with your number."
    try:
        value = float(got)
    except (TypeError, ValueError):
        return f"expected a number, got {got!r}."
    if abs(value - want) < 0.01:  # 0.42 typed by hand is right
        return None
    rates = _rates_of_table()
    named = [(rates["B"] / rates["A"], "that is the ratio of the two rates (the four-fifths rule's number), "
                                       "not their difference."),
             (4 - 1, "you subtracted the numbers of approvals; compare rates: each group's approvals over "
                     "the group's size."),
             ((4 - 1) / 10, "you divided both counts by all ten applicants; divide each by its own group's size."),
             (-want, "a gap is the larger rate minus the smaller, never negative."),
             (5 / 10, "that is the overall approval rate; the difference is between the two groups' rates.")]
    for wrong, message in named:
        if abs(value - wrong) < 0.01:
            return message
    return f"{value:g} is not it: count the approvals in each group first."


dp_by_hand = Exercise(
    "dp_by_hand", solution=solutions.dp_by_hand, reference=_dp_by_hand_reference, cases=[()],
    compare=_compare_dp_by_hand, describe=lambda case: "the ten decisions printed above",
    hints=["Count the approvals (1s) in group A and divide by the number of A applicants; the same for B.",
           "A: 4 of 6 applicants approved; B: 1 of 4. The difference is the larger rate minus the smaller."])


# -- the substantial one: equalized odds from scratch ------------------------------------------------
def _equalized_odds_reference(y_true, y_pred, groups):
    return fairness.equalized_odds_difference(y_true, y_pred, sensitive_features=groups)


def _equalized_odds_cases():
    """Fixed cases (seed 2016, Hardt, Price & Srebro's year): 2, 3 and 4 groups, string and integer
    group names, cases where the TPR gap is the larger one and cases where the FPR gap is, and every
    (group, label) cell non-empty, so no rate divides by zero."""
    rng = np.random.default_rng(2016)
    cases = [(np.array([1, 1, 0, 0, 1, 1, 0, 0]), np.array([1, 1, 0, 1, 1, 0, 0, 0]),
              np.array(["A"] * 4 + ["B"] * 4))]  # TPR A 1, B 1/2; FPR A 1/2, B 0 -> a tie, 0.5
    for n_groups, names, tilt in ((2, np.array(["A", "B"]), "tpr"), (2, np.array(["A", "B"]), "fpr"),
                                  (3, np.array(["x", "y", "z"]), "tpr"), (4, np.arange(4), "fpr")):
        n = 60 * n_groups
        groups = np.repeat(names, n // n_groups)
        y_true = np.tile(np.array([0, 1] * 30), n_groups)  # 30 positives and 30 negatives per group
        # a different approval probability per group for positives (tilt "tpr") or negatives ("fpr")
        spread = np.linspace(0.2, 0.8, n_groups)[np.repeat(np.arange(n_groups), n // n_groups)]
        p = np.where(y_true == (1 if tilt == "tpr" else 0), spread, 0.45)
        y_pred = (rng.random(n) < p).astype(int)
        perm = rng.permutation(n)  # shuffled: the groups do not come in blocks
        cases.append((y_true[perm], y_pred[perm], groups[perm]))
    return cases


def _group_rates(y_true, y_pred, groups, tpr_over_all=False, fpr_over_all=False, tpr_over_predicted=False):
    tpr, fpr = [], []
    for g in np.unique(groups):
        t, p = y_true[groups == g], y_pred[groups == g]
        if tpr_over_predicted:
            tpr.append(np.mean(t[p == 1] == 1))              # PPV, not TPR
        else:
            tpr.append(np.mean((p == 1) & (t == 1)) if tpr_over_all else p[t == 1].mean())
        fpr.append(np.mean((p == 1) & (t == 0)) if fpr_over_all else p[t == 0].mean())
    return np.array(tpr), np.array(fpr)


def _gap(r):
    return r.max() - r.min()


def _tpr_over_everyone(y_true, y_pred, groups):
    tpr, fpr = _group_rates(y_true, y_pred, groups, tpr_over_all=True)
    return max(_gap(tpr), _gap(fpr))


def _both_over_everyone(y_true, y_pred, groups):
    tpr, fpr = _group_rates(y_true, y_pred, groups, tpr_over_all=True, fpr_over_all=True)
    return max(_gap(tpr), _gap(fpr))


def _precision_for_tpr(y_true, y_pred, groups):
    tpr, fpr = _group_rates(y_true, y_pred, groups, tpr_over_predicted=True)
    return max(_gap(tpr), _gap(fpr))


def _mean_of_gaps(y_true, y_pred, groups):
    tpr, fpr = _group_rates(y_true, y_pred, groups)
    return (_gap(tpr) + _gap(fpr)) / 2


def _sum_of_gaps(y_true, y_pred, groups):
    tpr, fpr = _group_rates(y_true, y_pred, groups)
    return _gap(tpr) + _gap(fpr)


def _tpr_gap_only(y_true, y_pred, groups):
    return _gap(_group_rates(y_true, y_pred, groups)[0])


def _fpr_gap_only(y_true, y_pred, groups):
    return _gap(_group_rates(y_true, y_pred, groups)[1])


def _first_two_groups(y_true, y_pred, groups):
    tpr, fpr = _group_rates(y_true, y_pred, groups)
    return max(abs(tpr[0] - tpr[1]), abs(fpr[0] - fpr[1]))


equalized_odds = Exercise(
    "equalized_odds", solution=solutions.equalized_odds, reference=_equalized_odds_reference,
    cases=_equalized_odds_cases,
    describe=lambda case: (f"{len(case[0])} examples, groups {sorted(np.unique(case[2]).tolist())}, "
                           f"{int(case[0].sum())} positives"),
    hints=["Two rates per group: the TPR and the FPR. Then one gap per rate across the groups, then one "
           "number from the two gaps.",
           "TPR of group g: the share approved among g's examples with y_true == 1 only; FPR: among g's "
           "examples with y_true == 0 only. Loop over np.unique(groups) so 3 or 4 groups work too.",
           "A gap is the largest rate minus the smallest over all groups. Equalized odds holds only if "
           "both gaps are 0, so the difference reports the worse (larger) of the two gaps."],
    mistakes=[(_tpr_over_everyone, "your TPR counts true positives over *all* of the group's examples; "
                                   "a TPR is a rate among the group's positives (y_true == 1) only."),
              (_both_over_everyone, "your TPR and FPR divide by all of the group's examples; the TPR is a "
                                    "rate among the positives (y_true == 1), the FPR among the negatives."),
              (_precision_for_tpr, "your 'TPR' is the share of the *approved* who are positive: that is the "
                                   "PPV (precision). The TPR is the share of the *positives* who are approved."),
              (_mean_of_gaps, "you averaged the TPR gap and the FPR gap; equalized odds is violated as much "
                              "as its worse half is: report the larger gap."),
              (_sum_of_gaps, "you added the two gaps; equalized odds is violated as much as its worse "
                             "half: report the larger gap."),
              (_tpr_gap_only, "that is the TPR gap alone (the equal opportunity difference): equalized odds "
                              "also asks for equal false positive rates."),
              (_fpr_gap_only, "that is the FPR gap alone: equalized odds also asks for equal true positive "
                              "rates."),
              (_first_two_groups, "right for two groups, wrong for more: the gap is between the highest and "
                                  "the lowest group, not the first two.")])


# -- reweighing -----------------------------------------------------------------------------------
def _reweighing_reference(y, groups):
    return mitigation.reweighing(y, sensitive_features=groups)


def _reweighing_cases():
    rng = np.random.default_rng(2012)  # Kamiran & Calders' year
    cases = [(np.array([1, 0, 0, 0]), np.array(["a", "a", "b", "b"]))]
    return cases + [(rng.integers(0, 2, 50), rng.choice(["a", "b", "c"], 50)) for _ in range(3)]


def _inverse_weights(y, groups):
    w = np.empty(len(y))
    for g in np.unique(groups):
        for label in np.unique(y[groups == g]):
            cell = (groups == g) & (y == label)
            w[cell] = np.mean(cell) / (np.mean(groups == g) * np.mean(y == label))
    return w


reweighing_weights = Exercise(
    "reweighing_weights", solution=solutions.reweighing_weights, reference=_reweighing_reference,
    cases=_reweighing_cases,
    hints=["Every example in the same (group, label) cell gets the same weight: loop over groups and labels.",
           "weight = P(A=a) P(Y=y) / P(A=a, Y=y): mean(groups == a) * mean(y == label) / mean(cell)."],
    mistakes=[(_inverse_weights, "your weights are upside down: the expected share (if Y were independent of "
                                 "A) goes on top, the observed share of the cell below."),
              (lambda y, groups: np.ones(len(y)), "every weight is 1: the weights must depend on the example's "
                                                  "group and label.")])


# -- the judgement question ---------------------------------------------------------------------------
lender_criterion = Question("lender_criterion", model_answer="""\
A model answer (there is no single right one; what matters is the reasoning):

Which criterion? It depends on which error harms whom. A false negative rejects someone who would
have repaid: they lose credit they deserved, and in lending that loss compounds (no credit history,
worse terms later). A false positive approves someone who will default: the lender loses money and
the borrower gets debt they cannot carry. Equal opportunity (equal TPR) protects the qualified in
every group from being rejected more often, which is why Hardt et al. chose credit for it; full
equalized odds also equalises the FPR. But both are measured against labels, and in this notebook
the labels are past decisions with the old lender's bias in them: equal TPR against the records
carried that bias along (section 8). Demographic parity does not trust the labels and came closer
to equal opportunity against the truth here, at the price of ignoring real differences in
repayment where they exist. Calibration (a score means the same risk in every group) matters when
people act on the score. With different base rates these criteria cannot all hold (section 3).

Who decides? Not the data scientist alone, and not the metric. The people affected (applicants of
both groups, consumer advocates), the lender's risk and compliance staff, domain experts on credit,
and the law: in the US, ECOA / Regulation B forbids using the protected attribute in the decision
(so per-group thresholds are out as they stand) and disparate-impact doctrine constrains outcomes;
a regulator may set requirements. The technical part is to measure every criterion, with its
uncertainty, against the best labels available, to state what the labels are, and to show the
trade-offs so that the choice is made openly and written down (the model card), reviewed and
revisited as the deployed model changes the data it will be retrained on.""")
