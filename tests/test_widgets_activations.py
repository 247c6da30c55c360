"""Notebook 02's widgets, driven headless."""
import math

import numpy as np
import pytest
from scipy import integrate, stats as scipy_stats

from nncourse import activations
from nncourse.activations import input_statistics
from nncourse.initializers import verdict
from nncourse.widgets import activations as widget_module
from nncourse.widgets.activations import ActivationExplorer, SignalPropagation


def test_concept_code_lives_in_concept_modules():
    """The widget uses input_statistics and verdict from the concept modules (no second copy)."""
    assert widget_module.input_statistics is input_statistics and widget_module.verdict is verdict
    assert input_statistics.__module__ == "nncourse.activations" and verdict.__module__ == "nncourse.initializers"


# --- Activation explorer -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "gelu", "elu"])
@pytest.mark.parametrize("mean,spread", [(0.0, 1.0), (2.0, 0.5), (-1.0, 3.0)])
def test_input_statistics_match_quadrature(name, mean, spread):
    act = activations.get(name)
    pdf = scipy_stats.norm(mean, spread).pdf
    lo, hi = mean - 12 * spread, mean + 12 * spread
    points = [0.0] if lo < 0 < hi else None
    want_grad = integrate.quad(lambda x: act.grad(np.array(x)) * pdf(x), lo, hi, points=points, limit=200)[0]
    xs = np.linspace(lo, hi, 400_001)
    want_sat = np.sum((np.abs(act.grad(xs)) < 0.01) * pdf(xs)) * (xs[1] - xs[0])
    got = input_statistics(name, mean, spread)
    # A 4,001-point grid over mean +- 8 spread: error about 1e-3.
    assert got["mean_grad"] == pytest.approx(want_grad, abs=0.01)
    assert got["saturated"] == pytest.approx(want_sat, abs=0.01)


def test_explorer_initial_state_and_bars():
    w = ActivationExplorer(selected=("sigmoid", "relu"))
    assert set(w.stats) == {"sigmoid", "relu"}
    assert w.stats["relu"]["saturated"] == pytest.approx(0.5, abs=0.01)  # x < 0: inactive on that input (not dead)
    assert w.stats["sigmoid"]["saturated"] < 1e-5  # sigma' < 0.01 only for |x| > 4.6
    assert w.sat_bars[1].get_width() == w.stats["relu"]["saturated"]
    assert w.grad_bars[0].get_width() == w.stats["sigmoid"]["mean_grad"]
    assert w.f_lines["relu"].get_visible() and not w.f_lines["tanh"].get_visible()
    assert [t.get_text() for t in w.name_texts if t.get_visible()] == ["sigmoid", "relu"]
    assert not w.sat_bars[2].get_visible()


def test_explorer_moving_the_inputs_saturates_tanh_and_revives_relu():
    w = ActivationExplorer(selected=("tanh", "relu"))
    before = dict(w.stats)
    n = len(w.update_seconds)
    w.mean.value = 4.0
    assert len(w.update_seconds) == n + 1  # one refresh per change
    assert w.stats["tanh"]["saturated"] > 0.6 > before["tanh"]["saturated"]
    assert w.stats["tanh"]["mean_grad"] < 0.05
    assert w.stats["relu"]["saturated"] < 0.01 and w.stats["relu"]["mean_grad"] > 0.99
    w.mean.value, w.spread.value = -3.0, 0.5
    assert w.stats["relu"]["saturated"] == pytest.approx(1.0) and w.stats["relu"]["mean_grad"] < 1e-8
    assert "relu" in w.status.value and "100%" in w.status.value
    # The shaded input distribution follows the mean.
    verts = w.densities[0].get_paths()[0].vertices
    assert verts[np.argmax(verts[:, 1]), 0] == pytest.approx(-3.0, abs=0.05)


def test_explorer_selection_changes_lines_and_rows():
    w = ActivationExplorer(selected=("sigmoid",))
    w.choice.value = ("gelu", "leaky_relu", "step")
    assert [t.get_text() for t in w.name_texts if t.get_visible()] == ["gelu", "leaky_relu", "step"]
    assert w.df_lines["step"].get_visible() and not w.df_lines["sigmoid"].get_visible()
    assert w.stats["step"] == {"saturated": 1.0, "mean_grad": 0.0}  # nothing to learn from
    assert w.stats["leaky_relu"]["saturated"] == 0.0  # slope 0.01 on the left: never fully dead
    w.choice.value = ()
    assert "Select one or more" in w.status.value
    assert w.to_png()[:4] == b"\x89PNG"


def test_explorer_bad_arguments():
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        ActivationExplorer(selected=("nope",))
    with pytest.raises(ValueError, match="spread must be positive, got 0"):
        input_statistics("relu", 0.0, 0)


# --- Deep signal propagation ---------------------------------------------------------------------

def test_signal_widget_sigmoid_naive_vanishes_relu_he_is_healthy():
    w = SignalPropagation(depth=20, width=64, activation="sigmoid", init="naive", scale=0.01)
    assert w.verdict["backward"] == "vanishing"
    assert w.stats.gradient_ratio() < 1e-20
    assert "vanishing" in w.ax_log.get_title()
    with w.hold():
        w.activation.value, w.init.value, w.scale.value = "relu", "he", 1.0
    assert w.verdict == {"forward": "healthy", "backward": "healthy"}
    assert 0.1 < w.stats.gradient_ratio() < 10
    np.testing.assert_allclose(w.grad_line.get_ydata(), w.stats.grad_norm)
    np.testing.assert_allclose(w.std_line.get_ydata(), w.stats.activation_std)


def test_signal_widget_depth_and_width_reshape_the_picture():
    w = SignalPropagation(depth=10, width=32, activation="tanh", init="xavier", scale=1.0)
    assert w.image.get_array().shape == (w.BINS, 10)
    w.depth.value = 35
    assert w.image.get_array().shape == (w.BINS, 35)
    assert w.ax_log.get_xlim() == (0.5, 40.5)  # whole tens of layers
    assert len(w.grad_line.get_xdata()) == 35
    with w.hold():
        w.depth.value, w.width.value = 10, 128
    assert w.stats.activations[0].shape == (w.BATCH, 128)
    # Each histogram column is scaled to its peak; tanh values stay in [-1, 1], the lower half of the
    # fixed range [-1, 3].
    image = w.image.get_array()
    assert np.allclose(image.max(axis=0), 1.0)
    assert w.ax_hist.get_ylim() == (-1.0, 3.0)
    assert np.all(image[w.BINS // 2 + 1:] == 0)


def test_signal_widget_title_names_saturation_the_spread_verdict_misses():
    w = SignalPropagation(depth=20, width=64, activation="tanh", init="naive", scale=1.0)
    assert w.verdict["forward"] == "healthy"  # the outputs still vary between inputs ...
    assert w.stats.saturated.mean() > 0.6     # ... but most units sit on the flat part of tanh
    assert "saturated" in w.ax_log.get_title() and "healthy" not in w.ax_log.get_title()
    with w.hold():
        w.init.value = "xavier"
    assert w.ax_log.get_title() == "tanh + xavier init: activations healthy, gradients healthy"


def test_signal_widget_exploding_relu():
    w = SignalPropagation(depth=30, width=64, activation="relu", init="naive", scale=1.0)
    assert w.verdict["forward"] == "exploding" and w.verdict["backward"] == "exploding"
    low, high = w.ax_log.get_ylim()
    assert high >= w.stats.activation_std.max() and low <= w.stats.activation_std.min()


def test_verdict_rules():
    class Fake:
        def __init__(self, std, grads):
            self.activation_std, self.grad_norm = np.array(std), np.array(grads)

        def gradient_ratio(self):
            return self.grad_norm[0] / self.grad_norm[-1]

    assert verdict(Fake([1.0], [1.0, 1.0])) == {"forward": "healthy", "backward": "healthy"}
    assert verdict(Fake([1e-5], [1e-9, 1.0]))["backward"] == "vanishing"
    assert verdict(Fake([1e5], [math.inf, 1.0])) == {"forward": "exploding", "backward": "exploding"}


def test_signal_widget_bad_arguments():
    with pytest.raises(ValueError, match=r"width must be one of \[16, 32, 64, 128\], got 100"):
        SignalPropagation(width=100)
    with pytest.raises(ValueError, match="activation must be one of .*got 'step'"):
        SignalPropagation(activation="step")




def test_remembering_sigmoid_gives_signal_propagation_the_same_numbers():
    from nncourse.initializers import signal_propagation
    from nncourse.widgets.activations import RememberingSigmoid

    for scale in (0.01, 1.0, 30.0):  # vanishing, healthy, saturated (sigmoid's tails)
        plain = signal_propagation(12, 32, "sigmoid", "naive", scale=scale, batch_size=16)
        remembering = signal_propagation(12, 32, RememberingSigmoid(), "naive", scale=scale, batch_size=16)
        assert remembering.activation == "sigmoid"
        for field in ("activation_std", "saturated", "grad_norm", "input_grad_std"):
            np.testing.assert_array_equal(getattr(remembering, field), getattr(plain, field))
        for a, b in zip(remembering.activations, plain.activations):
            np.testing.assert_array_equal(a, b)
    sigmoid, x = RememberingSigmoid(), np.linspace(-40, 40, 81)
    sigmoid.forward(x)
    np.testing.assert_array_equal(sigmoid.grad(x.copy()), activations.get("sigmoid").grad(x))  # not remembered
    np.testing.assert_array_equal(sigmoid.grad(x), activations.get("sigmoid").grad(x))          # remembered
    assert not sigmoid._outputs  # handed out once, then let go
    w = SignalPropagation(depth=20, width=64, activation="sigmoid", init="naive", scale=0.1)
    expected = signal_propagation(20, 64, "sigmoid", "naive", scale=0.1, batch_size=w.BATCH)
    np.testing.assert_array_equal(w.stats.grad_norm, expected.grad_norm)


def test_layer_histograms_equal_the_readable_version_on_nan_inf_and_bin_edges():
    from nncourse.widgets.activations import VALUE_RANGE, layer_histograms

    lo, hi = VALUE_RANGE
    bins = SignalPropagation.BINS

    def readable(layers):  # clean a copy, then bin each layer
        columns = []
        for values in layers:
            v = np.nan_to_num(np.asarray(values, float).ravel(), nan=lo, posinf=hi, neginf=lo)
            index = np.clip((v - lo) / (hi - lo) * bins, 0, bins - 1).astype(int)
            counts = np.bincount(index, minlength=bins)
            columns.append(counts / max(counts.max(), 1))
        return np.array(columns).T

    rng = np.random.default_rng(0)
    edges = lo + (hi - lo) * np.arange(bins + 1) / bins  # exactly on the bin edges, and the range's ends
    special = np.array([np.nan, np.inf, -np.inf, 1e300, -1e300, lo, hi, np.nextafter(hi, 0), 0.0])
    layers = [rng.normal(size=(8, 16)) * scale for scale in (1e-3, 1.0, 5.0)]
    layers.append(np.concatenate([edges, special, rng.normal(size=128 - edges.size - special.size)]).reshape(8, 16))
    layers.append(np.full((8, 16), np.nan))  # an overflowed layer: everything in the lowest bin
    got = layer_histograms(layers, bins)
    assert got.shape == (bins, len(layers))
    np.testing.assert_array_equal(got, readable(layers))
    assert got[0, -1] == 1.0 and got[1:, -1].sum() == 0


def test_signal_widget_title_is_stamped_where_matplotlib_draws_it():
    # The verdict title is stamped from a picture drawn once per string (StampedText), at the pixel
    # nearest to where matplotlib puts the Text: the same ink, shifted by less than a pixel.
    w = SignalPropagation(depth=20, width=64, activation="relu", init="he", scale=1.0)
    w.scale.value = 0.5
    assert w.ax_log.get_title().startswith("relu + he init")
    stamped = w.render()[..., :3].astype(float)
    canvas = w.fig.canvas
    canvas.restore_region(w._background)
    background = np.asarray(canvas.buffer_rgba())[..., :3].astype(float)
    w.fig.draw_artist(w.ax_log.title)  # matplotlib's own drawing of the Text
    own = np.asarray(canvas.buffer_rgba())[..., :3].astype(float)
    box = w.ax_log.title.get_window_extent()
    rows = slice(int(canvas.get_width_height()[1] - box.y1) - 3, int(canvas.get_width_height()[1] - box.y0) + 3)
    columns = slice(int(box.x0) - 3, int(box.x1) + 3)
    ink_stamped = np.abs(stamped - background)[rows, columns].sum(axis=2)
    ink_own = np.abs(own - background)[rows, columns].sum(axis=2)
    assert ink_own.sum() > 0 and ink_stamped.sum() == pytest.approx(ink_own.sum(), rel=0.05)
    for axis in (0, 1):  # the ink's extent and centre agree to a pixel
        profile_stamped, profile_own = ink_stamped.sum(axis=axis), ink_own.sum(axis=axis)
        assert abs(np.flatnonzero(profile_stamped)[0] - np.flatnonzero(profile_own)[0]) <= 1
        assert abs(np.flatnonzero(profile_stamped)[-1] - np.flatnonzero(profile_own)[-1]) <= 1
        centre = [np.average(np.arange(p.size), weights=p) for p in (profile_stamped, profile_own)]
        assert abs(centre[0] - centre[1]) < 1
