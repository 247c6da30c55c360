"""Fairness metrics from scratch (notebook 13), with fairlearn's names and signatures.

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
* uncertainty: :func:`bootstrap_interval` (a percentile bootstrap that resamples examples
  within each group) for any gap, and ``by_group(..., n_boot=...)`` for a whole table - small
  groups give wide intervals, and a gap inside its interval's reach of 0 is not evidence of bias;
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
import inspect
import warnings
from dataclasses import dataclass, field

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
    """Number of examples (per group, in a :func:`by_group` table). Not a rate: it takes no
    weights, and a table shows no difference between groups for it."""
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
    ``counts`` names the metrics that count examples rather than measure a rate: the display
    shows no between-group difference for them (a gap in group sizes is not a fairness gap).
    With bootstrap intervals (``by_group(..., n_boot=...)``), ``interval_by_group[name]`` is an
    array (G, 2) of [low, high], ``interval_overall[name]`` and ``interval_difference[name]``
    pairs (low, high), at level ``confidence``.
    """

    groups: list
    overall: dict[str, float]
    by_group: dict[str, np.ndarray]
    sensitive_name: str = "group"
    counts: tuple = ()
    confidence: float | None = None
    interval_overall: dict = field(default_factory=dict)
    interval_by_group: dict = field(default_factory=dict)
    interval_difference: dict = field(default_factory=dict)

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
        if self.confidence is not None and other.confidence is not None and self.confidence != other.confidence:
            raise ValueError(f"tables with intervals at different levels cannot be joined: "
                             f"{self.confidence} and {other.confidence}")
        return GroupTable(self.groups, {**self.overall, **other.overall}, {**self.by_group, **other.by_group},
                          self.sensitive_name, (*self.counts, *other.counts),
                          self.confidence if self.confidence is not None else other.confidence,
                          {**self.interval_overall, **other.interval_overall},
                          {**self.interval_by_group, **other.interval_by_group},
                          {**self.interval_difference, **other.interval_difference})

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
        """Header and rows of cells; a cell is a value, or (value, (low, high)) with an interval."""
        def cell(value, intervals, key, i=None):
            if key not in intervals:
                return value
            interval = intervals[key] if i is None else intervals[key][i]
            return value, tuple(interval)

        header = [self.sensitive_name, *self.metrics]
        rows = [[str(g), *[cell(self.by_group[m][i], self.interval_by_group, m, i) for m in self.metrics]]
                for i, g in enumerate(self.groups)]
        rows.append(["overall", *[cell(self.overall[m], self.interval_overall, m) for m in self.metrics]])
        diff = self.difference()
        rows.append(["difference (max - min)",
                     *["-" if m in self.counts else cell(diff[m], self.interval_difference, m) for m in self.metrics]])
        return header, rows

    @staticmethod
    def _fmt(value) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, tuple):  # (value, (low, high))
            value, (low, high) = value
            return f"{value:.3f} [{low:.3f}, {high:.3f}]"
        if float(value).is_integer() and abs(value) >= 1:
            return f"{int(value):,}"
        return f"{value:.3f}"

    def _caption(self) -> str:
        if self.confidence is None:
            return ""
        return (f"[low, high]: {self.confidence:.0%} bootstrap interval (examples resampled within each group)")

    def __repr__(self) -> str:
        header, rows = self._rows()
        cells = [header] + [[self._fmt(v) for v in row] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
        lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in cells]
        caption = [self._caption()] if self.confidence is not None else []
        return "\n".join(lines[:1] + ["-" * len(lines[0])] + lines[1:] + caption)

    def _repr_html_(self) -> str:
        header, rows = self._rows()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = ""
        for i, row in enumerate(rows):
            style = ' style="border-top: 1px solid #888"' if i == len(self.groups) else ""
            body += f"<tr{style}>" + "".join(f"<td>{html.escape(self._fmt(v))}</td>" for v in row) + "</tr>"
        caption = f"<caption style='caption-side: bottom'>{html.escape(self._caption())}</caption>" \
            if self.confidence is not None else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _metric_name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def takes_sample_weight(fn) -> bool:
    """Whether the metric ``fn`` accepts a ``sample_weight=`` argument (or any keyword)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): let the call decide
        return True
    return any(p.name == "sample_weight" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def _sensitive_name(sensitive_features, sensitive_name):
    if sensitive_name is None:  # a dict or DataFrame of several features names its own columns
        keys = list(sensitive_features) if isinstance(sensitive_features, dict) else \
            list(getattr(sensitive_features, "columns", []))
        return " x ".join(map(str, keys)) if keys else "group"
    return sensitive_name


def by_group(metrics, y_true, y_pred, *, sensitive_features, sample_weight=None,
             sensitive_name: str | None = None, n_boot: int | None = None, confidence: float = 0.95,
             seed: int = 0) -> GroupTable:
    """Compute ``metrics`` on the whole data and on each group (a light ``MetricFrame``).

    metrics: one callable ``fn(y_true, y_pred)`` or a dict name -> callable (e.g. this module's
        rates, or scikit-learn's ``accuracy_score``). When ``sample_weight`` is given, it goes to
        the metrics whose signature takes ``sample_weight`` (with each group's weights), and not
        to the others, such as :func:`count` - what fairlearn's ``sample_params`` does by hand.
    y_true, y_pred: (N,); sensitive_features: (N,) or (N, K) - see :func:`group_index`.
    sensitive_name: the name of the grouping in displays (default: "group", or the dict's keys).
    n_boot: if given, also compute ``confidence`` intervals for every value from ``n_boot``
        bootstrap resamples (examples drawn with replacement within each group, seeded by
        ``seed``; see :func:`bootstrap_interval`).
    Returns a :class:`GroupTable`; ``.difference()`` and ``.ratio()`` reduce it to numbers.
    """
    if callable(metrics):
        metrics = {_metric_name(metrics): metrics}
    if not isinstance(metrics, dict) or not metrics or not all(callable(f) for f in metrics.values()):
        raise TypeError(f"metrics must be a callable or a non-empty dict of name -> callable, got {metrics!r}")
    y_true, y_pred = _pair(y_true, y_pred)
    groups, codes = group_index(sensitive_features, len(y_true))
    weights = None if sample_weight is None else _weights(sample_weight, len(y_true))
    table = _table(metrics, y_true, y_pred, codes, len(groups), weights)
    table.groups, table.sensitive_name = groups, _sensitive_name(sensitive_features, sensitive_name)
    if n_boot is None:
        return table

    def statistic(idx):  # every value of the table, for the examples idx
        t = _table(metrics, y_true[idx], y_pred[idx], codes[idx], len(groups), None if weights is None else weights[idx])
        diff = t.difference()
        return np.array([[t.overall[m], diff[m], *t.by_group[m]] for m in metrics])  # (M, 2 + G)

    estimate = np.array([[table.overall[m], table.difference()[m], *table.by_group[m]] for m in metrics])
    low, high, _ = _percentile_bootstrap(statistic, codes, len(groups), n_boot, confidence, seed, estimate.shape)
    table.confidence = confidence
    for k, m in enumerate(metrics):
        if m in table.counts:
            continue  # the resamples keep every group's size: a count has no sampling error here
        table.interval_overall[m] = (float(low[k, 0]), float(high[k, 0]))
        table.interval_difference[m] = (float(low[k, 1]), float(high[k, 1]))
        table.interval_by_group[m] = np.stack([low[k, 2:], high[k, 2:]], axis=1)  # (G, 2)
    return table


def _table(metrics, y_true, y_pred, codes, n_groups, weights) -> GroupTable:
    """The engine: every metric on everyone and on each group (codes (N,) in [0, n_groups))."""
    def apply(fn, mask):
        if weights is None or not takes_sample_weight(fn):
            return float(fn(y_true[mask], y_pred[mask]))
        return float(fn(y_true[mask], y_pred[mask], sample_weight=weights[mask]))

    everyone = np.ones(len(y_true), dtype=bool)
    overall = {name: apply(fn, everyone) for name, fn in metrics.items()}
    per_group = {name: np.array([apply(fn, codes == g) for g in range(n_groups)]) for name, fn in metrics.items()}
    counts = tuple(name for name, fn in metrics.items() if fn is count)
    return GroupTable(list(range(n_groups)), overall, per_group, counts=counts)


# --------------------------------------------------------------------------------------------
# Uncertainty: how much of a gap could chance alone produce?
# --------------------------------------------------------------------------------------------


@dataclass
class Interval:
    """A bootstrap interval: the ``estimate`` on the data, and [``low``, ``high``] at level ``confidence``.

    For a statistic that returns an array, each is an array of that shape; ``samples`` holds the
    statistic on every resample, (n_boot, ...).
    """

    estimate: float | np.ndarray
    low: float | np.ndarray
    high: float | np.ndarray
    confidence: float
    samples: np.ndarray

    def __repr__(self) -> str:
        if np.ndim(self.estimate) == 0:
            return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}] ({self.confidence:.0%} bootstrap interval)"
        return (f"Interval(estimate={np.round(self.estimate, 3).tolist()}, low={np.round(self.low, 3).tolist()}, "
                f"high={np.round(self.high, 3).tolist()}, confidence={self.confidence})")


def _resampled_indices(codes, n_groups, n_boot, seed):
    """``n_boot`` index arrays (N,): each group's examples drawn with replacement, group sizes kept."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(codes == g) for g in range(n_groups)]
    for _ in range(n_boot):
        yield np.concatenate([m[rng.integers(0, len(m), len(m))] for m in members])


def _percentile_bootstrap(statistic, codes, n_groups, n_boot, confidence, seed, shape):
    """Low and high percentiles of ``statistic(idx)`` over the resamples; also the samples."""
    check_positive_int(n_boot, "n_boot")
    if not (isinstance(confidence, (float, int)) and 0 < confidence < 1):
        raise ValueError(f"confidence must be a level in (0, 1), e.g. 0.95, got {confidence!r}")
    samples = np.empty((n_boot, *shape))
    for b, idx in enumerate(_resampled_indices(codes, n_groups, n_boot, seed)):
        samples[b] = statistic(idx)
    tail = (1 - confidence) / 2
    with warnings.catch_warnings():  # a value that is NaN on every resample stays NaN, quietly
        warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
        low, high = np.nanquantile(samples, [tail, 1 - tail], axis=0)  # NaN resamples (0/0 rates) are skipped
    return low, high, samples


def bootstrap_interval(statistic, y_true, y_pred, *, sensitive_features, n_boot: int = 1000,
                       confidence: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap interval of ``statistic(y_true, y_pred, sensitive_features=...)``.

    statistic: e.g. :func:`demographic_parity_difference` or :func:`equalized_odds_difference`,
        or any function of that signature returning a float or an array.
    Each of the ``n_boot`` resamples draws every group's examples with replacement, as many as
    the group has (so a small group never vanishes and the group sizes are those of the data);
    the interval runs from the (1 - confidence)/2 to the (1 + confidence)/2 quantile of the
    statistic over the resamples (Efron & Tibshirani 1993, ch. 13). Seeded: the same ``seed``
    gives the same interval.

    A gap is never negative, so when the true gap is 0 the interval still sits above 0: read
    an interval whose low end is near 0 as "no clear gap", not as a gap.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    groups, codes = group_index(sensitive_features, len(y_true))
    estimate = statistic(y_true, y_pred, sensitive_features=sensitive_features)
    shape = np.shape(estimate)
    low, high, samples = _percentile_bootstrap(
        lambda idx: statistic(y_true[idx], y_pred[idx], sensitive_features=_take(sensitive_features, idx)),
        codes, len(groups), n_boot, confidence, seed, shape)
    if shape == ():
        return Interval(float(estimate), float(low), float(high), confidence, samples)
    return Interval(np.asarray(estimate, dtype=float), low, high, confidence, samples)


def _take(sensitive_features, idx):
    """The sensitive features of the examples ``idx``, in the form they were given."""
    if isinstance(sensitive_features, dict):
        return {k: as_1d(v, f"sensitive_features[{k!r}]")[idx] for k, v in sensitive_features.items()}
    if hasattr(sensitive_features, "iloc"):  # pandas keeps its column names
        return sensitive_features.iloc[idx]
    return np.asarray(sensitive_features)[idx]


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


def roc_auc_score(y_true, y_score, *, sample_weight=None) -> float:
    """Area under the ROC curve (trapezoids between the points of :func:`roc_curve`): the chance
    that a random positive example scores above a random negative one, ties counting half.

    1 ranks every positive above every negative, 0.5 is no better than chance. Same as
    scikit-learn's ``roc_auc_score`` for binary labels; needs both labels in ``y_true``.
    """
    fpr, tpr, _ = roc_curve(y_true, y_score, sample_weight=sample_weight)
    if np.isnan(fpr[-1]) or np.isnan(tpr[-1]):
        missing = "positive (1)" if np.isnan(tpr[-1]) else "negative (0)"
        raise ValueError(f"the ROC AUC needs both labels in y_true, got no {missing} example "
                         f"(with a weight above 0)")
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


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
    return _ece(*calibration_curve(y_true, y_prob, n_bins=n_bins, sample_weight=sample_weight))


def _ece(fraction_positive, mean_predicted, weight) -> float:
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
        result[name] = GroupCalibration(*curve, ece=_ece(*curve))
    return result


__all__ = [
    "selection_rate", "true_positive_rate", "false_positive_rate", "false_negative_rate",
    "true_negative_rate", "accuracy", "count", "group_index", "by_group", "GroupTable", "takes_sample_weight",
    "bootstrap_interval", "Interval",
    "demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
    "equalized_odds_ratio", "equal_opportunity_difference", "equal_opportunity_ratio",
    "roc_curve", "roc_auc_score", "calibration_curve", "expected_calibration_error", "calibration_by_group",
    "GroupCalibration",
]
