"""Widget of notebook 11 (Will it fit?), driven headless: set a control, check the figure's state."""
import numpy as np
import pytest

from nncourse.scale import GPUS, MODELS, training_memory
from nncourse.widgets.scale import PARTS, WillItFit


@pytest.fixture
def widget():
    w = WillItFit()
    w.update()
    yield w
    w.close()


def _bar_total(w, stage):
    return sum(w.bars[part][stage].get_width() for part in PARTS)


def test_bars_show_the_formula(widget):
    for stage in range(4):
        want = training_memory(MODELS[2], zero_stage=stage, **widget.settings())
        for part in PARTS:
            assert widget.bars[part][stage].get_width() == pytest.approx(want[part] / 1e9)
    # stacked: each part starts where the previous one ends
    assert widget.bars["gradients"][0].get_x() == pytest.approx(widget.bars["weights"][0].get_width())


def test_first_slider_changes_the_picture(widget):
    png = widget.to_png()
    before = _bar_total(widget, 0)
    widget.model.value = 4  # the first control: the model
    assert _bar_total(widget, 0) > 5 * before
    assert widget.to_png() != png
    assert "65B" in widget.verdict and "none of these GPUs" in widget.verdict


def test_zero_stage_gpus_and_checkpointing(widget):
    with widget.hold():
        widget.model.value, widget.gpus.value = 3, 8
    totals = [_bar_total(widget, s) for s in range(4)]
    assert totals == sorted(totals, reverse=True) and totals[3] < totals[0] / 3  # each stage shards more
    widget.zero_stage.value = 3
    assert widget.selected.get_width() == pytest.approx(totals[3])
    assert widget.total_label.get_text().strip() == f"{totals[3]:,.1f} GB" and widget.total_label.get_position()[1] == 3
    assert f"{totals[0]:,.1f} / " in widget.status.value  # every stage's total in the status line
    assert widget.selected.get_y() == pytest.approx(3 - 0.36)
    acts = widget.bars["activations"][3].get_width()
    widget.checkpointing.value = True
    assert widget.bars["activations"][3].get_width() < acts / 5
    widget.gpus.value = 1
    assert _bar_total(widget, 3) == pytest.approx(totals[0], rel=0.2)  # one GPU: nothing to shard over


def test_fits_lists_the_gpus_with_enough_memory(widget):
    with widget.hold():
        widget.model.value, widget.zero_stage.value, widget.gpus.value = 0, 0, 1
    total = _bar_total(widget, 0)
    assert widget.fits == [name for name, gb in GPUS.items() if total <= gb]
    assert widget.fits and "fits on" in widget.status.value


def test_x_range_and_gpu_lines_follow_the_model(widget):
    widget.model.value = 0
    small = widget.ax.get_xlim()[1]
    widget.model.value = 4
    assert widget.ax.get_xlim()[1] > small
    assert all(line.get_visible() for line, _ in widget.gpu_lines)
    labels = [label.get_visible() for _, label in widget.gpu_lines]
    assert labels[-1] and not all(labels)  # crowded labels hidden at this range


def test_an_x_range_seen_before_reuses_its_background_as_a_full_redraw_draws_it(widget):
    widget.model.value = 0
    small = widget.render().copy()
    widget.model.value = 4
    widget.render()
    widget.model.value = 0               # back to a range drawn before: its background is reused
    assert widget._background is not None
    np.testing.assert_array_equal(widget.render(), small)
    widget.invalidate()                  # and it equals a full redraw
    np.testing.assert_array_equal(widget.render(), small)


def test_close_frees_the_widget(widget):
    widget.close()
    assert widget.closed and not widget.fig.axes
    widget.model.value = 1  # no error, nothing happens
