"""Notebook 07 widgets driven headless: gradient through time and the LSTM gate viewer."""
import os
import threading

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nncourse.at_scale.rnn import CharLSTM
from nncourse.rnn import gradient_through_time
from nncourse.text import CharVocab
from nncourse.widgets.drawing import StampedTicks
from nncourse.widgets.rnn import CEILING, FLOOR, GradientThroughTime, LSTMGateViewer, _char_label
from widget_support import assert_same_as_full_redraw, matplotlib_ticks


@pytest.fixture(scope="module")
def gtt():
    return GradientThroughTime(hidden_size=16, length=40, scale=1.0, forget_bias=1.0)


def test_gradient_curves_are_the_jacobian_norms(gtt):
    assert set(gtt.norms) == {"rnn", "lstm_h", "lstm_c"} and len(gtt.norms["rnn"]) == 40
    expected = gradient_through_time(gtt.rnn, gtt.inputs[:40])["h"]
    np.testing.assert_allclose(gtt.norms["rnn"], expected)
    x, y = gtt.rnn_line.get_data()
    np.testing.assert_array_equal(x, np.arange(1, 41))
    np.testing.assert_allclose(y, np.clip(expected, FLOOR, CEILING))
    assert gtt.to_png()[:4] == b"\x89PNG"


def test_scale_moves_the_rnn_from_vanishing_to_exploding(gtt):
    with gtt.hold():
        gtt.length.value = 60
        gtt.scale.value = 0.5
    assert gtt.norms["rnn"][0] < 1e-10  # 0.5^59 times tanh' < 1
    assert gtt.rnn.params["weight_hh_l0"].shape == (16, 16)
    assert abs(np.linalg.norm(gtt.rnn.params["weight_hh_l0"], 2) - 0.5) < 1e-12  # scale x orthogonal
    gtt.scale.value = 2.5
    assert gtt.norms["rnn"][0] > 1e3  # the stretch outgrows the tanh's squashing: it explodes
    assert f"RNN {gtt.norms['rnn'][0]:.1e}" in gtt.status.value and len(gtt.rnn_line.get_xdata()) == 60
    assert "T = 60" in gtt.status.value and "edge" not in gtt.status.value  # 1.7e5: still inside the plot
    with gtt.hold():
        gtt.length.value, gtt.scale.value = 200, 0.5
    assert gtt.norms["rnn"].min() < FLOOR and "drawn at its edge (RNN" in gtt.status.value  # named for learners


def test_forget_bias_lets_the_lstm_carry_the_signal(gtt):
    with gtt.hold():
        gtt.length.value = 100
        gtt.scale.value = 1.0
        gtt.forget_bias.value = -2.0
    closed = gtt.norms["lstm_c"][0]
    mean_f_closed = gtt.mean_forget
    gtt.forget_bias.value = 5.0
    assert gtt.mean_forget == pytest.approx(gtt.lstm.gate_values["f"][0, :100].mean())  # over the T steps shown
    assert gtt.mean_forget > 0.95 > mean_f_closed
    assert f"mean forget gate {gtt.mean_forget:.2f}" in gtt.status.value
    assert gtt.norms["lstm_c"][0] > 1e-3 > 1e-20 > closed  # open forget gates: the cell carries on
    assert gtt.norms["lstm_c"][0] > 1e6 * gtt.norms["rnn"][0]


def test_forget_bias_reuses_the_rnn_curve_and_scale_recomputes_it(gtt):
    with gtt.hold():
        gtt.length.value, gtt.scale.value, gtt.forget_bias.value = 30, 1.3, 0.0
    rnn_before = gtt.norms["rnn"]
    gtt.forget_bias.value = 3.0  # the LSTM's alone: the RNN's curve is the cached one, still exact
    assert gtt.norms["rnn"] is rnn_before
    np.testing.assert_allclose(gtt.norms["rnn"], gradient_through_time(gtt.rnn, gtt.inputs[:30])["h"])
    gtt.scale.value = 0.7
    np.testing.assert_allclose(gtt.norms["rnn"], gradient_through_time(gtt.rnn, gtt.inputs[:30])["h"])
    assert gtt.norms["rnn"][0] < rnn_before[0]


def test_length_changes_the_x_range(gtt):
    gtt.length.value = 25
    assert gtt.ax.get_xlim() == (1.0, 25.0) and len(gtt.norms["lstm_h"]) == 25


def test_curves_stay_exact_whichever_control_moves():
    # Jacobians are kept per weight setting and re-chained for each length: after any sequence
    # of changes the curves are still gradient_through_time's (away from the chaotic scales,
    # where two exact computations part at rounding level)
    widget = GradientThroughTime(hidden_size=12, length=30)
    settings = [("length", 200), ("forget_bias", -1.0), ("length", 5), ("scale", 0.6), ("length", 120),
                ("forget_bias", 4.0), ("scale", 1.4), ("length", 75), ("forget_bias", 0.0)]
    for name, value in settings:
        getattr(widget, name).value = value
        T = widget.length.value
        rnn = gradient_through_time(widget.rnn, widget.inputs[:T])
        lstm = gradient_through_time(widget.lstm, widget.inputs[:T])
        np.testing.assert_allclose(widget.norms["rnn"], rnn["h"], rtol=1e-9, err_msg=f"after {name}={value}")
        np.testing.assert_allclose(widget.norms["lstm_h"], lstm["h"], rtol=1e-9, err_msg=f"after {name}={value}")
        np.testing.assert_allclose(widget.norms["lstm_c"], lstm["c"], rtol=1e-9, err_msg=f"after {name}={value}")
        np.testing.assert_allclose(widget.lstm_line.get_ydata(), np.clip(lstm["h"], FLOOR, CEILING), rtol=1e-9)


def test_one_core_and_two_threads_give_the_same_curves(monkeypatch):
    # on two cores the eigen-solves are split between two threads; on one, the same calls run in
    # turn: every curve agrees to the last bit, whichever control moved
    from nncourse.widgets import rnn as rnn_widgets

    threads = {"two": set(), "one": set()}
    original, running = rnn_widgets.spectral_norms, ["two"]

    def recording(matrices):
        threads[running[0]].add(threading.current_thread() is threading.main_thread())
        return original(matrices)

    monkeypatch.setattr(rnn_widgets, "spectral_norms", recording)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    two = GradientThroughTime(hidden_size=12, length=30)
    running[0] = "one"
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    one = GradientThroughTime(hidden_size=12, length=30)
    for name, value in [("scale", 1.3), ("forget_bias", -1.0), ("length", 200), ("scale", 0.7)]:
        for label, widget, cores in [("two", two, 2), ("one", one, 1)]:
            running[0] = label
            monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
            getattr(widget, name).value = value
        for key in ("rnn", "lstm_h", "lstm_c"):
            np.testing.assert_array_equal(two.norms[key], one.norms[key], err_msg=f"{key} after {name}={value}")
    assert threads == {"two": {True, False}, "one": {True}}  # main thread + background thread, or main alone


def test_length_repaints_the_x_axis_as_matplotlib_draws_it():
    widget = GradientThroughTime(hidden_size=8, length=60)
    widget.to_png()
    for T in (200, 35, 20, 5):
        widget.length.value = T
        assert widget.ax.get_xlim() == (1.0, T)
        shown = list(zip(widget.x_ticks.positions, widget.x_ticks.labels))
        assert shown == matplotlib_ticks(widget.ax, "x", widget.x_ticks.locator)  # the numbers matplotlib picks for 1..T
        assert all(float(p).is_integer() and "." not in label for p, label in shown)  # whole time steps
        x, _ = widget.rnn_line.get_data()
        np.testing.assert_array_equal(x, np.arange(1, T + 1))
        assert_same_as_full_redraw(widget)


@pytest.fixture(scope="module")
def viewer_setup():
    vocab = CharVocab("abc def\n")
    torch.manual_seed(0)
    model = CharLSTM(vocab.size, embedding_dim=5, hidden_size=12, num_layers=2)
    return model, vocab


def test_gate_viewer_shows_what_torch_computes(viewer_setup):
    model, vocab = viewer_setup
    viewer = LSTMGateViewer(model, vocab, text="abc def", layer=0, unit=3)
    values = viewer.values
    assert values["i"].shape == (7, 12) and set(values) == {"i", "f", "g", "o", "c"}
    # the NumPy twin's hidden state o * tanh(c) equals torch's first-layer output
    ids = torch.as_tensor(vocab.encode("abc def"))[None]
    layer0 = torch.nn.LSTM(5, 12, batch_first=True).double()
    layer0.load_state_dict({k: v for k, v in model.lstm.state_dict().items() if k.endswith("_l0")})
    with torch.no_grad():
        out, (h, c) = layer0(model.embedding(ids).double())
    np.testing.assert_allclose(values["o"] * np.tanh(values["c"]), out[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(values["c"][-1], c[0, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(viewer.images["f"].get_array(), values["f"].T)
    x, y = viewer.unit_lines["c"].get_data()
    np.testing.assert_allclose(y * np.abs(values["c"][:, 3]).max(), values["c"][:, 3])
    assert np.abs(y).max() == 1.0
    assert viewer.to_png()[:4] == b"\x89PNG"


def test_gate_viewer_second_layer_matches_torch(viewer_setup):
    model, vocab = viewer_setup
    viewer = LSTMGateViewer(model, vocab, text="fed cab", layer=1)
    with torch.no_grad():
        out = model.lstm(model.embedding(torch.as_tensor(vocab.encode("fed cab"))[None]))[0]
    values = viewer.values
    np.testing.assert_allclose(values["o"] * np.tanh(values["c"]), out[0].numpy(), atol=1e-6)


def test_gate_viewer_controls(viewer_setup):
    model, vocab = viewer_setup
    viewer = LSTMGateViewer(model, vocab, text="abc", unit=0)
    viewer.unit.value = 7
    np.testing.assert_allclose(viewer.unit_lines["i"].get_ydata(), viewer.values["i"][:, 7])
    assert viewer.markers["o"].get_ydata() == [7, 7]
    assert "unit 7" in viewer.unit_title.get_text()
    forget, cell = viewer.values["f"][:, 7], viewer.values["c"][:, 7]
    assert f"Unit 7</b>: mean forget gate {forget.mean():.2f}" in viewer.status.value
    assert f"drawn divided by {np.abs(cell).max():.2f}" in viewer.status.value and "3 characters" in viewer.status.value
    viewer.text.value = "a\nb c"
    assert viewer.values["c"].shape == (5, 12)
    for ticks in viewer.char_ticks.values():  # under the four heatmaps and the unit panel
        assert ticks.labels == ["a", "↵", "b", "␣", "c"]
    before = viewer.values
    viewer.text.value = "xyz"
    assert "Not in the model's vocabulary: 'x', 'y', 'z'" in viewer.status.value and viewer.values is before
    with pytest.raises(ValueError, match="layer must be an integer in \\[0, 1\\]"):
        LSTMGateViewer(model, vocab, layer=2, text="abc")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        LSTMGateViewer(model, vocab, text="xyz")


def test_gate_viewer_new_text_redraws_what_a_fresh_viewer_shows(viewer_setup):
    model, vocab = viewer_setup
    viewer = LSTMGateViewer(model, vocab, text="abc def abc", unit=2)
    viewer.to_png()
    for text in ["fed", "a b\nc d e f a b c", "cab"]:
        viewer.text.value = text
        T, expected = len(text), viewer.gate_values(text)
        for key in "ifoc":
            np.testing.assert_allclose(viewer.images[key].get_array(), expected[key].T)
            assert viewer.axes[key].get_xlim() == (-0.5, T - 0.5)
            assert viewer.char_ticks[key].labels == [_char_label(c) for c in text]
            np.testing.assert_array_equal(viewer.char_ticks[key].positions, np.arange(T))
        c_max = max(np.percentile(np.abs(expected["c"]), 99), 1e-3)
        assert viewer.images["c"].get_clim() == pytest.approx((-c_max, c_max))
        assert viewer.char_ticks["unit"].labels == [_char_label(c) for c in text]
        np.testing.assert_allclose(viewer.unit_lines["f"].get_ydata(), expected["f"][:, 2])
        assert_same_as_full_redraw(viewer)  # the heatmaps' frames, labels and the colour bar included
    fresh = LSTMGateViewer(model, vocab, text="cab", unit=2)
    np.testing.assert_array_equal(viewer.render(), fresh.render())


def test_stamped_ticks_look_like_matplotlib_tick_labels():
    labels = [_char_label(c) for c in "The (quick) fox, $5 a\tbox\n"]
    T = len(labels)

    def draw(stamped: bool):
        figure = Figure(figsize=(7, 4), dpi=80)
        FigureCanvasAgg(figure)
        ax = figure.add_axes((0.15, 0.25, 0.8, 0.65), xlim=(-0.5, T - 0.5), ylim=(T - 0.5, -0.5))
        ax.set_xlabel("key")
        ax.set_ylabel("query")
        if stamped:
            StampedTicks(ax, "x", family="monospace").set_labels(labels, fontsize=7)
            StampedTicks(ax, "y", family="monospace").set_labels(labels, fontsize=7)
        else:
            ax.set_xticks(np.arange(T), labels, fontsize=7, family="monospace")
            ax.set_yticks(np.arange(T), labels, fontsize=7, family="monospace")
        figure.canvas.draw()
        ink = 255.0 - np.asarray(figure.canvas.buffer_rgba())[..., :3].mean(axis=2)  # (rows, columns)
        return figure, ax, ink

    (fig_a, ax_a, ink_a), (fig_b, ax_b, ink_b) = draw(False), draw(True)
    renderer = fig_a.canvas.get_renderer()
    # the axis titles sit where matplotlib puts them
    for axis_a, axis_b in [(ax_a.xaxis, ax_b.xaxis), (ax_a.yaxis, ax_b.yaxis)]:
        np.testing.assert_allclose(axis_b.label.get_window_extent(fig_b.canvas.get_renderer()).bounds,
                                   axis_a.label.get_window_extent(renderer).bounds, atol=0.5)
    # every label: the same ink, at most a pixel off (stamped at the nearest whole pixel)
    height = ink_a.shape[0]
    x0, y0, x1, y1 = ax_a.bbox.extents
    centres = ax_a.transData.transform(np.column_stack([np.arange(T), np.arange(T)]))
    half = (x1 - x0) / T / 2
    windows = [(slice(int(height - y0) + 2, int(height - y0) + 25), slice(int(cx - half), int(cx + half) + 1))
               for cx in centres[:, 0]]                                        # under the axes
    windows += [(slice(int(height - cy - half), int(height - cy + half) + 1), slice(int(x0) - 25, int(x0) - 2))
                for cy in centres[:, 1]]                                       # left of it
    for label, window in zip(labels * 2, windows):
        a, b = ink_a[window], ink_b[window]
        assert abs(a.sum() - b.sum()) <= 0.15 * a.sum() + 1, label
        if a.sum() > 0:
            rows, columns = np.indices(a.shape)
            for grid in (rows, columns):
                assert abs((grid * a).sum() / a.sum() - (grid * b).sum() / b.sum()) < 1.0, label
    with pytest.raises(ValueError, match="one position per label: 2 labels, 3 positions"):
        StampedTicks(ax_b, "x").set_labels(["a", "b"], positions=[0, 1, 2])
    with pytest.raises(ValueError, match="which must be 'x' or 'y', got 'z'"):
        StampedTicks(ax_b, "z")


def test_gate_viewer_cell_colour_bar_numbers_are_matplotlibs(viewer_setup):
    # the colour bar's numbers are stamped (StampedTicks on its right): the ones a colour bar of
    # the same range shows, for each text's range of the cell state
    model, vocab = viewer_setup
    viewer = LSTMGateViewer(model, vocab, text="abc")
    for text in ["abc def abc", "f", "a\nb c d e f"]:
        viewer.text.value = text
        shown = viewer.colorbars["c"].ax
        figure = Figure(figsize=viewer.fig.get_size_inches(), dpi=viewer.fig.dpi)
        FigureCanvasAgg(figure)
        image = figure.add_axes((0.1, 0.1, 0.3, 0.3)).imshow(np.zeros((2, 2)), cmap="RdBu_r")
        colour_bar = figure.colorbar(image, cax=figure.add_axes(shown.get_position()))  # same place, same size
        image.set_clim(*viewer.images["c"].get_clim())
        figure.canvas.draw()
        low, high = colour_bar.ax.get_ylim()
        expected = [(tick.get_loc(), tick.label2.get_text()) for tick in colour_bar.ax.yaxis.get_major_ticks()
                    if low - 1e-9 <= tick.get_loc() <= high + 1e-9]
        assert list(zip(viewer.cell_ticks.positions, viewer.cell_ticks.labels)) == expected
        assert len(shown.get_yticks()) == 0  # the colour bar's own ticks stay off: not drawn twice
        assert len(expected) >= 3
    with pytest.raises(ValueError, match="side must be 'left' or 'right' for the y axis, got 'top'"):
        StampedTicks(viewer.ax_unit, "y", side="top")


def test_gate_viewer_cell_colour_bar_looks_as_matplotlib_rebuilds_it(viewer_setup):
    # a new range is not sent to the colour bar (its colours are drawn in its own box): the picture
    # is the one the colour bar gives when it rebuilds itself for the image's range
    model, vocab = viewer_setup
    for text in ["abc def abc", "a\nb c d e f"]:
        viewer = LSTMGateViewer(model, vocab, text="abc")
        viewer.text.value = text
        shown = viewer.render().copy()
        assert viewer.images["c"].get_clim() != (-1, 1)
        bar = viewer.colorbars["c"]
        bar.update_normal(viewer.images["c"])  # matplotlib's own colours and limits for this range
        assert bar.ax.get_ylim() == viewer.images["c"].get_clim()
        viewer.invalidate()
        np.testing.assert_array_equal(shown, viewer.render())


@pytest.mark.parametrize("limits", [(1e-10, 1e3), (3e-7, 2e-2), (1.0, 1e6)])
def test_stamped_ticks_on_a_log_axis_keep_the_ticks_matplotlib_draws(limits):
    # "inside the limits" is judged on the scale the axis draws (decades), as matplotlib's Axis does:
    # a slack in data units kept a tick at 1e-12 below a 1e-10 limit
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 3), dpi=80)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.set_yscale("log")
    ax.set_ylim(*limits)
    major = set(ax.yaxis.get_majorticklocs())
    drawn = [(float(t.get_loc()), t.label1.get_text()) for t in ax.yaxis._update_ticks() if t.get_loc() in major]
    ticks = StampedTicks(ax, "y")
    ticks.follow_locator()
    assert [(float(p), label) for p, label in zip(ticks.positions, ticks.labels)] == drawn
    assert min(ticks.positions) >= limits[0]
