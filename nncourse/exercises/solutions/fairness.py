"""Answers to the exercises of notebook 13 (ethics and bias)."""
import numpy as np

dp_by_hand = "dp_by_hand = 4 / 6 - 1 / 4  # A: 4 of 6 approved, B: 1 of 4"


def equalized_odds(y_true, y_pred, groups):
    tpr, fpr = [], []
    for g in np.unique(groups):
        in_g = groups == g
        tpr.append(y_pred[in_g & (y_true == 1)].mean())  # among the group's positives only
        fpr.append(y_pred[in_g & (y_true == 0)].mean())  # among the group's negatives only
    tpr_gap, fpr_gap = max(tpr) - min(tpr), max(fpr) - min(fpr)  # over all groups, not the first two
    return max(tpr_gap, fpr_gap)  # the worse of the two gaps (fairlearn's equalized_odds_difference)


def reweighing_weights(y, groups):
    w = np.empty(len(y))
    for g in np.unique(groups):
        for label in np.unique(y[groups == g]):  # the labels present in group g
            cell = (groups == g) & (y == label)
            # P(A=g) P(Y=label) / P(A=g, Y=label): what the cell would weigh if Y were independent of A
            w[cell] = np.mean(groups == g) * np.mean(y == label) / np.mean(cell)
    return w
