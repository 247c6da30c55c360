"""Privacy explorer (notebook 15), driven headless: set a control, check the figure's state."""
import numpy as np
import pytest

from nncourse.widgets.privacy import PrivacyExplorer

SIGMAS, NORMS = [0.5, 1.0, 2.0, 4.0], [0.1, 1.0, 3.0]
EPS = [80.0, 18.4, 6.1, 2.4]
ACC = np.arange(12.0).reshape(4, 3) / 12
AUC = 0.5 + np.arange(12.0)[::-1].reshape(4, 3) / 100


def _widget(**kwargs):
    return PrivacyExplorer(SIGMAS, NORMS, eps=EPS, accuracy=ACC, auc=AUC, delta=1e-3, **kwargs)


def test_initial_state_shows_the_chosen_run():
    w = _widget(sigma=2.0, clip_norm=3.0, baseline=(0.9, 0.7))
    assert w.sigma.value == 2.0 and w.clip_norm.value == 3.0
    assert w.selected()["accuracy"] == ACC[2, 2] and w.selected()["auc"] == AUC[2, 2]
    np.testing.assert_allclose(np.ravel(w.eps_marker.get_data()), [2.0, 6.1])
    assert all(f.get_xy() == (1.5, 1.5) for f in w.frames)
    assert w.ax_acc.get_title() == f"test accuracy {ACC[2, 2]:.2f}"
    assert w.ax_auc.get_title() == f"membership AUC {AUC[2, 2]:.2f}"
    assert "ε = 6.1 at δ = 0.001" in w.status.value and "non-private: 0.900 and 0.700" in w.status.value
    w.close()


def test_sigma_moves_every_marker_and_changes_the_picture():
    w = _widget()                       # defaults: the first σ, the middle C
    assert (w.sigma.value, w.clip_norm.value) == (0.5, 1.0)
    before, n = w.to_png(), len(w.update_seconds)
    w.sigma.value = 4.0
    assert len(w.update_seconds) == n + 1 and w.to_png() != before
    np.testing.assert_allclose(np.ravel(w.eps_marker.get_data()), [4.0, 2.4])
    assert all(f.get_xy() == (0.5, 2.5) for f in w.frames)
    assert w.ax_eps.get_title().startswith("ε = 2.4") and w.ax_auc.get_title() == f"membership AUC {AUC[3, 1]:.2f}"
    w.close()
    assert w.closed


def test_clip_norm_changes_accuracy_but_not_epsilon():
    w = _widget(sigma=1.0)
    eps_title = w.ax_eps.get_title()
    with w.hold():
        w.clip_norm.value = 0.1
    assert w.ax_eps.get_title() == eps_title                          # C does not enter the accountant
    np.testing.assert_allclose(np.ravel(w.eps_marker.get_data()), [1.0, 18.4])
    assert w.frames[0].get_xy() == (-0.5, 0.5) and w.ax_acc.get_title() == f"test accuracy {ACC[1, 0]:.2f}"
    w.close()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"accuracy must be \(len\(sigmas\), len\(clip_norms\)\)"):
        PrivacyExplorer(SIGMAS, NORMS, eps=EPS, accuracy=ACC.T, auc=AUC)
    with pytest.raises(ValueError, match="one value per σ"):
        PrivacyExplorer(SIGMAS, NORMS, eps=EPS[:2], accuracy=ACC, auc=AUC)
    with pytest.raises(ValueError, match="sigma must be one of the grid's values"):
        _widget(sigma=3.0)
