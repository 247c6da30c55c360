"""Reweighing, per-group thresholds and the weighted classifier (notebook 13)."""
import numpy as np
import pytest

from nncourse import fairness, fairness_data, mitigation


@pytest.fixture(scope="module")
def biased():
    d = fairness_data.loan_data(n=3000, label_bias=0.4, proxy_strength=0.8, seed=0)
    model = mitigation.train_classifier(d.X_train, d.y_train)
    return d, model, model.predict_proba(d.X_test)


def test_classifier_matches_sklearn_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    d = fairness_data.loan_data(n=2000, seed=5)
    ours = mitigation.train_classifier(d.X_train, d.y_train, steps=400, weight_decay=0.0)
    theirs = LogisticRegression(C=1e6, max_iter=1000).fit(d.X_train, d.y_train)
    np.testing.assert_allclose(ours.predict_proba(d.X_test), theirs.predict_proba(d.X_test)[:, 1], atol=2e-3)
    assert ours.losses[-1] < ours.losses[0]
    # weights: an integer weight equals repeating the example (sklearn with the same weights)
    w = np.random.default_rng(0).integers(1, 4, len(d.y_train)).astype(float)
    ours_w = mitigation.train_classifier(d.X_train, d.y_train, sample_weight=w, steps=400, weight_decay=0.0)
    theirs_w = LogisticRegression(C=1e6, max_iter=1000).fit(d.X_train, d.y_train, sample_weight=w)
    np.testing.assert_allclose(ours_w.predict_proba(d.X_test), theirs_w.predict_proba(d.X_test)[:, 1], atol=2e-3)


def test_classifier_is_seeded_and_the_mlp_variant_trains():
    d = fairness_data.loan_data(n=600, seed=1)
    a = mitigation.train_classifier(d.X_train, d.y_train, hidden_size=8, steps=100, seed=3)
    b = mitigation.train_classifier(d.X_train, d.y_train, hidden_size=8, steps=100, seed=3)
    np.testing.assert_array_equal(a.predict_proba(d.X_test), b.predict_proba(d.X_test))
    assert fairness.accuracy(d.y_test, a.predict(d.X_test)) > 0.75
    twin = a.network.to_torch()  # the from-scratch network moves to PyTorch unchanged
    import torch

    with torch.no_grad():
        logits = twin(torch.tensor(d.X_test, dtype=torch.float64))[:, 0].numpy()
    np.testing.assert_allclose(logits, a.logits(d.X_test), atol=1e-10)


def test_reweighing_makes_label_independent_of_group_and_keeps_group_sizes():
    rng = np.random.default_rng(0)
    groups = rng.choice(["a", "b", "c"], 500, p=[0.6, 0.3, 0.1])
    y = (rng.random(500) < np.select([groups == "a", groups == "b"], [0.6, 0.3], 0.1)).astype(int)
    w = mitigation.reweighing(y, sensitive_features=groups)
    for g in "abc":
        members = groups == g
        assert np.average(y[members], weights=w[members]) == pytest.approx(y.mean())
        assert w[members].sum() == pytest.approx(members.sum())
    # by hand on a tiny table: P(A=a)P(Y=1)/P(A=a,Y=1) = (2/4)(1/4)/(1/4) = 0.5, etc.
    np.testing.assert_allclose(mitigation.reweighing([1, 0, 0, 0], sensitive_features=["a", "a", "b", "b"]),
                               [0.5, 1.5, 0.75, 0.75])


def test_equal_selection_thresholds_equalise_selection_rates(biased):
    d, _, scores = biased
    before = fairness.demographic_parity_difference(d.y_test, (scores >= 0.5).astype(int), sensitive_features=d.A_test)
    t = mitigation.equal_selection_thresholds(scores, sensitive_features=d.A_test)
    y_pred = mitigation.apply_thresholds(scores, sensitive_features=d.A_test, thresholds=t)
    after = fairness.demographic_parity_difference(d.y_test, y_pred, sensitive_features=d.A_test)
    assert before > 0.15 and after < 0.01
    assert t["B"] < t["A"]  # the disadvantaged group needs the lower threshold
    # the overall number of selected people barely changes
    assert abs(y_pred.mean() - np.mean(scores >= 0.5)) < 0.01


def test_equal_tpr_thresholds_equalise_true_positive_rates(biased):
    d, _, scores = biased
    t = mitigation.equal_tpr_thresholds(scores, d.y_test, sensitive_features=d.A_test, tpr=0.8)
    y_pred = mitigation.apply_thresholds(scores, sensitive_features=d.A_test, thresholds=t)
    tpr = fairness.by_group(fairness.true_positive_rate, d.y_test, y_pred, sensitive_features=d.A_test)
    np.testing.assert_allclose(tpr.by_group["true_positive_rate"], 0.8, atol=0.01)
    assert fairness.equal_opportunity_difference(d.y_test, y_pred, sensitive_features=d.A_test) < 0.02


def test_threshold_for_rate_and_apply_thresholds():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    assert mitigation.threshold_for_rate(scores, 0.4) == 0.8
    assert mitigation.threshold_for_rate(scores, 1.0) == 0.5
    assert mitigation.threshold_for_rate(scores, 0.0) == np.inf
    groups = ["x", "x", "y", "y", "y"]
    np.testing.assert_array_equal(
        mitigation.apply_thresholds(scores, sensitive_features=groups, thresholds={"x": 0.85, "y": 0.55}),
        [1, 0, 1, 1, 0])
    np.testing.assert_array_equal(mitigation.apply_thresholds(scores, sensitive_features=groups, thresholds=0.7),
                                  [1, 1, 1, 0, 0])


def test_tradeoff_sweeps(biased):
    d, model, scores = biased
    train_scores = model.predict_proba(d.X_train)
    split = (train_scores, d.y_train, d.A_train, scores, d.y_test, d.A_test)
    sweep = mitigation.threshold_tradeoff(*split, targets=[0.2, 0.4, 0.6])
    assert sweep.accuracy.shape == (3,) and np.all(sweep.demographic_parity_difference < 0.06)
    # the thresholds come from the training scores; the numbers are the test decisions'
    t = mitigation.equal_selection_thresholds(train_scores, sensitive_features=d.A_train, rate=0.4)
    decisions = mitigation.apply_thresholds(scores, sensitive_features=d.A_test, thresholds=t)
    assert sweep.demographic_parity_difference[1] == pytest.approx(
        fairness.demographic_parity_difference(d.y_test, decisions, sensitive_features=d.A_test))
    assert sweep.accuracy[1] == pytest.approx(np.mean(decisions == d.y_test))
    # chosen on the test scores themselves, parity on the test set would be (nearly) exact: here it is not
    assert np.all(mitigation.threshold_tradeoff(scores, d.y_test, d.A_test, *split[3:],
                                                targets=[0.2, 0.4, 0.6]).demographic_parity_difference < 0.01)
    assert sweep.demographic_parity_difference.max() > 0.01
    tpr_sweep = mitigation.threshold_tradeoff(*split, criterion="tpr", targets=[0.5, 0.9])
    t = mitigation.equal_tpr_thresholds(train_scores, d.y_train, sensitive_features=d.A_train, tpr=0.9)
    decisions = mitigation.apply_thresholds(scores, sensitive_features=d.A_test, thresholds=t)
    assert tpr_sweep.equal_opportunity_difference[1] == pytest.approx(
        fairness.equal_opportunity_difference(d.y_test, decisions, sensitive_features=d.A_test))
    assert np.all(tpr_sweep.equal_opportunity_difference < 0.1)
    rw = mitigation.reweighing_tradeoff(d.X_train, d.y_train, d.A_train, d.X_test, d.y_test, d.A_test,
                                        strengths=[0.0, 1.0], steps=100)
    assert rw.demographic_parity_difference[1] < rw.demographic_parity_difference[0] - 0.05


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="missing"):
        mitigation.apply_thresholds([0.1, 0.9], sensitive_features=["a", "b"], thresholds={"a": 0.5})
    with pytest.raises(ValueError, match="rate in"):
        mitigation.equal_selection_thresholds([0.1, 0.9], sensitive_features=["a", "b"], rate=1.5)
    with pytest.raises(ValueError, match="criterion must be"):
        mitigation.threshold_tradeoff([0.1, 0.9], [0, 1], ["a", "b"], [0.1, 0.9], [0, 1], ["a", "b"], criterion="fpr")
    with pytest.raises(ValueError, match="y must only hold labels"):
        mitigation.train_classifier(np.zeros((3, 2)), [0, 1, 2])
    with pytest.raises(ValueError, match="same number of examples"):
        mitigation.train_classifier(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="must be finite"):
        mitigation.train_classifier(np.array([[0.0, np.nan]]), [1])
    with pytest.raises(ValueError, match="scores must be finite"):
        mitigation.apply_thresholds([np.nan], sensitive_features=["a"], thresholds=0.5)


def test_scores_are_torch_sigmoid_of_the_twins_logits_even_far_out():
    import torch

    d = fairness_data.loan_data(n=600, seed=2)
    model = mitigation.train_classifier(d.X_train, d.y_train, steps=50)
    X = np.concatenate([d.X_test, 300 * d.X_test[:5], -300 * d.X_test[:5]])  # logits far beyond +-30
    with torch.no_grad():
        want = torch.sigmoid(model.network.to_torch()(torch.tensor(X, dtype=torch.float64))[:, 0]).numpy()
    got = model.predict_proba(X)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
