"""nncourse.fairness against fairlearn (the reference) on many random datasets and edge cases."""
import math

import numpy as np
import pytest

fairlearn_metrics = pytest.importorskip("fairlearn.metrics")
from sklearn.calibration import calibration_curve as sk_calibration_curve  # noqa: E402
from sklearn.metrics import accuracy_score, roc_auc_score as sk_roc_auc_score  # noqa: E402
from sklearn.metrics import roc_curve as sk_roc_curve  # noqa: E402

from nncourse import fairness as F  # noqa: E402

SUMMARY = ["demographic_parity_difference", "demographic_parity_ratio", "equal_opportunity_difference",
           "equal_opportunity_ratio"]
ODDS = ["equalized_odds_difference", "equalized_odds_ratio"]
RATES = ["true_positive_rate", "false_positive_rate", "false_negative_rate", "true_negative_rate"]
MAX_ERRORS = {}  # metric -> largest |ours - fairlearn| seen (printed after the run by conftest's summary hook)


def same(ours, theirs, name):
    theirs = float(theirs)
    if math.isnan(theirs):
        assert math.isnan(ours), f"{name}: fairlearn gives NaN, we give {ours}"
        return
    err = abs(ours - theirs)
    key = name.split(" ")[0]  # one line per metric in the report
    MAX_ERRORS[key] = max(MAX_ERRORS.get(key, 0.0), err)
    assert err <= 1e-12, f"{name}: ours {ours!r} vs fairlearn {theirs!r}"


def random_dataset(seed):
    """2-4 groups of unequal sizes; sometimes a group with no positives, weights, or -1/1 labels."""
    rng = np.random.default_rng(seed)
    n_groups = int(rng.integers(2, 5))
    sizes = rng.integers(3, 60, n_groups)
    groups = np.repeat(np.array(["a", "b", "c", "d"][:n_groups]), sizes)
    rng.shuffle(groups)
    n = len(groups)
    base = rng.uniform(0.1, 0.9, n_groups)[np.searchsorted(["a", "b", "c", "d"], groups)]
    y_true = (rng.random(n) < base).astype(int)
    y_pred = (rng.random(n) < np.clip(base + rng.normal(0, 0.2, n), 0, 1)).astype(int)
    if seed % 3 == 0:  # one group without any positive example: its TPR is 0 (empty denominator)
        y_true[groups == "b"] = 0
    if seed % 5 == 0:  # one group without any negative example: its FPR is 0
        y_true[groups == "a"] = 1
    if seed % 7 == 0:  # labels in {-1, 1}
        y_true, y_pred = 2 * y_true - 1, 2 * y_pred - 1
    weights = rng.uniform(0.1, 3.0, n) if seed % 2 else None
    return y_true, y_pred, groups, weights


@pytest.mark.parametrize("seed", range(16))
def test_fairness_metrics_match_fairlearn(seed):
    y_true, y_pred, groups, weights = random_dataset(seed)
    for method in F.METHODS:
        for name in SUMMARY:
            ours = getattr(F, name)(y_true, y_pred, sensitive_features=groups, method=method, sample_weight=weights)
            theirs = getattr(fairlearn_metrics, name)(y_true, y_pred, sensitive_features=groups, method=method,
                                                      sample_weight=weights)
            same(ours, theirs, name)
        for name in ODDS:
            for agg in F.AGGREGATES:
                ours = getattr(F, name)(y_true, y_pred, sensitive_features=groups, method=method,
                                        sample_weight=weights, agg=agg)
                theirs = getattr(fairlearn_metrics, name)(y_true, y_pred, sensitive_features=groups,
                                                          method=method, sample_weight=weights, agg=agg)
                same(ours, theirs, f"{name} (agg={agg})")


@pytest.mark.parametrize("seed", range(8))
def test_base_rates_and_by_group_match_metricframe(seed):
    y_true, y_pred, groups, weights = random_dataset(seed)
    for name in RATES:
        same(getattr(F, name)(y_true, y_pred, weights), getattr(fairlearn_metrics, name)(y_true, y_pred, weights), name)
    same(F.selection_rate(y_true, y_pred, sample_weight=weights),
         fairlearn_metrics.selection_rate(y_true, y_pred, sample_weight=weights), "selection_rate")

    ours_metrics = {"selection_rate": F.selection_rate, "tpr": F.true_positive_rate, "fpr": F.false_positive_rate,
                    "accuracy": F.accuracy}
    theirs_metrics = {"selection_rate": fairlearn_metrics.selection_rate, "tpr": fairlearn_metrics.true_positive_rate,
                      "fpr": fairlearn_metrics.false_positive_rate, "accuracy": accuracy_score}
    table = F.by_group(ours_metrics, y_true, y_pred, sensitive_features=groups, sample_weight=weights)
    frame = fairlearn_metrics.MetricFrame(
        metrics=theirs_metrics, y_true=y_true, y_pred=y_pred, sensitive_features=groups,
        sample_params=None if weights is None else {k: {"sample_weight": weights} for k in theirs_metrics})
    assert table.groups == frame.by_group.index.tolist()
    for m in ours_metrics:
        np.testing.assert_allclose(table.by_group[m], frame.by_group[m].to_numpy(), atol=1e-12, err_msg=m)
        same(table.overall[m], frame.overall[m], f"by_group overall {m}")
        for method in F.METHODS:
            same(table.difference(method)[m], frame.difference(method=method)[m], f"by_group difference {m}")
            same(table.ratio(method)[m], frame.ratio(method=method)[m], f"by_group ratio {m}")
        same(table.group_min()[m], frame.group_min()[m], "group_min")
        same(table.group_max()[m], frame.group_max()[m], "group_max")


def test_fairlearn_documented_example():
    # The MetricFrame docstring example of fairlearn 0.15 (and its printed numbers).
    y_true = [1, 1, 1, 1, 1, 0, 0, 1, 1, 0]
    y_pred = [0, 1, 1, 1, 1, 0, 0, 0, 1, 1]
    sex = ["Female"] * 5 + ["Male"] * 5
    table = F.by_group({"accuracy": F.accuracy, "selection_rate": F.selection_rate}, y_true, y_pred,
                       sensitive_features=sex)
    assert table["selection_rate"] == pytest.approx({"Female": 0.8, "Male": 0.4})
    assert table["accuracy"] == pytest.approx({"Female": 0.8, "Male": 0.6})
    assert table.difference() == pytest.approx({"accuracy": 0.2, "selection_rate": 0.4})
    assert table.ratio()["selection_rate"] == pytest.approx(0.5)
    assert table.group_max()["selection_rate"] == pytest.approx(0.8)
    assert F.demographic_parity_difference(y_true, y_pred, sensitive_features=sex) == pytest.approx(0.4)
    for name in SUMMARY + ODDS:
        same(getattr(F, name)(y_true, y_pred, sensitive_features=sex),
             getattr(fairlearn_metrics, name)(y_true, y_pred, sensitive_features=sex), name)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # fairlearn's 0/0
def test_edge_cases_match_fairlearn():
    sf = np.array(["x"] * 4 + ["y"] * 4)
    cases = {
        "no positives anywhere": (np.zeros(8, int), np.array([0, 1, 0, 0, 1, 1, 0, 0])),
        "nobody selected": (np.array([1, 0, 1, 0, 1, 0, 1, 1]), np.zeros(8, int)),
        "everyone selected": (np.array([1, 0, 1, 0, 1, 0, 1, 1]), np.ones(8, int)),
        "perfect predictions": (np.array([1, 0, 1, 0, 1, 0, 0, 1]), np.array([1, 0, 1, 0, 1, 0, 0, 1])),
        "one group all positive": (np.array([1, 1, 1, 1, 0, 1, 0, 0]), np.array([1, 0, 1, 1, 0, 1, 1, 0])),
    }
    for label, (y_true, y_pred) in cases.items():
        for method in F.METHODS:
            for name in SUMMARY:
                same(getattr(F, name)(y_true, y_pred, sensitive_features=sf, method=method),
                     getattr(fairlearn_metrics, name)(y_true, y_pred, sensitive_features=sf, method=method),
                     f"{name} [{label}]")
            for name in ODDS:
                for agg in F.AGGREGATES:
                    same(getattr(F, name)(y_true, y_pred, sensitive_features=sf, method=method, agg=agg),
                         getattr(fairlearn_metrics, name)(y_true, y_pred, sensitive_features=sf, method=method,
                                                          agg=agg), f"{name} [{label}]")
    # zero total weight in one group: its selection rate is NaN and is skipped, as in fairlearn
    y_true, y_pred = np.array([1, 0, 1, 0, 1, 0, 1, 1]), np.array([1, 1, 0, 0, 1, 0, 0, 1])
    w = np.array([0, 0, 0, 0, 1, 2, 1, 1.0])
    for method in F.METHODS:
        same(F.demographic_parity_difference(y_true, y_pred, sensitive_features=sf, sample_weight=w, method=method),
             fairlearn_metrics.demographic_parity_difference(y_true, y_pred, sensitive_features=sf,
                                                             sample_weight=w, method=method), "dp zero weight")


def test_string_labels_with_pos_label_and_multiple_sensitive_columns():
    rng = np.random.default_rng(3)
    y_true = rng.choice(["approve", "deny"], 80)
    y_pred = rng.choice(["approve", "deny"], 80)
    for name in RATES:
        same(getattr(F, name)(y_true, y_pred, pos_label="approve"),
             getattr(fairlearn_metrics, name)(y_true, y_pred, pos_label="approve"), name)
    same(F.selection_rate(y_true, y_pred, pos_label="approve"),
         fairlearn_metrics.selection_rate(y_true, y_pred, pos_label="approve"), "selection_rate")
    # two sensitive columns: every observed combination is a group (intersectional groups)
    yt, yp = rng.integers(0, 2, 120), rng.integers(0, 2, 120)
    sf = np.stack([rng.choice(["F", "M"], 120), rng.choice(["young", "mid", "old"], 120)], axis=1)  # (N, 2)
    table = F.by_group(F.selection_rate, yt, yp, sensitive_features=sf)
    assert len(table.groups) == 6 and all(isinstance(g, tuple) for g in table.groups)
    for name in SUMMARY + ODDS:
        same(getattr(F, name)(yt, yp, sensitive_features=sf),
             getattr(fairlearn_metrics, name)(yt, yp, sensitive_features=sf), f"{name} (2 columns)")
    same(F.demographic_parity_difference(yt, yp, sensitive_features={"sex": sf[:, 0], "age": sf[:, 1]}),
         fairlearn_metrics.demographic_parity_difference(yt, yp, sensitive_features=sf), "dp (dict)")


def test_torch_and_pandas_inputs_are_accepted():
    torch = pytest.importorskip("torch")
    pd = pytest.importorskip("pandas")
    y_true, y_pred, groups, _ = random_dataset(1)
    expected = F.demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
    assert F.demographic_parity_difference(torch.tensor(y_true), torch.tensor(y_pred),
                                           sensitive_features=pd.Series(groups)) == expected
    frame = F.by_group(F.selection_rate, y_true, y_pred, sensitive_features=groups).to_pandas()
    assert list(frame.columns) == ["selection_rate"] and len(frame) == len(set(groups))


def test_group_table_display():
    table = F.by_group({"selection_rate": F.selection_rate, "count": F.count}, [1, 0, 1, 1], [1, 0, 0, 1],
                       sensitive_features=["p", "q", "q", "q"], sensitive_name="sex")
    text = repr(table)
    assert text.splitlines()[0].split() == ["sex", "selection_rate", "count"]
    assert "overall" in text and "difference" in text
    # a difference in group sizes is not a fairness gap: the count column shows none
    assert text.splitlines()[-1].split()[-2:] == ["0.667", "-"]
    assert table.counts == ("count",) and table.difference()["count"] == 2  # still computed, as fairlearn does
    table = F.by_group({"selection_rate": F.selection_rate, "count": F.count}, [1, 0, 1, 1], [1, 0, 0, 1],
                       sensitive_features=["p", "p", "q", "q"], sensitive_name="sex")
    assert "<table>" in table._repr_html_() and "0.500" in table._repr_html_()
    assert table["p"] == {"selection_rate": 0.5, "count": 2.0}
    with pytest.raises(KeyError, match="neither a metric"):
        table["nope"]
    scores = F.by_group({"ece": F.expected_calibration_error}, [1, 0, 1, 1], [0.9, 0.2, 0.4, 0.8],
                        sensitive_features=["p", "p", "q", "q"])
    joined = table.join(scores)
    assert joined.metrics == ["selection_rate", "count", "ece"] and joined["q"]["ece"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="same groups"):
        table.join(F.by_group(F.count, [1], [1], sensitive_features=["z"]))


def test_roc_curve_matches_sklearn():
    for seed in range(8):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, 200)
        score = np.round(rng.random(200), 2)  # ties on purpose
        w = rng.uniform(0, 2, 200) if seed % 2 else None
        ours = F.roc_curve(y, score, sample_weight=w)
        theirs = sk_roc_curve(y, score, sample_weight=w, drop_intermediate=False)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, atol=1e-12)


def test_roc_auc_matches_sklearn_and_counts_ties_half():
    for seed in range(8):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, 200)
        score = np.round(rng.random(200) + 0.3 * y, 1)  # informative, with many ties
        w = rng.uniform(0, 2, 200) if seed % 2 else None
        assert F.roc_auc_score(y, score, sample_weight=w) == pytest.approx(
            sk_roc_auc_score(y, score, sample_weight=w), abs=1e-12)
    assert F.roc_auc_score([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0   # perfect ranking
    assert F.roc_auc_score([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1]) == 0.0   # reversed
    assert F.roc_auc_score([0, 1], [0.5, 0.5]) == 0.5                   # a tie counts half
    with pytest.raises(ValueError, match=r"both labels in y_true, got no positive \(1\)"):
        F.roc_auc_score([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"got no negative \(0\)"):
        F.roc_auc_score([1, 1, 0], [0.1, 0.2, 0.3], sample_weight=[1, 1, 0])


def test_calibration_curve_matches_sklearn_and_ece_is_the_weighted_gap():
    rng = np.random.default_rng(0)
    prob = rng.random(3000)
    prob[:20] = 0.3  # values exactly on a bin edge go to the lower bin, as in scikit-learn
    y = (rng.random(3000) < prob ** 1.5).astype(int)  # miscalibrated on purpose
    frac, mean_pred, weight = F.calibration_curve(y, prob, n_bins=10)
    sk_frac, sk_mean = sk_calibration_curve(y, prob, n_bins=10)
    np.testing.assert_allclose(frac, sk_frac, atol=1e-12)
    np.testing.assert_allclose(mean_pred, sk_mean, atol=1e-12)
    assert weight.sum() == 3000
    # ECE by brute force: loop over bins
    ece = 0.0
    for lo, hi in zip(np.linspace(0, 1, 11)[:-1], np.linspace(0, 1, 11)[1:]):
        inside = (prob > lo) & (prob <= hi) if lo > 0 else (prob >= 0) & (prob <= hi)
        if inside.any():
            ece += inside.mean() * abs(y[inside].mean() - prob[inside].mean())
    assert F.expected_calibration_error(y, prob) == pytest.approx(ece, abs=1e-12)
    # a calibrated score has a small ECE, the miscalibrated one a large one
    y_calibrated = (rng.random(3000) < prob).astype(int)
    assert F.expected_calibration_error(y_calibrated, prob) < 0.04 < F.expected_calibration_error(y, prob)


def test_calibration_by_group():
    rng = np.random.default_rng(1)
    groups = np.repeat(["A", "B"], [1500, 500])
    prob = rng.random(2000)
    truth = np.where(groups == "A", prob, prob * 0.5)  # calibrated for A, over-confident for B
    y = (rng.random(2000) < truth).astype(int)
    result = F.calibration_by_group(y, prob, sensitive_features=groups, n_bins=5)
    assert set(result) == {"A", "B"}
    assert result["A"].ece < 0.06 and result["B"].ece > 0.15
    assert result["B"].ece == pytest.approx(F.expected_calibration_error(y[groups == "B"], prob[groups == "B"], n_bins=5))
    assert result["A"].weight.sum() == 1500


def test_bad_input_gets_clear_errors():
    y, g = [0, 1, 1, 0], ["a", "a", "b", "b"]
    with pytest.raises(ValueError, match="same length"):
        F.true_positive_rate([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="one value per example"):
        F.demographic_parity_difference(y, y, sensitive_features=["a", "b"])
    with pytest.raises(ValueError, match="method must be one of"):
        F.demographic_parity_difference(y, y, sensitive_features=g, method="pairwise")
    with pytest.raises(ValueError, match="agg must be one of"):
        F.equalized_odds_difference(y, y, sensitive_features=g, agg="max")
    with pytest.raises(ValueError, match=r"values must be from \{0, 1\} or \{-1, 1\}"):
        F.true_positive_rate([0, 2, 2], [0, 2, 0])
    with pytest.raises(ValueError, match="no more than two unique"):
        F.true_positive_rate([0, 1, 2], [0, 1, 2], pos_label=1)
    with pytest.raises(ValueError, match="pos_label in y values"):
        F.true_positive_rate(["x", "y"], ["x", "y"], pos_label="z")
    with pytest.raises(ValueError, match="Empty y_pred"):
        F.selection_rate([], [])
    with pytest.raises(ValueError, match="non-negative"):
        F.selection_rate(y, y, sample_weight=[1, -1, 1, 1])
    with pytest.raises(ValueError, match="one weight per example"):
        F.selection_rate(y, y, sample_weight=[1, 1])
    with pytest.raises(ValueError, match="1-D"):
        F.selection_rate(y, np.zeros((2, 2)))
    with pytest.raises(TypeError, match="metrics must be a callable"):
        F.by_group({"x": 3}, y, y, sensitive_features=g)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.calibration_curve([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="labels 0 and 1"):
        F.roc_curve([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="must be finite"):
        F.roc_curve([0, 1], [0.1, np.nan])


# --- sample weights go only to the metrics that take them -------------------------------------


def test_by_group_routes_weights_only_to_metrics_that_take_them():
    # count takes no weights (it counts examples); before, by_group passed sample_weight to every
    # metric and count raised TypeError. fairlearn routes weights per metric by hand (sample_params).
    y_true, y_pred, groups, _ = random_dataset(4)
    w = np.random.default_rng(0).uniform(0.1, 3.0, len(y_true))
    ours = {"count": F.count, "selection_rate": F.selection_rate, "tpr": F.true_positive_rate,
            "fpr": F.false_positive_rate, "accuracy": F.accuracy, "sk_accuracy": accuracy_score}
    theirs = {"count": fairlearn_metrics.count, "selection_rate": fairlearn_metrics.selection_rate,
              "tpr": fairlearn_metrics.true_positive_rate, "fpr": fairlearn_metrics.false_positive_rate,
              "accuracy": accuracy_score, "sk_accuracy": accuracy_score}
    table = F.by_group(ours, y_true, y_pred, sensitive_features=groups, sample_weight=w)
    frame = fairlearn_metrics.MetricFrame(
        metrics=theirs, y_true=y_true, y_pred=y_pred, sensitive_features=groups,
        sample_params={k: {"sample_weight": w} for k in theirs if k != "count"})
    for m in ours:
        np.testing.assert_allclose(table.by_group[m], frame.by_group[m].to_numpy(dtype=float), atol=1e-12, err_msg=m)
        same(table.overall[m], frame.overall[m], f"by_group weighted overall {m}")
    np.testing.assert_array_equal(table.by_group["count"], np.unique(groups, return_counts=True)[1])
    # the weights did reach the others: unweighted numbers differ
    plain = F.by_group(ours, y_true, y_pred, sensitive_features=groups)
    assert not np.allclose(plain.by_group["selection_rate"], table.by_group["selection_rate"])


def test_takes_sample_weight_reads_the_signature():
    assert F.takes_sample_weight(F.selection_rate) and F.takes_sample_weight(accuracy_score)
    assert F.takes_sample_weight(lambda y_true, y_pred, **kwargs: 0.0)
    assert not F.takes_sample_weight(F.count) and not F.takes_sample_weight(lambda y_true, y_pred: 0.0)


# --- bootstrap intervals -----------------------------------------------------------------------


def two_groups(seed, n_a=400, n_b=120, rate_a=0.5, rate_b=0.3):
    rng = np.random.default_rng(seed)
    groups = np.repeat(["a", "b"], [n_a, n_b])
    y_pred = (rng.random(n_a + n_b) < np.where(groups == "a", rate_a, rate_b)).astype(int)
    y_true = rng.integers(0, 2, n_a + n_b)
    return y_true, y_pred, groups


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    y_true, y_pred, groups = two_groups(0)
    a = F.bootstrap_interval(F.demographic_parity_difference, y_true, y_pred, sensitive_features=groups,
                             n_boot=300, seed=1)
    b = F.bootstrap_interval(F.demographic_parity_difference, y_true, y_pred, sensitive_features=groups,
                             n_boot=300, seed=1)
    c = F.bootstrap_interval(F.demographic_parity_difference, y_true, y_pred, sensitive_features=groups,
                             n_boot=300, seed=2)
    assert (a.low, a.high) == (b.low, b.high) and (a.low, a.high) != (c.low, c.high)
    assert a.estimate == F.demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
    assert a.low < a.estimate < a.high and a.samples.shape == (300,)
    assert "95% bootstrap interval" in repr(a)
    # the interval is the 2.5 and 97.5 percentiles of the resampled statistic
    np.testing.assert_allclose([a.low, a.high], np.quantile(a.samples, [0.025, 0.975]))


def test_bootstrap_resamples_within_groups():
    y_true, y_pred, groups = two_groups(0)

    def sizes(y_true, y_pred, *, sensitive_features):
        return F.by_group(F.count, y_true, y_pred, sensitive_features=sensitive_features).by_group["count"]

    interval = F.bootstrap_interval(sizes, y_true, y_pred, sensitive_features=groups, n_boot=50)
    np.testing.assert_array_equal(interval.samples, np.tile([400, 120], (50, 1)))  # group sizes kept
    # each group's selection rate varies like a binomial proportion of that group's size
    rate_b = F.bootstrap_interval(
        lambda yt, yp, *, sensitive_features: F.selection_rate(yt[sensitive_features == "b"], yp[sensitive_features == "b"]),
        y_true, y_pred, sensitive_features=groups, n_boot=2000, seed=3)
    p = y_pred[groups == "b"].mean()
    assert rate_b.samples.std() == pytest.approx(np.sqrt(p * (1 - p) / 120), rel=0.1)


def test_bootstrap_interval_agrees_with_scipy_and_covers_the_true_gap():
    from scipy import stats

    y_true, y_pred, groups = two_groups(5)
    ours = F.bootstrap_interval(F.demographic_parity_difference, y_true, y_pred, sensitive_features=groups,
                                n_boot=2000, seed=0)
    # scipy resamples each sample separately when given several: the same within-group scheme
    theirs = stats.bootstrap((y_pred[groups == "a"], y_pred[groups == "b"]), lambda a, b: abs(a.mean() - b.mean()),
                             n_resamples=2000, method="percentile", vectorized=False, random_state=0)
    np.testing.assert_allclose([ours.low, ours.high], [theirs.confidence_interval.low, theirs.confidence_interval.high],
                               atol=0.012)  # about 3 Monte Carlo standard errors of the difference
    # coverage: over many data sets drawn with a known gap of 0.2, the 90% interval holds it about 90% of the
    # time (the gap written out in NumPy over 0/1 group codes, to keep 30,000 resamples fast)
    def gap(yt, yp, *, sensitive_features):
        return abs(yp[sensitive_features == 0].mean() - yp[sensitive_features == 1].mean())

    covered = []
    for seed in range(150):
        yt, yp, g = two_groups(100 + seed, rate_a=0.5, rate_b=0.3)
        iv = F.bootstrap_interval(gap, yt, yp, sensitive_features=(g == "b").astype(int), n_boot=200,
                                  confidence=0.9, seed=seed)
        covered.append(iv.low <= 0.2 <= iv.high)
    assert 0.82 <= np.mean(covered) <= 0.97


def test_by_group_intervals():
    y_true, y_pred, groups = two_groups(0)
    metrics = {"count": F.count, "selection_rate": F.selection_rate, "tpr": F.true_positive_rate}
    table = F.by_group(metrics, y_true, y_pred, sensitive_features=groups, n_boot=300, seed=4)
    plain = F.by_group(metrics, y_true, y_pred, sensitive_features=groups)
    assert table.by_group.keys() == plain.by_group.keys()
    for m in metrics:
        np.testing.assert_array_equal(table.by_group[m], plain.by_group[m])  # the estimates are unchanged
    assert "count" not in table.interval_by_group and table.confidence == 0.95
    low, high = table.interval_by_group["selection_rate"].T  # (G,) each
    assert np.all(low < table.by_group["selection_rate"]) and np.all(table.by_group["selection_rate"] < high)
    # the difference row's interval is the one of demographic_parity_difference, resampled the same way
    dp = F.bootstrap_interval(F.demographic_parity_difference, y_true, y_pred, sensitive_features=groups,
                              n_boot=300, seed=4)
    assert table.interval_difference["selection_rate"] == pytest.approx((dp.low, dp.high), abs=1e-12)
    eopp = F.bootstrap_interval(F.equal_opportunity_difference, y_true, y_pred, sensitive_features=groups,
                                n_boot=300, seed=4)
    assert table.interval_difference["tpr"] == pytest.approx((eopp.low, eopp.high), abs=1e-12)
    text = repr(table)
    assert f"{table.by_group['selection_rate'][1]:.3f} [{low[1]:.3f}, {high[1]:.3f}]" in text
    assert "95% bootstrap interval" in text and "95% bootstrap interval" in table._repr_html_()
    # two sensitive features: the intersectional groups, named after the dict's keys
    age = np.random.default_rng(0).choice(["young", "old"], len(groups))
    both = F.by_group(metrics, y_true, y_pred, sensitive_features={"group": groups, "age": age}, n_boot=50)
    assert both.sensitive_name == "group x age" and len(both.groups) == 4
    assert both.interval_by_group["tpr"].shape == (4, 2)
    with pytest.raises(ValueError, match="n_boot must be a positive integer"):
        F.by_group(metrics, y_true, y_pred, sensitive_features=groups, n_boot=0)
    with pytest.raises(ValueError, match="confidence must be a level"):
        F.bootstrap_interval(F.demographic_parity_difference, y_true, y_pred, sensitive_features=groups,
                             confidence=95)
