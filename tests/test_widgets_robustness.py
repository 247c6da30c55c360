"""Attack explorer (notebook 15), driven headless: set a control, check the figure's state."""
import numpy as np
import pytest

import nncourse
from nncourse import robustness as R
from nncourse.widgets.robustness import AttackExplorer


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    net = nncourse.mlp([64, 16, 10], seed=0)
    return net, rng.uniform(0, 1, (12, 64)), rng.integers(0, 10, 12)


def test_initial_state_is_the_packages_pgd(setup):
    net, X, y = setup
    w = AttackExplorer(net, X, y, eps=0.1, steps=10)
    want = R.pgd(net, X[:1], y[:1], 0.1, steps=10)
    np.testing.assert_allclose(w.adv_image.get_array(), want.reshape(8, 8))
    np.testing.assert_allclose(w.delta_image.get_array(), (want - X[:1]).reshape(8, 8))
    assert w.delta_image.get_clim() == (-0.1, 0.1)
    np.testing.assert_allclose([b.get_height() for b in w.adv_bars], R.predict_proba(net, want)[0])
    np.testing.assert_allclose([b.get_height() for b in w.clean_bars], R.predict_proba(net, X[:1])[0])
    p = R.predict_proba(net, np.vstack([X[:1], want]))[:, y[0]]
    assert w.ax_prob.get_title() == f"p(label) {p[0]:.2f} → {p[1]:.2f}" and not w.steps.disabled
    assert w.ax_clean.get_title() == f"label {y[0]}"
    w.close()


def test_first_slider_changes_the_picture(setup):
    net, X, y = setup
    w = AttackExplorer(net, X, y)
    before, n = w.to_png(), len(w.update_seconds)
    w.index.value = 5
    assert len(w.update_seconds) == n + 1 and w.to_png() != before
    np.testing.assert_allclose(w.clean_image.get_array(), X[5].reshape(8, 8))
    w.close()


def test_fgsm_and_eps_and_the_ball(setup):
    net, X, y = setup
    w = AttackExplorer(net, X, y, index=3)
    with w.hold():
        w.method.value, w.eps.value = "FGSM", 0.25
    want = R.fgsm(net, X[3:4], y[3:4], 0.25)
    np.testing.assert_allclose(w.x_adv, want)
    assert np.abs(w.x_adv - X[3:4]).max() <= 0.25 + 1e-12 and 0 <= w.x_adv.min() and w.x_adv.max() <= 1
    guess = R.predict_proba(net, want).argmax()
    assert w.steps.disabled and w.ax_adv.get_title().startswith(f"seen as {guess}")
    assert w.ax_adv.get_title().endswith("✗") == (guess != y[3])
    w.eps.value = 0.0
    np.testing.assert_array_equal(w.x_adv, X[3:4])
    w.close()


def test_model_dropdown_switches_models(setup):
    net, X, y = setup
    other = nncourse.mlp([64, 16, 10], seed=7)
    w = AttackExplorer({"a": net, "b": other}, X, y)
    w.model.value = "b"
    np.testing.assert_allclose([b.get_height() for b in w.clean_bars], R.predict_proba(other, X[:1])[0])
    assert w.model.layout.display == ""
    single = AttackExplorer(net, X, y)
    assert single.model.layout.display == "none"
    w.close(), single.close()
    assert w.closed


def test_bad_arguments_are_named(setup):
    net, X, y = setup
    with pytest.raises(ValueError, match="method must be one of"):
        AttackExplorer(net, X, y, method="CW")
    with pytest.raises(ValueError, match="flat images"):
        AttackExplorer(net, X.reshape(-1, 8, 8), y)
    with pytest.raises(ValueError, match="eps must be in"):
        AttackExplorer(net, X, y, eps=0.9)
