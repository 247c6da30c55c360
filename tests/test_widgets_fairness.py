"""Fairness dials and Threshold tuner driven headless: set a control, check the model and the figure."""
import numpy as np
import pytest

from nncourse import fairness, fairness_data, mitigation
from nncourse.widgets.fairness import FairnessDials, ThresholdTuner


@pytest.fixture(scope="module")
def dials():
    return FairnessDials(n=1500, steps=60)


def bar_heights(containers):
    return np.array([[bar.get_height() for bar in c] for c in containers])  # (groups, metrics)


def test_dials_draw_the_audit_they_computed(dials):
    shown = dials.results["sees_group"]
    np.testing.assert_allclose(bar_heights(dials.rate_bars), shown["rates"].T)
    np.testing.assert_allclose(bar_heights(dials.gap_bars)[0], [shown["dp"], shown["eo"]])
    a = shown["calibration"]["A"]
    np.testing.assert_allclose(dials.calib_lines[0].get_xdata(), a.mean_predicted)
    # the numbers are the library's: recompute the demographic parity difference from the predictions
    d = dials.results["data"]
    assert shown["dp"] == fairness.demographic_parity_difference(d.y_test, shown["y_pred"], sensitive_features=d.A_test)


@pytest.mark.parametrize("settings", [dict(), dict(label_bias=0.6, proxy_strength=0.0), dict(base_rate_gap=0.3, noise_b=2.0)])
def test_dials_gaps_are_the_librarys_to_the_last_bit(settings):
    # dp and eo are read off the rates table the bars show; equal to the library's own functions
    dials = FairnessDials(n=1200, steps=20)
    for judge in ("recorded", "true"):
        with dials.hold():
            for name, value in settings.items():
                getattr(dials, name).value = value
            dials.judge.value = judge
        d = dials.results["data"]
        labels = d.y_test if judge == "recorded" else d.qualified_test
        for key in ("sees_group", "blind"):
            r = dials.results[key]
            assert r["dp"] == fairness.demographic_parity_difference(labels, r["y_pred"], sensitive_features=d.A_test)
            assert r["eo"] == fairness.equalized_odds_difference(labels, r["y_pred"], sensitive_features=d.A_test)


def test_label_bias_dial_opens_a_gap_and_the_figure_is_reused(dials):
    fig, n_patches = dials.fig, len(dials.ax_rates.patches)
    with dials.hold():
        dials.proxy_strength.value = 0.0
        dials.label_bias.value = 0.0
    fair_dp = dials.results["sees_group"]["dp"]
    dials.label_bias.value = 0.6
    biased_dp = dials.results["sees_group"]["dp"]
    assert biased_dp > fair_dp + 0.15
    assert dials.fig is fig and len(dials.ax_rates.patches) == n_patches  # artists changed, not rebuilt
    assert bar_heights(dials.gap_bars)[0, 0] == pytest.approx(biased_dp)


def test_removing_the_group_column_does_not_remove_bias_when_a_proxy_exists(dials):
    with dials.hold():
        dials.label_bias.value = 0.5
        dials.proxy_strength.value = 0.0
    no_proxy = dials.results["blind"]["dp"]
    dials.proxy_strength.value = 0.9
    with_proxy, sees = dials.results["blind"]["dp"], dials.results["sees_group"]["dp"]
    assert with_proxy > no_proxy + 0.05  # the blind model rebuilds the group from the proxy
    assert with_proxy > 0.5 * sees


def test_checkbox_and_judge_switch_what_is_shown(dials):
    dials.sees_group.value = False
    np.testing.assert_allclose(bar_heights(dials.rate_bars), dials.results["blind"]["rates"].T)
    dials.judge.value = "true"
    d = dials.results["data"]
    blind = dials.results["blind"]
    assert blind["accuracy"] == pytest.approx(np.mean(blind["y_pred"] == d.qualified_test))
    assert "true qualification" in dials.status.value
    # the picture says which model and which labels it shows
    assert dials.ax_rates.get_title() == "decisions of the blind model"
    assert dials.calib_ylabel.get_text() == "fraction truly qualified"
    with dials.hold():
        dials.sees_group.value, dials.judge.value = True, "recorded"
    assert "sees the group" in dials.ax_rates.get_title()
    assert dials.calib_ylabel.get_text() == "fraction approved in the records"


def test_dials_controls_do_not_share_a_layout(dials):
    # a Layout shared by several controls hides or resizes all of them when one changes
    controls = [dials.minority_fraction, dials.base_rate_gap, dials.label_bias, dials.proxy_strength,
                dials.noise_b, dials.sees_group, dials.judge]
    assert len({id(c.layout) for c in controls}) == len(controls)


@pytest.mark.parametrize("settings, steps, seed", [(dict(n=1500), 60, 0),
                                                   (dict(n=2000, label_bias=0.6, proxy_strength=0.0), 100, 3),
                                                   (dict(n=1200, base_rate_gap=0.3, noise_b=2.0, seed=5), 40, 1)])
def test_dials_fast_fit_is_train_classifiers_logistic_regression(settings, steps, seed):
    from nncourse.widgets.fairness import _logistic_scores

    data = fairness_data.loan_data(**settings)
    for d in (data, data.drop("group")):
        expected = mitigation.train_classifier(d.X_train, d.y_train, steps=steps, seed=seed).predict_proba(d.X_test)
        got = _logistic_scores(d.X_train, d.y_train, d.X_test, steps=steps, seed=seed)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_dials_blitted_picture_is_a_full_redraw(dials):
    # the stamped title and y label follow the controls, and the blitted picture is the full redraw's
    for sees, judge in [(False, "true"), (True, "recorded"), (True, "true")]:
        with dials.hold():
            dials.sees_group.value, dials.judge.value = sees, judge
        blitted = dials.render().copy()
        dials.invalidate()
        np.testing.assert_array_equal(dials.render(), blitted)
    no_title = dials.render().copy()
    dials.sees_group.value = False                 # only the title (and bars) change: pixels must move
    assert not np.array_equal(dials.render()[:40], no_title[:40])


@pytest.fixture(scope="module")
def scored():
    d = fairness_data.loan_data(n=2000, label_bias=0.4, proxy_strength=0.8, seed=0)
    model = mitigation.train_classifier(d.X_train, d.y_train, steps=100)
    return d, model.predict_proba(d.X_test)


def test_tuner_moves_operating_points_bars_and_confusion_matrices(scored):
    d, scores = scored
    tuner = ThresholdTuner(scores, d.y_test, sensitive_features=d.A_test)
    before = tuner.points[1].get_xydata().copy()
    refreshes = len(tuner.update_seconds)
    tuner.sliders[1].value = 0.3  # group B's threshold down: more of B selected
    assert len(tuner.update_seconds) == refreshes + 1
    b = d.A_test == "B"
    y_pred_b = (scores[b] >= 0.3).astype(int)
    assert tuner.metrics["selection_rate"]["B"] == pytest.approx(y_pred_b.mean())
    tpr = fairness.true_positive_rate(d.y_test[b], y_pred_b)
    fpr = fairness.false_positive_rate(d.y_test[b], y_pred_b)
    np.testing.assert_allclose(tuner.points[1].get_xydata(), [[fpr, tpr]])
    assert not np.allclose(before, tuner.points[1].get_xydata())
    tp = np.sum((d.y_test[b] == 1) & (y_pred_b == 1))
    assert tuner.cm_texts[1][3].get_text() == f"{tp:,}"
    assert bar_heights(tuner.rate_bars)[1, 0] == pytest.approx(y_pred_b.mean())


def test_tuner_buttons_equalise(scored):
    d, scores = scored
    tuner = ThresholdTuner(scores, d.y_test, sensitive_features=d.A_test)
    start_dp = tuner.metrics["demographic_parity_difference"]
    selected = np.mean(scores >= 0.5)
    refreshes = len(tuner.update_seconds)
    tuner.equal_selection_button.click()
    assert len(tuner.update_seconds) == refreshes + 1  # both sliders moved, one redraw
    assert start_dp > 0.15 and tuner.metrics["demographic_parity_difference"] < 0.01
    assert tuner.thresholds["B"] < tuner.thresholds["A"]
    assert np.mean(tuner.predictions()) == pytest.approx(selected, abs=0.01)
    tuner.equal_tpr_button.click()
    assert tuner.metrics["equal_opportunity_difference"] < 0.02
    tuner.single_button.click()
    assert tuner.thresholds == {"A": 0.5, "B": 0.5}
    assert tuner.metrics["demographic_parity_difference"] == pytest.approx(start_dp)


def test_tuner_handles_three_groups_and_bad_input():
    rng = np.random.default_rng(0)
    groups = rng.choice(["x", "y", "z"], 300)
    y = rng.integers(0, 2, 300)
    scores = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1)
    tuner = ThresholdTuner(scores, y, sensitive_features=groups)
    assert len(tuner.sliders) == 3 and len(tuner.ax_cm) == 3
    tuner.equalize("selection_rate")
    assert tuner.metrics["demographic_parity_difference"] < 0.02
    with pytest.raises(ValueError, match="at most 4 groups"):
        ThresholdTuner(scores, y, sensitive_features=rng.choice(list("abcde"), 300))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        ThresholdTuner(scores * 3, y, sensitive_features=groups)
    with pytest.raises(ValueError, match="labels 0 and 1"):
        ThresholdTuner(scores, y + 1, sensitive_features=groups)
    with pytest.raises(ValueError, match="criterion must be"):
        tuner.equalize("fpr")


def test_widgets_display_headless():
    from IPython.core.interactiveshell import InteractiveShell  # noqa: F401  (display needs IPython)

    tuner = ThresholdTuner([0.2, 0.8, 0.6, 0.4], [0, 1, 1, 0], sensitive_features=["a", "a", "b", "b"])
    png = tuner.to_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_widget_rates_are_the_concept_modules_and_fairlearns():
    from nncourse.widgets import fairness as widget_module

    flm = pytest.importorskip("fairlearn.metrics")
    rng = np.random.default_rng(7)
    y_true, y_pred, codes = rng.integers(0, 2, 300), rng.integers(0, 2, 300), rng.integers(0, 3, 300)
    y_true[codes == 2] = 0  # group 2 has no positives: its TPR is 0, as in fairlearn
    rates = widget_module._rates(y_true, y_pred, codes)  # (3, G): selection rate, TPR, FPR
    frame = flm.MetricFrame(metrics={"s": flm.selection_rate, "tpr": flm.true_positive_rate,
                                     "fpr": flm.false_positive_rate}, y_true=y_true, y_pred=y_pred,
                            sensitive_features=codes)
    np.testing.assert_allclose(rates, frame.by_group.to_numpy().T, atol=1e-12)
    assert rates[1, 2] == 0.0
