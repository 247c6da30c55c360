"""Drawing helpers that keep the widgets' updates fast (notebooks 03, 07 and 08 use them).

* :class:`StampedTicks`: tick labels stamped from pictures matplotlib draws once per (label, size),
  instead of laying out hundreds of Text artists on every update.
* :class:`StampedText`: the same for a title or an axis label redrawn on many updates.
* :class:`GlyphStampedTexts`: labels whose numbers change on every update, stamped character by
  character.
* :class:`NearestImage` (:func:`nearest_imshow`): a nearest-neighbour heatmap coloured per data cell,
  not per screen pixel.
* :class:`Backdrop`: repaint only what a control changed (labels, limits) over a saved picture of
  the rest, instead of redrawing the whole figure.
"""
from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.image import AxesImage, _resample
from matplotlib.lines import TICKDOWN, TICKLEFT, TICKRIGHT, TICKUP, Line2D
from matplotlib.text import Text
from matplotlib.ticker import NullLocator
from matplotlib.transforms import Affine2D, Bbox, IdentityTransform, TransformedBbox

from .base import FigureWidget


_scratch: dict = {}  # (dpi, width, height) -> a transparent figure where new stamps are drawn
_INK_MARGIN = 4  # pixels around the text's layout box searched for its ink (antialiasing, overhangs)


def _scratch_figure(dpi: float, width: int, height: int) -> Figure:
    figure = _scratch.get((dpi, width, height))
    if figure is None:
        figure = _scratch[(dpi, width, height)] = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        FigureCanvasAgg(figure)
    return figure


def _power_of_two_above(pixels: float) -> int:
    side = 32
    while side < pixels:
        side *= 2
    return side


def render_once(text: str, size_points: float, dpi: float, **props):
    """Draw ``text`` with matplotlib once, alone on a transparent scratch figure, anchored at a
    pixel; ``props`` are Text properties (font, colour, alignment, rotation). Returns (picture
    (h, w, 4) bottom row first, or None for blank text; the offset of its bottom-left pixel from the
    anchor; the text's layout box relative to the anchor) - what :class:`StampedTicks` and
    :class:`StampedText` stamp on every later draw.

    The text is laid out first, then drawn on a kept canvas (sides powers of two) just larger than
    its layout box, and its ink is looked for near that box: a canvas sized for the longest text
    ever stamped made every later stamp as slow as clearing and searching it."""
    probe = _scratch_figure(dpi, 32, 32)
    probe.texts.clear()
    box = probe.text(0, 0, text, transform=IdentityTransform(), **props).get_window_extent(
        probe.canvas.get_renderer())                                         # relative to the anchor
    room = 2 * _INK_MARGIN + int(size_points * dpi / 72) + 2                  # around the box, each side
    figure = _scratch_figure(dpi, _power_of_two_above(box.width + 2 * room),
                             _power_of_two_above(box.height + 2 * room))
    width, height = int(figure.bbox.width), int(figure.bbox.height)
    anchor_x, anchor_y = room - int(np.floor(box.x0)), room - int(np.floor(box.y0))  # whole pixels
    figure.texts.clear()  # a fresh Text each time: no property left over from the previous stamp
    scratch = figure.text(anchor_x, anchor_y, text, transform=IdentityTransform(), **props)  # in pixels
    renderer = figure.canvas.get_renderer()
    renderer.clear()  # transparent: the text alone
    scratch.draw(renderer)
    pixels = np.asarray(renderer.buffer_rgba())
    box = scratch.get_window_extent(renderer).translated(-anchor_x, -anchor_y)
    # the ink near the box (rows counted from the top); if it reaches the searched region's edge,
    # the whole canvas is searched
    top = max(int(np.floor(height - anchor_y - box.y1)) - _INK_MARGIN, 0)
    bottom = min(int(np.ceil(height - anchor_y - box.y0)) + _INK_MARGIN, height)
    left = max(int(np.floor(anchor_x + box.x0)) - _INK_MARGIN, 0)
    right = min(int(np.ceil(anchor_x + box.x1)) + _INK_MARGIN, width)
    region = pixels[top:bottom, left:right, 3]
    if region.size == 0 or region[0].any() or region[-1].any() or region[:, 0].any() or region[:, -1].any():
        top, left, region = 0, 0, pixels[..., 3]
    rows, columns = np.nonzero(region)
    if len(rows) == 0:  # a space: nothing to stamp, but it takes room
        return None, (0, 0), box
    top, bottom = top + rows.min(), top + rows.max() + 1
    left, right = left + columns.min(), left + columns.max() + 1
    picture = pixels[top:bottom, left:right][::-1].copy()
    return picture, (int(left - anchor_x), int(height - bottom - anchor_y)), box


class StampedTicks(Artist):
    """The ticks and tick labels of an axes' x or y axis, looking as matplotlib draws them, at a
    fraction of the cost: each distinct (label, size) is drawn once by matplotlib into a small
    picture that is kept and then stamped at the pixel nearest to where matplotlib would put it;
    the tick marks are one Line2D of tick markers (what matplotlib's ticks are made of).

    Laying out a tick label costs about as much as drawing a short line plot; the gate viewer
    labels every character under five panels (up to 400 labels), and those labels were most of
    the time a new text took. The axis' own ticks are removed; its label (if any) is placed
    ``labelpad`` beyond these tick labels, as matplotlib places it. Either call
    :meth:`set_labels` (one label per position, e.g. the characters of a text) or
    :meth:`follow_locator` after changing the limits (the numbers matplotlib would have chosen).
    ``side``: where the ticks are, "bottom" (default) or "top" for x, "left" (default) or "right"
    for y (a vertical colour bar's ticks are on its right).
    """

    _stamps: dict = {}   # (label, points, family, dpi, va, ha, color) -> (picture, offset, layout box)

    def __init__(self, ax, which: str = "x", *, family: str | None = None, side: str | None = None):
        super().__init__()
        if which not in ("x", "y"):
            raise ValueError(f"which must be 'x' or 'y', got {which!r}")
        sides = ("bottom", "top") if which == "x" else ("left", "right")
        if side is not None and side not in sides:
            raise ValueError(f"side must be {sides[0]!r} or {sides[1]!r} for the {which} axis, got {side!r}")
        self.side = side or sides[0]
        self.tick = "tick1" if self.side == sides[0] else "tick2"  # matplotlib's name for the ticks on that side
        self.ax, self.which, self.family = ax, which, family
        self.axis = ax.xaxis if which == "x" else ax.yaxis
        self.locator, self.formatter = self.axis.get_major_locator(), self.axis.get_major_formatter()
        self.labels: list[str] = []
        self.positions = np.zeros(0)
        rc = matplotlib.rcParams
        self.fontsize = FontProperties(size=rc[f"{which}tick.labelsize"]).get_size_in_points()
        color = rc[f"{which}tick.labelcolor"]
        self.color = rc[f"{which}tick.color"] if color == "inherit" else color
        size = rc[f"{which}tick.major.size"]
        self.pad_points = size + rc[f"{which}tick.major.pad"]  # ticks point outwards: clear the tick, then pad
        self.marks = Line2D([], [], linestyle="None", marker={"bottom": TICKDOWN, "top": TICKUP, "left": TICKLEFT, "right": TICKRIGHT}[self.side],
                            markersize=size, markeredgewidth=rc[f"{which}tick.major.width"],
                            color=rc[f"{which}tick.color"], clip_on=False)
        self.marks.set_figure(ax.figure)
        self.set_zorder(2.6)  # over the spines, as the axis' ticks are
        ax.add_artist(self)
        self.set_clip_on(False)
        self.set_in_layout(False)  # tight_layout keeps the room it gave the axis' own labels
        self.axis.set_major_locator(NullLocator())

    def set_labels(self, labels, fontsize: float | None = None, positions=None) -> None:
        """``labels`` at ``positions`` (data coordinates; default 0, 1, ..., len(labels) - 1)."""
        self.labels = [str(label) for label in labels]
        self.positions = np.arange(len(self.labels), dtype=float) if positions is None else np.asarray(positions, float)
        if len(self.positions) != len(self.labels):
            raise ValueError(f"need one position per label: {len(self.labels)} labels, {len(self.positions)} positions")
        if fontsize is not None:
            self.fontsize = float(fontsize)
        self.marks.set_transform(self.ax.get_xaxis_transform(self.tick) if self.which == "x"
                                 else self.ax.get_yaxis_transform(self.tick))
        zeros = np.zeros_like(self.positions)
        self.marks.set_data(*((self.positions, zeros) if self.which == "x" else (zeros, self.positions)))
        self._place_axis_label()
        self.stale = True

    def follow_locator(self) -> None:
        """Ticks where the axis' own locator would put them for the current limits, labelled by its
        formatter (as ``Axis`` does: every tick formatted, those inside the limits kept)."""
        positions = np.asarray(self.locator())
        labels = self.formatter.format_ticks(positions)
        # inside up to a slack of the range as the axis' scale draws it (a log axis: in decades), as
        # Axis decides which ticks to draw
        scale = self.axis.get_transform()
        low, high = sorted(np.ravel(scale.transform(np.asarray(self.axis.get_view_interval(), float))))
        where = np.ravel(scale.transform(positions.astype(float)))
        slack = 1e-10 * (high - low)
        inside = (where >= low - slack) & (where <= high + slack)
        self.set_labels([label for label, keep in zip(labels, inside) if keep], positions=positions[inside])

    def _text_transform(self):
        """(transform to the labels' anchors, vertical alignment, horizontal alignment)."""
        number = self.tick[-1]  # text1 or text2: the side of the ticks
        return getattr(self.ax, f"get_{self.which}axis_text{number}_transform")(self.pad_points)

    def _anchors(self, transform) -> np.ndarray:
        """Where each label is anchored, in pixels (n, 2)."""
        zeros = np.zeros_like(self.positions)
        return transform.transform(np.column_stack((self.positions, zeros) if self.which == "x"
                                                   else (zeros, self.positions)))

    def _stamp(self, label: str, dpi: float, va: str, ha: str):
        """(picture (h, w, 4) bottom row first or None, its offset from the anchor in pixels, the
        text's layout box relative to the anchor): drawn by matplotlib the first time."""
        key = (label, self.fontsize, self.family, dpi, va, ha, self.color)
        if key not in self._stamps:
            self._stamps[key] = render_once(label, self.fontsize, dpi, fontsize=self.fontsize, family=self.family,
                                            color=self.color, verticalalignment=va, horizontalalignment=ha)
        return self._stamps[key]

    def _place_axis_label(self) -> None:
        """Put the axis label where matplotlib would: ``labelpad`` beyond the tick labels' boxes."""
        if not self.axis.label.get_text():
            return
        figure = self.ax.figure
        transform, va, ha = self._text_transform()
        # the labels' layout boxes (x0, y0, x1, y1) in pixels, and the spine's: their union, in one go
        boxes = np.array([self._stamp(label, figure.dpi, va, ha)[2].extents for label in self.labels]).reshape(-1, 4)
        boxes = np.vstack([boxes + np.tile(self._anchors(transform), 2),
                           self.ax.spines[self.side].get_window_extent().extents])
        edge = Bbox([boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)])
        pad, box = self.axis.labelpad * figure.dpi / 72, self.ax.bbox
        if self.side == "bottom":
            self.axis.set_label_coords(0.5, (edge.y0 - pad - box.y0) / box.height)
        elif self.side == "top":
            self.axis.set_label_coords(0.5, (edge.y1 + pad - box.y0) / box.height)
        elif self.side == "left":
            self.axis.set_label_coords((edge.x0 - pad - box.x0) / box.width, 0.5)
        else:
            self.axis.set_label_coords((edge.x1 + pad - box.x0) / box.width, 0.5)

    def draw(self, renderer) -> None:
        if not self.get_visible():
            return
        self.marks.draw(renderer)
        transform, va, ha = self._text_transform()
        gc = renderer.new_gc()
        for label, (x, y) in zip(self.labels, self._anchors(transform)):
            picture, (dx, dy), _ = self._stamp(label, renderer.dpi, va, ha)
            if picture is not None:
                renderer.draw_image(gc, round(x) + dx, round(y) + dy, picture)
        gc.restore()
        self.stale = False


class Backdrop(Artist):
    """The widget's static picture without ``layer`` (artists that change now and then: tick labels
    that follow a length or a text), saved once. ``repaint()`` paints it, then the layer, into the
    widget's cached background (:meth:`FigureWidget.repaint`): new tick labels do not cover the old
    ones, and this erases them without redrawing the whole figure.

    Every static artist outside the layer must stay as it was when the backdrop was first painted
    (or call :meth:`forget`); layer artists are painted over everything else static, so a static
    artist that overlaps one and is drawn after it in a full redraw belongs in the layer too.
    """

    def __init__(self, widget: FigureWidget, layer):
        super().__init__()
        self.widget, self.layer, self._pixels = widget, list(layer), None

    def repaint(self) -> None:
        if self._pixels is None:
            canvas, shown = self.widget.fig.canvas, [artist.get_visible() for artist in self.layer]
            for artist in self.layer:
                artist.set_visible(False)
            try:
                canvas.draw()  # animated artists are left out too
                self._pixels = canvas.copy_from_bbox(self.widget.fig.bbox)
            finally:
                for artist, visible in zip(self.layer, shown):
                    artist.set_visible(visible)
        self.widget.repaint(self, *self.layer)

    def forget(self) -> None:
        """Something static outside the layer changed: capture the backdrop again when next needed."""
        self._pixels = None

    def draw(self, renderer) -> None:
        renderer.restore_region(self._pixels)


class StampedText(Artist):
    """Draws ``text`` (a title or an axis label, redrawn on many updates) from a picture matplotlib
    draws once per (string, font, colour, alignment), stamped at the pixel nearest to its anchor.

    Drawing a line of text costs matplotlib about 2 ms (glyph layout and rendering, each time);
    the explorer's titles and axis labels were a third of the refresh after a new text. The Text
    stays the source of truth (``ax.title.set_text``, ``set_label_coords`` as usual); it is marked
    animated so that the figure never draws it itself. The same idea as
    :class:`StampedTicks` for tick labels. A title: pass it to
    :meth:`FigureWidget.animate`. An axis label (its Axis draws it even when animated): give the
    ``axes``; the Text is hidden and this artist, added to the axes, draws it in full draws (and
    can be in a :class:`Backdrop`'s layer); show or hide this artist, not the Text.
    """

    _stamps: dict = {}   # key -> (picture (h, w, 4) bottom row first, or None; offset from the anchor)

    def __init__(self, text: Text, *, axes=None):
        super().__init__()
        self.text = text
        text.set_animated(True)  # left out of full draws: this artist draws it
        self.set_figure(text.get_figure(root=False))
        self._hidden_text = axes is not None
        if axes is not None:
            text.set_visible(False)
            self.set_zorder(2.5)  # as an Axis
            self.set_clip_on(False)
            self.set_in_layout(False)
            axes.add_artist(self)

    def _key(self, dpi: float):
        t, prop = self.text, self.text.get_fontproperties()
        return (t.get_text(), tuple(prop.get_family()), prop.get_style(), prop.get_weight(),
                prop.get_size_in_points(), to_rgba(t.get_color(), t.get_alpha()), t.get_ha(), t.get_va(),
                t.get_rotation(), t.get_rotation_mode(), dpi)

    def _stamp(self, dpi: float):
        key = self._key(dpi)
        if key not in self._stamps:
            t = self.text
            picture, offset, _ = render_once(t.get_text(), t.get_fontsize(), dpi,
                                             fontproperties=t.get_fontproperties(), color=t.get_color(),
                                             alpha=t.get_alpha(), horizontalalignment=t.get_ha(),
                                             verticalalignment=t.get_va(), rotation=t.get_rotation(),
                                             rotation_mode=t.get_rotation_mode())
            self._stamps[key] = (picture, offset)
        return self._stamps[key]

    def draw(self, renderer) -> None:
        if not self.get_visible() or not self.text.get_text():
            return
        if not self._hidden_text and not self.text.get_visible():
            return
        picture, (dx, dy) = self._stamp(renderer.dpi)
        if picture is not None:
            x, y = self.text.get_transform().transform(self.text.get_unitless_position())
            gc = renderer.new_gc()
            renderer.draw_image(gc, round(x) + dx, round(y) + dy, picture)
            gc.restore()


class GlyphStampedTexts(Artist):
    """Draws Texts whose numbers change on every update (the graph's values, gradients and
    parameters) from pictures of single characters, each drawn once by matplotlib
    (:func:`~nncourse.widgets.drawing.render_once`) and then stamped along the line.

    Matplotlib lays out and rasterises every glyph of every text on each draw (1-2 ms a label,
    most of this widget's refresh); a label is a few characters out of "0123456789.-e+?=∂L/wbvc",
    so stamping them costs a fraction of that. Each character is stamped at the pixel nearest to
    where matplotlib puts it: pen positions from the font's advance widths (kerning ignored), line
    baselines from matplotlib's own layout, each line aligned at the anchor as the Text's ``ha``
    says (as matplotlib does when ``multialignment`` is not set). A label moves by less than a
    pixel (the tests compare them). A Text's bbox patch (the white box under the weights) is drawn
    around the stamped lines. The Texts stay the source of truth (``set_text``, colour,
    alignment): they are marked animated, so the figure never draws them, and this artist
    (animated itself) draws them. Mathtext ("$") and rotated texts are drawn by matplotlib as usual.
    """

    _stamps: dict = {}     # (character, font, colour, dpi) -> (picture, offset from the pen on the baseline)
    _metrics: dict = {}    # (character, font, dpi) -> (advance width, ascent, descent) in pixels
    _layouts: dict = {}    # (font, vertical alignment, probe lines, dpi) -> (baselines, bottom, top) from the anchor

    def __init__(self, texts):
        super().__init__()
        self.texts = list(texts)
        for text in self.texts:
            text.set_animated(True)  # left out of full draws: drawn here
        self.set_figure(self.texts[0].get_figure(root=False))
        self.set_zorder(min(text.get_zorder() for text in self.texts))  # among the animated: where they were

    @staticmethod
    def _font_key(text):
        prop = text.get_fontproperties()
        return tuple(prop.get_family()), prop.get_style(), prop.get_weight(), prop.get_size_in_points()

    def _metric(self, renderer, text, char: str) -> tuple[float, float, float]:
        """(where the pen moves after ``char``: width("0c0") - width("00"), its ascent, its descent)."""
        key = (char, self._font_key(text), renderer.dpi)
        if key not in self._metrics:
            prop = text.get_fontproperties()
            measure = lambda s: renderer.get_text_width_height_descent(s, prop, ismath=False)  # noqa: E731
            _, height, descent = measure(char)
            self._metrics[key] = (measure("0" + char + "0")[0] - measure("00")[0], height - descent, descent)
        return self._metrics[key]

    def _stamp(self, renderer, text, char: str):
        color = to_rgba(text.get_color(), text.get_alpha())
        key = (char, self._font_key(text), color, renderer.dpi)
        if key not in self._stamps:
            picture, offset, _ = render_once(char, text.get_fontsize(), renderer.dpi,
                                             fontproperties=text.get_fontproperties(), color=color,
                                             horizontalalignment="left", verticalalignment="baseline")
            self._stamps[key] = (picture, offset)
        return self._stamps[key]

    def _layout(self, renderer, text, lines: list[str]):
        """(each line's baseline, the text box's bottom and top), in pixels from the anchor, as
        matplotlib lays out ``lines``: a line's height depends only on its tallest and its deepest
        glyph, so matplotlib lays out those two per line once, and every label of the same shape
        reuses it."""
        probes = tuple(max(line, key=lambda c: self._metric(renderer, text, c)[1])
                       + max(line, key=lambda c: self._metric(renderer, text, c)[2]) if line else ""
                       for line in lines)
        key = (self._font_key(text), text.get_va(), probes, renderer.dpi)
        if key not in self._layouts:
            probe = Text(0, 0, "\n".join(probes), fontproperties=text.get_fontproperties(),
                         verticalalignment=text.get_va(), transform=IdentityTransform())
            probe.set_figure(self.figure)
            box, info, _ = probe._get_layout(renderer)
            baselines = [entry[-1][1] if len(entry) == 3 else entry[-1] for entry in info]  # (line, wad, xy) or (line, wh, x, y)
            self._layouts[key] = (baselines, box.y0, box.y1)
        return self._layouts[key]

    def _draw_text(self, renderer, gc, text) -> None:
        lines = text.get_text().split("\n")
        baselines, bottom, top = self._layout(renderer, text, lines)
        x, y = text.get_transform().transform(text.get_unitless_position())
        align = {"left": 0.0, "center": 0.5, "right": 1.0}[text.get_ha()]  # each line aligned at the anchor
        advances = [[self._metric(renderer, text, char)[0] for char in line] for line in lines]
        widths = [sum(a) for a in advances]
        patch = text.get_bbox_patch()
        if patch is not None:  # as Text.update_bbox_position_size, around the stamped lines
            patch.set_bounds(0.0, 0.0, max(widths), top - bottom)
            patch.set_transform(Affine2D().translate(x - align * max(widths), y + bottom))
            patch.set_mutation_scale(renderer.points_to_pixels(text.get_size()))
            patch.draw(renderer)
        for line, line_advances, width, baseline in zip(lines, advances, widths, baselines):
            pen = x - align * width
            for char, advance in zip(line, line_advances):
                picture, (dx, dy) = self._stamp(renderer, text, char)
                if picture is not None:
                    renderer.draw_image(gc, round(pen) + dx, round(y + baseline) + dy, picture)
                pen += advance

    def draw(self, renderer) -> None:
        if not self.get_visible():
            return
        gc = renderer.new_gc()
        for text in self.texts:
            if not text.get_text() or not text.get_visible():
                continue
            if "$" in text.get_text() or text.get_rotation() != 0:
                text.draw(renderer)  # matplotlib's own layout
            else:
                self._draw_text(renderer, gc, text)
        gc.restore()
        self.stale = False


class NearestImage(AxesImage):
    """An image drawn with ``interpolation="nearest"``, pixel for pixel as matplotlib draws it, at a
    fraction of the cost: the colours are worked out once per data cell, not once per screen pixel.

    Matplotlib resamples the data (or its colours) to the screen's pixels and then colours every
    pixel; a heatmap of 64 units x 48 characters fills ~40,000 pixels, so each heatmap took several
    milliseconds. With nearest-neighbour sampling every screen pixel copies one data cell, so the
    same picture is the data's colours gathered by a map of "which cell does this pixel show".
    That map depends only on the geometry (data shape, extent, axes box); it is made by
    matplotlib's own resampler, run on the cells' numbers instead of their values, and kept until
    the geometry changes. The per-value arithmetic matplotlib does (norm and colour map, or the
    premultiplied-alpha round trip, then the conversion to bytes) is done on the cells, in the same
    order, so each pixel gets the bytes matplotlib would give it. Anything else (a non-affine
    transform, an alpha array, RGB data, a norm without limits) is drawn by matplotlib as usual.
    Create one with :func:`nearest_imshow`.
    """

    def __init__(self, ax, **kwargs):
        super().__init__(ax, interpolation="nearest", **kwargs)
        self._cell_map = (None, None)  # (geometry, (out_h, out_w) index of the cell each pixel shows, 0 = none)

    def _fast_path(self) -> bool:
        A = self._A
        return (A is not None and A.ndim == 2 and A.dtype.kind == "f" and self.norm.scaled()
                and self.get_interpolation() == "nearest" and np.ndim(self.get_alpha()) == 0
                and self.get_transform().is_affine)

    def make_image(self, renderer, magnification=1.0, unsampled=False):
        if unsampled or not self._fast_path():
            return super().make_image(renderer, magnification, unsampled)
        A = self._A
        # the output box and the data -> pixel transform, as AxesImage.make_image and _make_image work them out
        x_lo, x_hi, y_lo, y_hi = self.get_extent()
        in_bbox = Bbox(np.array([[x_lo, y_lo], [x_hi, y_hi]]))
        clip = ((self.get_clip_box() or self.axes.bbox) if self.get_clip_on()
                else self.get_figure(root=True).bbox)
        clipped = Bbox.intersection(TransformedBbox(in_bbox, self.get_transform()), clip)
        if clipped is None:
            return None, 0, 0, None
        extents = clipped.extents * magnification
        x0, y0 = np.floor(extents[0] + 0.5), np.ceil(extents[1] - 0.5 - 1e-8)
        x1, y1 = np.floor(extents[2] + 0.5 + 1e-8), np.ceil(extents[3] - 0.5)
        if x1 == x0 or y1 == y0:
            return None, 0, 0, None
        t0 = Affine2D().translate(0, -A.shape[0]).scale(1, -1) if self.origin == "upper" else IdentityTransform()
        t0 = t0 + (Affine2D().scale(in_bbox.width / A.shape[1], in_bbox.height / A.shape[0])
                   .translate(in_bbox.x0, in_bbox.y0) + self.get_transform())
        t = t0 + Affine2D().scale(magnification).translate(-x0, -y0)
        out_shape = (int(y1 - y0), int(x1 - x0))
        stage = self._interpolation_stage
        if stage in ("antialiased", "auto"):
            corners = t.transform(np.array([[0, 0], [A.shape[1], A.shape[0]]]))
            per_cell = np.abs(np.diff(corners, axis=0))[0] / [A.shape[1], A.shape[0]]
            stage = "rgba" if (per_cell < 3).any() else "data"
        geometry = (A.shape, self.origin, out_shape, tuple(t.get_matrix().ravel()))
        if self._cell_map[0] != geometry:
            cells = np.arange(1, A.size + 1, dtype=float).reshape(A.shape)  # 1, 2, ...: 0 stays "no cell"
            self._cell_map = (geometry, _resample(self, cells, out_shape, t).astype(np.int32))
        colours = self._cell_colours(A, stage).view(np.uint32)[:, 0]  # one 4-byte word per cell: a fast gather
        pixels = np.take(colours, self._cell_map[1]).view(np.uint8).reshape(*out_shape, 4)
        return pixels, x0 / magnification, y0 / magnification, t

    def _cell_colours(self, A, stage: str) -> np.ndarray:
        """(1 + cells, 4) uint8: the bytes matplotlib gives a pixel outside the data (row 0) and a
        pixel showing each cell, from the same arithmetic as ``_make_image`` applied per pixel."""
        if stage == "data":  # norm and colour map of the (float64) values, then alpha x coverage
            values = np.ma.concatenate([np.ma.masked_array([0.0], [False]), np.ma.ravel(A.astype(np.float64))])
            colours = self.to_rgba(self.norm(values), bytes=True, norm=False)
            coverage = np.ones(len(values), np.float32)
            coverage[0] = 0.0  # outside the data: transparent
            colours[:, 3] = colours[:, 3].astype(np.float32) * coverage * self._get_scalar_alpha()
            return colours
        rgba = self.to_rgba(np.ma.ravel(A)[None])[0]  # (cells, 4) float
        alpha_in = rgba[:, 3]
        if (alpha_in != 1).any():  # premultiplied for the resampler, then divided again
            rgba = rgba * alpha_in[:, None]
            rgba[:, 3] = alpha_in
        rgba = np.concatenate([np.zeros((1, 4)), rgba])
        alpha_out = rgba[:, 3].copy()
        rgba /= np.where(alpha_out != 0, alpha_out, 1)[:, None]
        rgba[:, 3] = alpha_out
        if self.get_alpha() is not None:
            rgba[:, 3] *= self.get_alpha()
        return self.to_rgba(rgba[None], bytes=True, norm=False)[0]


def nearest_imshow(ax, data, *, cmap=None, vmin=None, vmax=None, origin=None, aspect=None) -> NearestImage:
    """``ax.imshow(data, interpolation="nearest", ...)`` with these arguments, as a :class:`NearestImage`
    (the same steps as ``Axes.imshow``)."""
    image = NearestImage(ax, cmap=cmap, origin=origin)
    ax.set_aspect(matplotlib.rcParams["image.aspect"] if aspect is None else aspect)
    image.set_data(data)
    image.set_alpha(None)
    image.set_clip_path(ax.patch)
    image._scale_norm(None, vmin, vmax)
    image.set_extent(image.get_extent())
    ax.add_image(image)
    return image
