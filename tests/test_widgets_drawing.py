"""nncourse.widgets.drawing.render_once: each stamp is the text's ink as matplotlib draws it."""
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import IdentityTransform

from nncourse.widgets import drawing
from nncourse.widgets.drawing import render_once


def drawn_alone(text, dpi, **props):
    """The plain way: the text at the middle of a large transparent canvas, the whole canvas searched."""
    side = 2048
    figure = Figure(figsize=(side / dpi, side / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    figure.patch.set_visible(False)  # transparent: the text alone
    figure.text(side // 2, side // 2, text, transform=IdentityTransform(), **props)
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())
    rows, columns = np.nonzero(pixels[..., 3])
    if len(rows) == 0:
        return None, (0, 0)
    top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    return pixels[top:bottom, left:right][::-1], (int(left - side // 2), int(side - bottom - side // 2))


CASES = [
    ("0.25", 8, 80, dict(fontsize=8)),
    ("gradient norm", 10, 80, dict(fontsize=10, rotation=90, ha="center", va="bottom")),
    (r"$\|\partial h_T / \partial h_t\|$", 12, 100, dict(fontsize=12)),
    ("fj|gÅ", 14, 72, dict(fontsize=14, family="monospace", ha="right", va="baseline")),
    ("a title of ninety characters or so, " * 2 + "as a verdict", 10, 80, dict(fontsize=10, ha="center")),
    ("x", 9, 80, dict(fontsize=9, rotation=45, color="C1")),
    ("italic overhang f", 11, 80, dict(fontsize=11, style="italic", va="center")),
    ("boxed", 10, 80, dict(fontsize=10, bbox=dict(facecolor="0.9", pad=6))),  # ink beyond the layout box
    (" ", 10, 80, dict(fontsize=10)),
]


@pytest.mark.parametrize("text, size, dpi, props", CASES, ids=[c[0][:12] for c in CASES])
def test_a_stamp_is_the_ink_matplotlib_draws(text, size, dpi, props):
    picture, offset, _ = render_once(text, size, dpi, **props)
    expected, expected_offset = drawn_alone(text, dpi, **props)
    if expected is None:
        assert picture is None
        return
    assert offset == expected_offset
    np.testing.assert_array_equal(picture, expected)


def test_a_long_text_does_not_slow_the_stamps_after_it():
    # each stamp is drawn on a canvas just larger than itself: a long title drawn once leaves the
    # short tick labels after it on small canvases (clearing and searching a canvas sized for the
    # title took 40 ms per later label)
    render_once("a long title, " * 8, 10, 80, fontsize=10)
    used = []
    original = drawing._scratch_figure

    def recording(dpi, width, height):
        used.append((width, height))
        return original(dpi, width, height)

    drawing._scratch_figure = recording
    try:
        render_once("0.25", 8, 80, fontsize=8)
    finally:
        drawing._scratch_figure = original
    assert max(w * h for w, h in used) <= 64 * 64


@pytest.mark.parametrize("which, side", [("x", "bottom"), ("x", "top"), ("y", "left"), ("y", "right")])
def test_stamped_ticks_place_the_axis_label_beyond_the_union_of_the_label_boxes(which, side):
    # the union is taken over all boxes at once (NumPy): the same coordinates as Bbox.union box by box
    from matplotlib.transforms import Bbox

    from nncourse.widgets.drawing import StampedTicks

    figure = Figure(figsize=(4, 3), dpi=80)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0.2, 0.2, 0.6, 0.6), xlim=(-0.5, 5.5), ylim=(-0.5, 5.5))
    getattr(ax, f"set_{which}label")("label")
    ticks = StampedTicks(ax, which, side=side)
    ticks.set_labels(["a", "Wide", "ǵ", "␣", "1.5e-3", " "], fontsize=7)
    transform, va, ha = ticks._text_transform()
    boxes = [ticks._stamp(label, figure.dpi, va, ha)[2].translated(*anchor)
             for label, anchor in zip(ticks.labels, ticks._anchors(transform))]
    edge, pad = Bbox.union([*boxes, ax.spines[side].get_window_extent()]), ticks.axis.labelpad * figure.dpi / 72
    box = ax.bbox
    expected = {"bottom": (0.5, (edge.y0 - pad - box.y0) / box.height), "top": (0.5, (edge.y1 + pad - box.y0) / box.height),
                "left": ((edge.x0 - pad - box.x0) / box.width, 0.5), "right": ((edge.x1 + pad - box.x0) / box.width, 0.5)}
    label = ticks.axis.label
    assert tuple(label.get_position()) == expected[side]
