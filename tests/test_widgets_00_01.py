"""Widgets of notebooks 00 and 01, driven headless: set a control, check the picture's state."""
import numpy as np
import pytest
from IPython.display import Image

from nncourse.widgets import PerceptronExplorer, WidgetCheck
from nncourse.widgets import base as widget_base


def test_widget_check_slider_changes_the_curve():
    w = WidgetCheck()
    before = w.line.get_ydata().copy()
    png_before = w.to_png()
    w.frequency.value = 3.0
    np.testing.assert_allclose(w.line.get_ydata(), np.sin(3.0 * w.x))
    assert not np.allclose(before, w.line.get_ydata())
    assert w.to_png() != png_before
    assert "frequency = 3" in w.status.value


def test_display_shows_controls_then_an_updatable_picture(monkeypatch):
    shown, updates = [], []

    class Handle:
        def update(self, obj):
            updates.append(obj)

    def fake_display(obj, display_id=None):
        shown.append(obj)
        return Handle() if display_id else None

    monkeypatch.setattr(widget_base, "display", fake_display)
    w = WidgetCheck()
    w.show()
    assert shown[0] is w.controls and isinstance(shown[1], Image)  # a static PNG stays when headless
    assert shown[1].data[:8] == b"\x89PNG\r\n\x1a\n"
    w.frequency.value = 2.0
    assert len(updates) == 1 and isinstance(updates[0], Image) and updates[0].data != shown[1].data


def test_hold_redraws_once():
    w = PerceptronExplorer()
    n = len(w.update_seconds)
    with w.hold():
        w.w1.value, w.w2.value, w.b.value = 1.0, 1.0, -1.5
    assert len(w.update_seconds) == n + 1


def test_perceptron_sliders_move_the_line_and_the_mistakes():
    w = PerceptronExplorer("AND")
    with w.hold():
        w.w1.value, w.w2.value, w.b.value = 1.0, 1.0, -1.5  # a correct AND
    xs, ys = w.line.get_data()
    np.testing.assert_allclose(1.0 * xs + 1.0 * ys - 1.5, 0, atol=1e-12)  # the line is w.x + b = 0
    assert len(w.wrong.get_offsets()) == 0 and "0/4 misclassified" in w.ax.title.get_text()
    w.b.value = 0.5  # everything predicted 1: the three zeros are wrong
    assert len(w.wrong.get_offsets()) == 3
    expected = (w.grid_points @ np.array([1.0, 1.0]) + 0.5 > 0).reshape(w.xx.shape)
    np.testing.assert_array_equal(w.region.get_array(), expected)  # shaded half-planes follow the sliders


def test_step_applies_the_rule_to_the_next_mistake():
    w = PerceptronExplorer("AND")
    w.reset()
    assert (w.w1.value, w.w2.value, w.b.value) == (0.0, 0.0, 0.0)
    assert w.step() is True  # (0,0) label 0 is on the boundary -> w -= x, b -= 1
    assert (w.w1.value, w.w2.value, w.b.value) == (0.0, 0.0, -1.0)
    assert w.last_index == 0 and "Point #0" in w.status.value
    np.testing.assert_allclose(w.last.get_offsets(), [[0.0, 0.0]])
    assert w.step() is True  # next mistake after #0 is (1,1) label 1 -> w += x, b += 1
    assert (w.w1.value, w.w2.value, w.b.value) == (1.0, 1.0, 0.0)


def test_train_converges_on_and_never_on_xor():
    w = PerceptronExplorer("AND")
    errors = w.train(50)
    assert errors[-1] == 0 and "converged" in w.status.value
    assert w.step() is False
    xs, ys = w.err_line.get_data()
    assert list(ys) == errors
    w.dataset.value = "XOR"
    errors = w.train(50)
    assert len(errors) == 50 and min(errors) > 0 and "not converged" in w.status.value
    assert w.err_line.get_marker() == "o"
    w.train(100)  # 150 epochs: a plain line, dots would merge into a blob
    assert w.err_line.get_marker() in ("", "None") and len(w.err_line.get_xdata()) == 150


def test_sliders_stay_in_range_by_rescaling_without_moving_the_line():
    w = PerceptronExplorer("gaussian")
    w.model.params["weight"][0] = [40.0, 20.0]
    w.model.params["bias"][0] = -10.0
    scale = w._set_sliders(w.model.weight, w.model.bias)
    assert scale == pytest.approx(8.0)
    assert (w.w1.value, w.w2.value, w.b.value) == pytest.approx((5.0, 2.5, -1.25))


def test_dataset_switch_loads_new_points():
    w = PerceptronExplorer("AND")
    w.dataset.value = "moons"
    assert len(w.points.get_offsets()) == 60 and len(w.X) == 60
    with pytest.raises(ValueError, match="dataset must be one of"):
        PerceptronExplorer("rings")


def test_blitted_picture_equals_a_full_redraw():
    w = PerceptronExplorer("OR")
    w.show = None  # not displayed: refresh still renders
    w.w1.value = 2.0
    w.b.value = -1.0
    blitted = w.render().copy()
    w.invalidate()
    np.testing.assert_array_equal(blitted, w.render())
