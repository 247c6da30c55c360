"""Fairness metrics from scratch (notebook 08), with fairlearn's names and signatures.

Everything here is plain NumPy a learner can read top to bottom, and every public function has
the name, arguments and semantics of its twin in ``fairlearn.metrics`` (0.15), so code moves
across unchanged (the tests compare each one with fairlearn on many random datasets):

* base rates of one set of predictions: :func:`selection_rate` (P[h = 1]),
  :func:`true_positive_rate` (P[h = 1 | y = 1]), :func:`false_positive_rate`,
  :func:`false_negative_rate`, :func:`true_negative_rate`;
* one engine, :func:`by_group`, computes any metric per group (a light ``MetricFrame``) and
  reduces it to one number with ``difference`` (largest gap) or ``ratio`` (smallest ratio);
* five-line wrappers on that engine: :func:`demographic_parity_difference` / ``_ratio``,
  :func:`equalized_odds_difference` / ``_ratio`` and :func:`equal_opportunity_difference` /
  ``_ratio``;
* beyond fairlearn: :func:`roc_curve` and calibration per group (:func:`calibration_curve`,
  :func:`expected_calibration_error`, :func:`calibration_by_group`).

Conventions shared with fairlearn: ``sensitive_features`` is keyword-only and may be one
column (N,) or several (N, K) - then every combination is a group; ``method="between_groups"``
compares the groups with each other, ``"to_overall"`` compares each group with the whole data;
a rate whose denominator is empty (TPR of a group with no positives) is 0, as in scikit-learn;
``NaN`` group values (e.g. a selection rate with zero total weight) are skipped by the
reductions.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from .validation import as_1d, check_positive_int, check_sample_weight

METHODS = ("between_groups", "to_overall")
AGGREGATES = ("worst_case", "mean")

# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _weights(sample_weight, n: int) -> np.ndarray:
    return np.ones(n) if sample_weight is None else check_sample_weight(sample_weight, n)


def _pair(y_true, y_pred):
    y_true, y_pred = as_1d(y_true, "y_true"), as_1d(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}")
    return y_true, y_pred


def group_index(sensitive_features, n: int | None = None) -> tuple[list, np.ndarray]:
    """Split examples into groups: returns (group names in sorted order, codes (N,) of ints).

    ``sensitive_features``: one column (N,) or several - an (N, K) array, a dict of columns or a
    pandas DataFrame - in which case each observed combination is a group named by a tuple.
    """
    if isinstance(sensitive_features, dict):
        columns = [as_1d(v, f"sensitive_features[{k!r}]") for k, v in sensitive_features.items()]
    else:
        if hasattr(sensitive_features, "to_numpy"):  # pandas Series / DataFrame
            sensitive_features = sensitive_features.to_numpy()
        arr = np.asarray(sensitive_features)
        if arr.ndim == 1:
            columns = [arr]
        elif arr.ndim == 2:
            columns = [arr[:, k] for k in range(arr.shape[1])]  # (N,) per sensitive feature
        else:
            raise ValueError(f"sensitive_features must be 1-D (N,) or 2-D (N, K), got shape {arr.shape}")
    if not columns:
        raise ValueError("sensitive_features must hold at least one column")
    length = len(columns[0])
    if any(len(c) != length for c in columns) or (n is not None and length != n):
        raise ValueError(f"sensitive_features must have one value per example ({n if n is not None else length}), "
                         f"got {[len(c) for c in columns]}")
    if length == 0:
        raise ValueError("sensitive_features is empty: there are no examples to group")
    if len(columns) == 1:
        names, codes = np.unique(columns[0], return_inverse=True)
        return names.tolist(), codes.reshape(-1)  # (N,): older NumPy returned (N, 1) here
    uniques, per_column = zip(*(np.unique(c, return_inverse=True) for c in columns))
    combos, codes = np.unique(np.stack([c.reshape(-1) for c in per_column], axis=1),  # (N, K) codes
                              axis=0, return_inverse=True)  # combos (G, K): the observed combinations
    names = [tuple(u[i].item() for u, i in zip(uniques, row)) for row in combos]
    return names, codes.reshape(-1)  # (N,)


# --------------------------------------------------------------------------------------------
# Base metrics: one set of predictions
# --------------------------------------------------------------------------------------------


def selection_rate(y_true, y_pred, *, pos_label=1, sample_weight=None) -> float:
    r"""Fraction of predictions equal to ``pos_label`` (the "good" outcome): :math:`P[h(X) = 1]`.

    ``y_true`` is ignored (kept for a uniform metric signature). With weights it is
    :math:`\sum_i w_i [h_i = 1] / \sum_i w_i`.
    """
    y_pred = as_1d(y_pred, "y_pred")
    if len(y_pred) == 0:
        raise ValueError("Empty y_pred passed to selection_rate function.")
    w = _weights(sample_weight, len(y_pred))
    with np.errstate(invalid="ignore", divide="ignore"):  # zero total weight -> NaN, like fairlearn
        return float(np.dot(y_pred == pos_label, w) / w.sum())


def _positive_label(y_true, y_pred, pos_label):
    """fairlearn's rule: without pos_label the labels must be a subset of {0, 1} or {-1, 1} and 1 is
    positive; there may be at most two distinct labels, and pos_label must be one of them."""
    labels = np.unique(np.concatenate([y_true, y_pred])).tolist()
    if pos_label is None:
        if not (set(labels) <= {0, 1} or set(labels) <= {-1, 1}):
            raise ValueError(f"If pos_label is not specified, values must be from {{0, 1}} or {{-1, 1}}; "
                             f"got labels {labels[:10]}")
        pos_label = 1
    if len(labels) > 2:
        raise ValueError(f"Must have no more than two unique y values, got {labels[:10]}")
    if len(labels) == 2 and pos_label not in labels:
        raise ValueError(f"Must have pos_label in y values: pos_label={pos_label!r}, labels {labels}")
    return pos_label


def _confusion_rates(y_true, y_pred, sample_weight, pos_label) -> dict[str, float]:
    """Row-normalised weighted confusion matrix: TPR, FNR over actual positives, TNR, FPR over
    actual negatives. An empty row gives rates of 0 (scikit-learn's ``normalize="true"``)."""
    y_true, y_pred = _pair(y_true, y_pred)
    w = _weights(sample_weight, len(y_true))
    pos_label = _positive_label(y_true, y_pred, pos_label)
    actual, predicted = y_true == pos_label, y_pred == pos_label
    positives, negatives = w[actual].sum(), w[~actual].sum()
    tp, fn = w[actual & predicted].sum(), w[actual & ~predicted].sum()
    fp, tn = w[~actual & predicted].sum(), w[~actual & ~predicted].sum()

    def rate(count, total):
        return float(count / total) if total > 0 else 0.0

    return {"tpr": rate(tp, positives), "fnr": rate(fn, positives),
            "tnr": rate(tn, negatives), "fpr": rate(fp, negatives)}


def true_positive_rate(y_true, y_pred, sample_weight=None, pos_label=None) -> float:
    r"""Recall / sensitivity :math:`P[h = 1 \mid y = 1]` = TP / (TP + FN); 0 if there are no positives."""
    return _confusion_rates(y_true, y_pred, sample_weight, pos_label)["tpr"]


def false_negative_rate(y_true, y_pred, sample_weight=None, pos_label=None) -> float:
    r"""Miss rate :math:`P[h = 0 \mid y = 1]` = FN / (TP + FN) = 1 - TPR; 0 if there are no positives."""
    return _confusion_rates(y_true, y_pred, sample_weight, pos_label)["fnr"]


def true_negative_rate(y_true, y_pred, sample_weight=None, pos_label=None) -> float:
    r"""Specificity :math:`P[h = 0 \mid y = 0]` = TN / (TN + FP); 0 if there are no negatives."""
    return _confusion_rates(y_true, y_pred, sample_weight, pos_label)["tnr"]


def false_positive_rate(y_true, y_pred, sample_weight=None, pos_label=None) -> float:
    r"""Fall-out :math:`P[h = 1 \mid y = 0]` = FP / (FP + TN) = 1 - TNR; 0 if there are no negatives."""
    return _confusion_rates(y_true, y_pred, sample_weight, pos_label)["fpr"]


def accuracy(y_true, y_pred, sample_weight=None) -> float:
    """Weighted fraction of correct predictions (scikit-learn's ``accuracy_score``)."""
    y_true, y_pred = _pair(y_true, y_pred)
    w = _weights(sample_weight, len(y_true))
    return float(np.dot(y_true == y_pred, w) / w.sum())


def count(y_true, y_pred) -> int:
    """Number of examples (per group, in a :func:`by_group` table)."""
    y_true, _ = _pair(y_true, y_pred)
    return len(y_true)


# --------------------------------------------------------------------------------------------
# The engine: metrics per group, then one number
# --------------------------------------------------------------------------------------------


def _nanmax(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.max()) if len(values) else float("nan")


def _nanmin(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.min()) if len(values) else float("nan")


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _difference(values: np.ndarray, overall: float, method: str) -> float:
    """Largest absolute gap: max - min over groups, or max |group - overall|."""
    _check_method(method)
    if method == "between_groups":
        return _nanmax(values) - _nanmin(values)
    return _nanmax(np.abs(values - overall))


def _ratio(values: np.ndarray, overall: float, method: str) -> float:
    """Smallest ratio (always <= 1): min / max over groups, or min over groups of
    group/overall folded below 1 (a ratio r > 1 counts as 1/r). 0/0 is NaN."""
    _check_method(method)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "between_groups":
            return float(np.float64(_nanmin(values)) / np.float64(_nanmax(values)))
        ratios = values / np.float64(overall)
        ratios = np.where(ratios > 1, 1 / ratios, ratios)
    return _nanmin(ratios)


@dataclass
class GroupTable:
    """Metrics overall and per group (a light ``fairlearn.metrics.MetricFrame``).

    ``overall[name]`` is a float; ``by_group[name]`` an array (G,) aligned with ``groups``.
    """

    groups: list
    overall: dict[str, float]
    by_group: dict[str, np.ndarray]
    sensitive_name: str = "group"

    @property
    def metrics(self) -> list[str]:
        return list(self.overall)

    def group_min(self) -> dict[str, float]:
        return {m: _nanmin(v) for m, v in self.by_group.items()}

    def group_max(self) -> dict[str, float]:
        return {m: _nanmax(v) for m, v in self.by_group.items()}

    def difference(self, method: str = "between_groups") -> dict[str, float]:
        """Per metric: the largest gap between groups (or between a group and the overall value)."""
        return {m: _difference(v, self.overall[m], method) for m, v in self.by_group.items()}

    def ratio(self, method: str = "between_groups") -> dict[str, float]:
        """Per metric: the smallest ratio between groups (or of a group to the overall value)."""
        return {m: _ratio(v, self.overall[m], method) for m, v in self.by_group.items()}

    def join(self, other: "GroupTable") -> "GroupTable":
        """Both tables' metrics side by side (e.g. decisions' rates and scores' calibration errors)."""
        if list(other.groups) != list(self.groups):
            raise ValueError(f"tables must have the same groups to be joined, got {self.groups} and {other.groups}")
        return GroupTable(self.groups, {**self.overall, **other.overall}, {**self.by_group, **other.by_group},
                          self.sensitive_name)

    def __getitem__(self, key):
        """``table["selection_rate"]`` -> {group: value}; ``table[group]`` -> {metric: value}."""
        if key in self.by_group:
            return dict(zip(self.groups, self.by_group[key].tolist()))
        if key in self.groups:
            i = self.groups.index(key)
            return {m: float(v[i]) for m, v in self.by_group.items()}
        raise KeyError(f"{key!r} is neither a metric ({self.metrics}) nor a group ({self.groups})")

    def to_pandas(self):
        """The per-group table as a pandas DataFrame (rows: groups, columns: metrics)."""
        import pandas as pd

        index = pd.Index([str(g) for g in self.groups], name=self.sensitive_name)
        return pd.DataFrame({m: v for m, v in self.by_group.items()}, index=index)

    def _rows(self):
        header = [self.sensitive_name, *self.metrics]
        rows = [[str(g), *[self.by_group[m][i] for m in self.metrics]] for i, g in enumerate(self.groups)]
        rows.append(["overall", *[self.overall[m] for m in self.metrics]])
        diff = self.difference()
        rows.append(["difference (max - min)", *[diff[m] for m in self.metrics]])
        return header, rows

    @staticmethod
    def _fmt(value) -> str:
        if isinstance(value, str):
            return value
        if float(value).is_integer() and abs(value) >= 1:
            return f"{int(value):,}"
        return f"{value:.3f}"

    def __repr__(self) -> str:
        header, rows = self._rows()
        cells = [header] + [[self._fmt(v) for v in row] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
        lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in cells]
        return "\n".join(lines[:1] + ["-" * len(lines[0])] + lines[1:])

    def _repr_html_(self) -> str:
        header, rows = self._rows()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = ""
        for i, row in enumerate(rows):
            style = ' style="border-top: 1px solid #888"' if i == len(self.groups) else ""
            body += f"<tr{style}>" + "".join(f"<td>{html.escape(self._fmt(v))}</td>" for v in row) + "</tr>"
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _metric_name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def by_group(metrics, y_true, y_pred, *, sensitive_features, sample_weight=None,
             sensitive_name: str = "group") -> GroupTable:
    """Compute ``metrics`` on the whole data and on each group (a light ``MetricFrame``).

    metrics: one callable ``fn(y_true, y_pred)`` or a dict name -> callable (e.g. this module's
        rates, or scikit-learn's ``accuracy_score``). When ``sample_weight`` is given, each metric
        is called with ``sample_weight=`` its group's weights.
    y_true, y_pred: (N,); sensitive_features: (N,) or (N, K) - see :func:`group_index`.
    Returns a :class:`GroupTable`; ``.difference()`` and ``.ratio()`` reduce it to numbers.
    """
    if callable(metrics):
        metrics = {_metric_name(metrics): metrics}
    if not isinstance(metrics, dict) or not metrics or not all(callable(f) for f in metrics.values()):
        raise TypeError(f"metrics must be a callable or a non-empty dict of name -> callable, got {metrics!r}")
    y_true, y_pred = _pair(y_true, y_pred)
    groups, codes = group_index(sensitive_features, len(y_true))
    weights = None if sample_weight is None else _weights(sample_weight, len(y_true))

    def apply(fn, mask):
        if weights is None:
            return float(fn(y_true[mask], y_pred[mask]))
        return float(fn(y_true[mask], y_pred[mask], sample_weight=weights[mask]))

    everyone = np.ones(len(y_true), dtype=bool)
    overall = {name: apply(fn, everyone) for name, fn in metrics.items()}
    per_group = {name: np.array([apply(fn, codes == g) for g in range(len(groups))])
                 for name, fn in metrics.items()}
    return GroupTable(groups, overall, per_group, sensitive_name)


def _one_metric(metric, y_true, y_pred, sensitive_features, sample_weight) -> GroupTable:
    return by_group({"m": metric}, y_true, y_pred, sensitive_features=sensitive_features,
                    sample_weight=sample_weight)


# --------------------------------------------------------------------------------------------
# Fairness criteria: thin wrappers on the engine
# --------------------------------------------------------------------------------------------


def demographic_parity_difference(y_true, y_pred, *, sensitive_features, method="between_groups",
                                  sample_weight=None) -> float:
    r"""Demographic parity (independence, :math:`h \perp A`): largest gap in selection rate
    :math:`P[h = 1 \mid A = a]` between groups. 0 means every group is selected equally often."""
    _check_method(method)
    return _one_metric(selection_rate, y_true, y_pred, sensitive_features, sample_weight).difference(method)["m"]


def demographic_parity_ratio(y_true, y_pred, *, sensitive_features, method="between_groups",
                             sample_weight=None) -> float:
    """Smallest ratio of selection rates between groups (1 = parity; the "four-fifths rule" of US
    employment guidance flags ratios below 0.8)."""
    _check_method(method)
    return _one_metric(selection_rate, y_true, y_pred, sensitive_features, sample_weight).ratio(method)["m"]


def _check_agg(agg):
    if agg not in AGGREGATES:
        raise ValueError(f"agg must be one of 'worst_case' or 'mean', got {agg!r}")


def _odds_table(y_true, y_pred, sensitive_features, sample_weight) -> GroupTable:
    return by_group({"tpr": true_positive_rate, "fpr": false_positive_rate}, y_true, y_pred,
                    sensitive_features=sensitive_features, sample_weight=sample_weight)


def equalized_odds_difference(y_true, y_pred, *, sensitive_features, method="between_groups",
                              sample_weight=None, agg="worst_case") -> float:
    r"""Equalized odds (separation, :math:`h \perp A \mid Y`): the TPR gap and the FPR gap between
    groups, combined by ``agg``: ``"worst_case"`` (the larger) or ``"mean"``. 0 means every group
    has the same error rates."""
    _check_agg(agg)
    _check_method(method)
    diff = _odds_table(y_true, y_pred, sensitive_features, sample_weight).difference(method)
    if agg == "worst_case":
        return max(diff["tpr"], diff["fpr"])  # Python's max, as in fairlearn (same NaN behaviour)
    return _nanmean([diff["tpr"], diff["fpr"]])


def equalized_odds_ratio(y_true, y_pred, *, sensitive_features, method="between_groups",
                         sample_weight=None, agg="worst_case") -> float:
    """The TPR ratio and the FPR ratio between groups, combined by ``agg``: the smaller or the mean."""
    _check_agg(agg)
    _check_method(method)
    ratio = _odds_table(y_true, y_pred, sensitive_features, sample_weight).ratio(method)
    if agg == "worst_case":
        return min(ratio["tpr"], ratio["fpr"])
    return _nanmean([ratio["tpr"], ratio["fpr"]])


def _nanmean(values) -> float:
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def equal_opportunity_difference(y_true, y_pred, *, sensitive_features, method="between_groups",
                                 sample_weight=None) -> float:
    r"""Equal opportunity (Hardt et al. 2016): largest gap in TPR :math:`P[h = 1 \mid Y = 1, A = a]`
    - the qualified are accepted equally often in every group."""
    _check_method(method)
    return _one_metric(true_positive_rate, y_true, y_pred, sensitive_features, sample_weight).difference(method)["m"]


def equal_opportunity_ratio(y_true, y_pred, *, sensitive_features, method="between_groups",
                            sample_weight=None) -> float:
    """Smallest ratio of true positive rates between groups (1 = equal opportunity)."""
    _check_method(method)
    return _one_metric(true_positive_rate, y_true, y_pred, sensitive_features, sample_weight).ratio(method)["m"]


# --------------------------------------------------------------------------------------------
# Scores rather than decisions: ROC and calibration, per group
# --------------------------------------------------------------------------------------------


def _scores(y_true, y_score, name="y_score"):
    y_true = as_1d(y_true, "y_true")
    y_score = as_1d(y_score, name).astype(np.float64)
    if len(y_true) != len(y_score):
        raise ValueError(f"y_true and {name} must have the same length, got {len(y_true)} and {len(y_score)}")
    if not np.all(np.isfinite(y_score)):
        raise ValueError(f"{name} must be finite, got {int((~np.isfinite(y_score)).sum())} NaN/inf value(s)")
    labels = set(np.unique(y_true).tolist())
    if not labels <= {0, 1}:
        raise ValueError(f"y_true must hold labels 0 and 1, got {sorted(labels)[:10]}")
    return y_true.astype(np.int64), y_score


def roc_curve(y_true, y_score, *, sample_weight=None):
    """False and true positive rates of the rule ``score >= t`` for every distinct threshold t.

    y_true: (N,) in {0, 1}; y_score: (N,). Returns fpr, tpr, thresholds, each (T + 1,), the
    thresholds decreasing and starting at +inf (nothing selected). Same as scikit-learn's
    ``roc_curve(..., drop_intermediate=False)``.
    """
    y_true, y_score = _scores(y_true, y_score)
    w = _weights(sample_weight, len(y_true))
    keep = w > 0  # weightless examples would only add thresholds that change nothing
    y_true, y_score, w = y_true[keep], y_score[keep], w[keep]
    order = np.argsort(-y_score, kind="mergesort")  # highest score first
    score, pos, neg = y_score[order], (y_true[order] * w[order]), ((1 - y_true[order]) * w[order])
    last_of_tie = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]  # lowering t past a tie adds it whole
    tp, fp = np.cumsum(pos)[last_of_tie], np.cumsum(neg)[last_of_tie]
    tp, fp = np.r_[0.0, tp], np.r_[0.0, fp]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tp / tp[-1] if tp[-1] > 0 else np.full_like(tp, np.nan)
        fpr = fp / fp[-1] if fp[-1] > 0 else np.full_like(fp, np.nan)
    return fpr, tpr, np.r_[np.inf, score[last_of_tie]]


def calibration_curve(y_true, y_prob, *, n_bins: int = 10, sample_weight=None):
    """Reliability curve: cut [0, 1] into ``n_bins`` equal bins of predicted probability; in each
    non-empty bin return the mean prediction and the fraction of positives.

    Returns fraction_positive (B,), mean_predicted (B,), weight (B,) (the examples, or total
    weight, per bin), for the B non-empty bins. Perfect calibration puts every point on the
    diagonal. Bins are scikit-learn's (a value on an inner edge falls in the lower bin), so
    without weights this equals ``sklearn.calibration.calibration_curve`` plus the counts.
    """
    check_positive_int(n_bins, "n_bins")
    y_true, y_prob = _scores(y_true, y_prob, "y_prob")
    if len(y_prob) and (y_prob.min() < 0 or y_prob.max() > 1):
        raise ValueError(f"y_prob must be probabilities in [0, 1], got values in [{y_prob.min():g}, {y_prob.max():g}]")
    w = _weights(sample_weight, len(y_true))
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bin_of = np.searchsorted(edges[1:-1], y_prob)  # (N,) bin index in [0, n_bins)
    weight = np.bincount(bin_of, weights=w, minlength=n_bins)
    prob_sum = np.bincount(bin_of, weights=w * y_prob, minlength=n_bins)
    true_sum = np.bincount(bin_of, weights=w * y_true, minlength=n_bins)
    full = weight > 0
    return true_sum[full] / weight[full], prob_sum[full] / weight[full], weight[full]


def expected_calibration_error(y_true, y_prob, *, n_bins: int = 10, sample_weight=None) -> float:
    r"""ECE (Naeini et al. 2015; Guo et al. 2017): :math:`\sum_b \frac{n_b}{N}\,|\bar y_b - \bar p_b|`,
    the average distance from the diagonal of the reliability curve, weighted by bin size."""
    fraction_positive, mean_predicted, weight = calibration_curve(y_true, y_prob, n_bins=n_bins,
                                                                  sample_weight=sample_weight)
    return float(np.sum(weight * np.abs(fraction_positive - mean_predicted)) / weight.sum())


@dataclass
class GroupCalibration:
    """One group's reliability curve and expected calibration error."""

    fraction_positive: np.ndarray
    mean_predicted: np.ndarray
    weight: np.ndarray
    ece: float


def calibration_by_group(y_true, y_prob, *, sensitive_features, n_bins: int = 10,
                         sample_weight=None) -> dict:
    """Reliability curve and ECE per group: ``{group: GroupCalibration}``.

    A score is *calibrated within groups* when, in every group, the people given score p turn
    out positive a fraction p of the time - one of the criteria that cannot hold together with
    equal error rates when base rates differ (Kleinberg et al. 2016; Chouldechova 2017).
    """
    y_true, y_prob = _scores(y_true, y_prob, "y_prob")
    groups, codes = group_index(sensitive_features, len(y_true))
    w = _weights(sample_weight, len(y_true))
    result = {}
    for g, name in enumerate(groups):
        mask = codes == g
        curve = calibration_curve(y_true[mask], y_prob[mask], n_bins=n_bins, sample_weight=w[mask])
        ece = float(np.sum(curve[2] * np.abs(curve[0] - curve[1])) / curve[2].sum())
        result[name] = GroupCalibration(*curve, ece=ece)
    return result


__all__ = [
    "selection_rate", "true_positive_rate", "false_positive_rate", "false_negative_rate",
    "true_negative_rate", "accuracy", "count", "group_index", "by_group", "GroupTable",
    "demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
    "equalized_odds_ratio", "equal_opportunity_difference", "equal_opportunity_ratio",
    "roc_curve", "calibration_curve", "expected_calibration_error", "calibration_by_group",
    "GroupCalibration",
]
