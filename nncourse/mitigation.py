"""Bias mitigation from scratch (notebook 13): before training and after it.

* The classifier the notebook audits: :func:`train_classifier`, logistic regression or a small
  MLP built from the course's own layers (``nncourse.mlp``), trained full-batch on the weighted
  binary cross-entropy - weights are what pre-processing changes.
* Pre-processing, :func:`reweighing` (Kamiran & Calders 2012): weight each (group, label) cell by
  P(A = a) P(Y = y) / P(A = a, Y = y), so that in the weighted training data the label is
  independent of the group. The features and labels are left untouched.
* Post-processing, per-group thresholds (Hardt, Price & Srebro 2016, without their
  randomisation): keep the scores, pick one threshold per group so that the groups get equal
  selection rates (:func:`equal_selection_thresholds`, demographic parity) or equal true positive
  rates (:func:`equal_tpr_thresholds`, equal opportunity). :func:`threshold_tradeoff` sweeps the
  target to draw the accuracy / fairness trade-off: thresholds chosen on training (or validation)
  scores, evaluated on held-out ones, as :func:`reweighing_tradeoff` trains on one split and
  evaluates on another. Using the group at decision time is disparate treatment: in US hiring
  and lending, per-group cut-offs on a protected attribute are unlawful as they stand (notebook 13).

fairlearn's ``ThresholdOptimizer`` (post-processing, randomised thresholds) and
``ExponentiatedGradient`` (in-processing "reductions") are the well-kept versions to use in
practice; the notebook shows both next to these.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import fairness
from .activations import sigmoid
from .layers import Sequential, mlp
from .optim import Adam
from .validation import as_1d, as_array, check_finite, check_labels, check_positive_int, check_sample_weight

# --------------------------------------------------------------------------------------------
# The classifier: weighted logistic regression / small MLP from the course's layers
# --------------------------------------------------------------------------------------------


@dataclass
class ScoreModel:
    """A trained binary classifier: ``predict_proba(X)`` (N,) scores in [0, 1].

    ``network`` is an ``nncourse`` layer stack (``network.to_torch()`` gives the PyTorch twin);
    ``losses`` is the training loss per step.
    """

    network: Sequential
    losses: list[float] = field(default_factory=list)

    def logits(self, X) -> np.ndarray:
        X = as_array(X, "X", ndim=2).astype(np.float64, copy=False)
        return self.network.forward(X)[:, 0]  # (N,)

    def predict_proba(self, X) -> np.ndarray:
        return sigmoid(self.logits(X))

    def predict(self, X, threshold: float = 0.5) -> np.ndarray:
        """Decisions (N,) in {0, 1}: 1 where the score is >= threshold."""
        return (self.predict_proba(X) >= threshold).astype(np.int64)


def train_classifier(X, y, *, sample_weight=None, hidden_size: int = 0, steps: int = 200,
                     lr: float = 0.1, weight_decay: float = 1e-4, seed: int = 0) -> ScoreModel:
    """Fit logistic regression (``hidden_size=0``) or a one-hidden-layer tanh MLP with full-batch Adam.

    X: (N, F); y: (N,) in {0, 1}; sample_weight: (N,) non-negative, default all 1. The loss is the
    weighted mean binary cross-entropy :math:`\\sum_i w_i \\ell_i / \\sum_i w_i`, so multiplying every
    weight by a constant changes nothing (``losses`` records it); ``weight_decay`` adds an L2 penalty
    to the gradient. Returns a :class:`ScoreModel`.
    """
    X = as_array(X, "X", ndim=2).astype(np.float64, copy=False)
    check_finite(X, "X")
    y = check_labels(y, (0, 1), "y").astype(np.float64)
    if len(y) != len(X):
        raise ValueError(f"X and y must have the same number of examples, got {len(X)} and {len(y)}")
    w = np.ones(len(y)) if sample_weight is None else check_sample_weight(sample_weight, len(y), require_positive=True)
    w = w / w.sum()
    check_positive_int(steps, "steps")
    sizes = [X.shape[1], hidden_size, 1] if hidden_size else [X.shape[1], 1]
    network = mlp(sizes, "tanh", seed=seed)
    optimizer = Adam(network.params, lr=lr, weight_decay=weight_decay)  # the Adam of notebook 04
    losses = []
    for _ in range(steps):
        z = network.forward(X)[:, 0]                                     # (N,) logits
        losses.append(float(np.dot(w, np.logaddexp(0, z) - y * z)))     # weighted BCE on logits
        network.backward(((sigmoid(z) - y) * w)[:, None])               # dL/dz = w (p - y), (N, 1)
        optimizer.step(network.grads)  # weight_decay: + weight_decay * param on each gradient (L2)
    return ScoreModel(network, losses)


# --------------------------------------------------------------------------------------------
# Pre-processing: reweighing
# --------------------------------------------------------------------------------------------


def reweighing(y, *, sensitive_features) -> np.ndarray:
    """Kamiran & Calders (2012) weights (N,): :math:`w(a, y) = P(A{=}a)\\,P(Y{=}y) / P(A{=}a, Y{=}y)`.

    Under-represented cells (say qualified people of a group that was rarely approved) get
    weights above 1, over-represented ones below 1. In the weighted data every group has the
    overall positive rate and keeps its size: :math:`\\sum_{i \\in a} w_i = n_a`.
    """
    y = as_1d(y, "y")
    groups, codes = fairness.group_index(sensitive_features, len(y))
    labels, label_codes = np.unique(y, return_inverse=True)
    n = len(y)
    weights = np.empty(n)
    for g in range(len(groups)):
        for k in range(len(labels)):
            cell = (codes == g) & (label_codes == k)
            if cell.any():
                weights[cell] = (np.mean(codes == g) * np.mean(label_codes == k)) / cell.mean()
    return weights


# --------------------------------------------------------------------------------------------
# Post-processing: one threshold per group
# --------------------------------------------------------------------------------------------


def _scores_and_groups(scores, sensitive_features):
    scores = as_1d(scores, "scores").astype(np.float64)
    check_finite(scores, "scores")
    groups, codes = fairness.group_index(sensitive_features, len(scores))
    return scores, groups, codes


def _check_rate(value, name):
    if not (isinstance(value, (int, float, np.floating)) and 0 <= value <= 1):
        raise ValueError(f"{name} must be a rate in [0, 1], got {value!r}")
    return float(value)


def apply_thresholds(scores, *, sensitive_features, thresholds) -> np.ndarray:
    """Decisions (N,) in {0, 1}: ``scores >= thresholds[group]`` for each example's group.

    thresholds: a dict group -> threshold (every group present needs one) or one number for all.
    """
    scores, groups, codes = _scores_and_groups(scores, sensitive_features)
    if not isinstance(thresholds, dict):
        return (scores >= float(thresholds)).astype(np.int64)
    missing = [g for g in groups if g not in thresholds]
    if missing:
        raise ValueError(f"thresholds must give a threshold for every group; missing {missing} "
                         f"(groups present: {groups})")
    per_example = np.array([thresholds[g] for g in groups], dtype=float)[codes]  # (N,)
    return (scores >= per_example).astype(np.int64)


def threshold_for_rate(scores, rate: float) -> float:
    """A threshold t such that a fraction ``rate`` of ``scores`` is >= t (as close as ties allow).

    Sorting the scores from high to low, t is the k-th one, k = round(rate * N); rate 0 gives +inf.
    """
    scores = np.sort(as_1d(scores, "scores").astype(np.float64))[::-1]  # high -> low
    rate = _check_rate(rate, "rate")
    k = int(round(rate * len(scores)))
    return float(scores[k - 1]) if k >= 1 else float("inf")


def equal_selection_thresholds(scores, *, sensitive_features, rate: float | None = None) -> dict:
    """One threshold per group so that every group is selected at ``rate`` (demographic parity).

    Default rate: the overall selection rate of the single threshold 0.5, so the number of
    people selected stays about the same and only who is selected changes.
    """
    scores, groups, codes = _scores_and_groups(scores, sensitive_features)
    rate = float(np.mean(scores >= 0.5)) if rate is None else _check_rate(rate, "rate")
    return {g: threshold_for_rate(scores[codes == i], rate) for i, g in enumerate(groups)}


def equal_tpr_thresholds(scores, y_true, *, sensitive_features, tpr: float | None = None) -> dict:
    """One threshold per group so that every group's true positive rate is ``tpr`` (equal
    opportunity: qualified people are accepted equally often whatever their group).

    Default tpr: the overall TPR of the single threshold 0.5. A group with no positive example
    keeps the threshold 0.5 (its TPR is undefined).
    """
    scores, groups, codes = _scores_and_groups(scores, sensitive_features)
    y_true = check_labels(as_1d(y_true, "y_true"), (0, 1), "y_true")
    if len(y_true) != len(scores):
        raise ValueError(f"y_true and scores must have the same length, got {len(y_true)} and {len(scores)}")
    positive = y_true == 1
    if tpr is None:
        tpr = float(np.mean(scores[positive] >= 0.5)) if positive.any() else 0.5
    tpr = _check_rate(tpr, "tpr")
    thresholds = {}
    for i, g in enumerate(groups):
        pos_scores = scores[(codes == i) & positive]
        thresholds[g] = threshold_for_rate(pos_scores, tpr) if len(pos_scores) else 0.5
    return thresholds


@dataclass
class Tradeoff:
    """Accuracy and fairness gaps along a sweep of targets (one entry per target)."""

    targets: np.ndarray
    accuracy: np.ndarray
    demographic_parity_difference: np.ndarray
    equalized_odds_difference: np.ndarray
    equal_opportunity_difference: np.ndarray


def evaluate_decisions(y_true, y_pred, sensitive_features) -> dict[str, float]:
    """Accuracy and the three fairness gaps of a set of decisions."""
    kw = dict(sensitive_features=sensitive_features)
    return {
        "accuracy": fairness.accuracy(y_true, y_pred),
        "demographic_parity_difference": fairness.demographic_parity_difference(y_true, y_pred, **kw),
        "equalized_odds_difference": fairness.equalized_odds_difference(y_true, y_pred, **kw),
        "equal_opportunity_difference": fairness.equal_opportunity_difference(y_true, y_pred, **kw),
    }


def threshold_tradeoff(train_scores, y_train, A_train, test_scores, y_test, A_test, *,
                       criterion: str = "selection_rate", targets=None) -> Tradeoff:
    """Sweep the common target of per-group thresholds and measure accuracy and fairness.

    For each target the thresholds are chosen on ``train_scores`` (N_train,) with their labels
    and groups - training or validation data - and the decisions they give on ``test_scores``
    (N_test,) are evaluated against ``y_test``, so the test set plays no part in the choice.
    criterion: ``"selection_rate"`` (thresholds from :func:`equal_selection_thresholds`) or
    ``"tpr"`` (:func:`equal_tpr_thresholds`); targets: rates in [0, 1] (default 21 values).
    """
    if criterion not in ("selection_rate", "tpr"):
        raise ValueError(f"criterion must be 'selection_rate' or 'tpr', got {criterion!r}")
    targets = np.linspace(0.0, 1.0, 21) if targets is None else np.asarray(targets, dtype=float)
    rows = []
    for target in targets:
        if criterion == "selection_rate":
            t = equal_selection_thresholds(train_scores, sensitive_features=A_train, rate=float(target))
        else:
            t = equal_tpr_thresholds(train_scores, y_train, sensitive_features=A_train, tpr=float(target))
        y_pred = apply_thresholds(test_scores, sensitive_features=A_test, thresholds=t)
        rows.append(evaluate_decisions(y_test, y_pred, A_test))
    return Tradeoff(targets, *(np.array([r[k] for r in rows]) for k in
                               ("accuracy", "demographic_parity_difference", "equalized_odds_difference",
                                "equal_opportunity_difference")))


def reweighing_tradeoff(X_train, y_train, A_train, X_test, y_test, A_test, *, strengths=None,
                        **train_kwargs) -> Tradeoff:
    """Train with weights ``(1 - s) + s * reweighing`` for each strength s in [0, 1] (0: plain
    training, 1: full reweighing) and measure the test accuracy and fairness of the 0.5 threshold."""
    strengths = np.linspace(0.0, 1.0, 6) if strengths is None else np.asarray(strengths, dtype=float)
    full = reweighing(y_train, sensitive_features=A_train)
    rows = []
    for s in strengths:
        model = train_classifier(X_train, y_train, sample_weight=(1 - s) + s * full, **train_kwargs)
        rows.append(evaluate_decisions(y_test, model.predict(X_test), A_test))
    return Tradeoff(strengths, *(np.array([r[k] for r in rows]) for k in
                                 ("accuracy", "demographic_parity_difference", "equalized_odds_difference",
                                  "equal_opportunity_difference")))


__all__ = ["ScoreModel", "train_classifier", "reweighing", "apply_thresholds", "threshold_for_rate",
           "equal_selection_thresholds", "equal_tpr_thresholds", "Tradeoff", "evaluate_decisions",
           "threshold_tradeoff", "reweighing_tradeoff"]
