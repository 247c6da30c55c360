"""Label-budget explorer (notebook 10), driven headless: set a control, check the figure's state."""
import numpy as np
import pytest

from nncourse.widgets.transfer import LabelBudgetExplorer

METHODS = ("from scratch", "linear probe", "fine-tune")


@pytest.fixture
def records():
    rng = np.random.default_rng(0)
    return [{"method": m, "budget": k, "seed": s, "accuracy": min(1.0, 0.3 + 0.1 * i + 0.01 * k + 0.02 * rng.random())}
            for i, m in enumerate(METHODS) for k in (1, 5, 10, 50) for s in range(3)]


def _bar_heights(w):
    return [max(y for _, y in path.vertices) for path in w.bars.get_paths()]


def test_budget_slider_moves_marker_bars_and_dots(records):
    w = LabelBudgetExplorer(records, budget=5)
    png = w.to_png()
    w.budget.value = 50
    assert list(w.marker.get_xdata()) == [50, 50]
    want = [np.mean([r["accuracy"] for r in records if r["method"] == m and r["budget"] == 50]) for m in METHODS]
    np.testing.assert_allclose(_bar_heights(w), want)
    dots = w.dots.get_offsets()
    assert len(dots) == 9 and sorted(dots[:, 1]) == pytest.approx(sorted(r["accuracy"] for r in records if r["budget"] == 50))
    assert "50 labelled examples per class" in w.status.value and "fine-tune" in w.status.value
    assert w.to_png() != png
    w.close()


def test_method_boxes_hide_and_show(records):
    w = LabelBudgetExplorer(records)
    w.shown["fine-tune"].value = False
    assert not w.lines["fine-tune"].get_visible() and len(_bar_heights(w)) == 2 and len(w.dots.get_offsets()) == 6
    assert "linear probe" in w.status.value
    for box in w.shown.values():
        box.value = False
    assert len(w.dots.get_offsets()) == 0 and "Tick a method" in w.status.value
    w.close()
    assert w.closed


def test_curve_is_the_mean_over_seeds_and_empty_records_are_refused(records):
    w = LabelBudgetExplorer(records)
    x, y = w.lines["linear probe"].get_data()
    assert list(x) == [1, 5, 10, 50]
    np.testing.assert_allclose(y, [np.mean([r["accuracy"] for r in records if r["method"] == "linear probe"
                                            and r["budget"] == k]) for k in x])
    w.close()
    with pytest.raises(ValueError, match="empty"):
        LabelBudgetExplorer([])



def test_boxes_repaint_the_curves_as_a_full_redraw_draws_them(records):
    w = LabelBudgetExplorer(records, budget=50)
    for method, shown in (("linear probe", False), ("from scratch", False), ("linear probe", True)):
        w.shown[method].value = shown
        repainted = w.render().copy()
        w.invalidate()
        np.testing.assert_array_equal(repainted, w.render())
    w.close()
