"""The one small base every course widget shares: controls + a matplotlib figure + ``update()``.

How it works, and why:

* The figure is a plain ``matplotlib.figure.Figure`` on the Agg canvas (no pyplot, so nothing
  is shown twice and no global state leaks between widgets).
* Displaying the widget shows the controls (core ipywidgets only: they work in JupyterLab 4,
  Colab and Voila without front-end extensions) and, below them, the figure as a PNG output
  with a *display id*. When a control changes, ``update()`` changes the existing artists
  (``set_data``, ``set_offsets``, ...), the figure is rendered once, and the same output is
  replaced in place with ``DisplayHandle.update`` - no figure rebuilt, no output cleared, so
  no flicker.
* Speed: drawing a whole figure costs 30-60 ms (mostly text). Artists that change on every
  update can be registered with ``self.animate(artist, ...)``: the rest of the figure is drawn
  once into a cached background and each refresh only draws the animated artists on top of it
  (matplotlib's blitting). Call ``self.invalidate()`` after changing anything static (axis
  limits, labels) so the background is redrawn on the next refresh.
* Executed headless (nbval, nbconvert, a static site build), the notebook keeps that PNG
  output: a static picture of the widget's initial state.
* Memory: ipywidgets keeps every widget in a kernel-wide registry until ``close()`` is called, and
  the controls' callbacks keep the whole widget (figure, data, model) alive with them. ``close()``
  frees a widget; re-running the cell that displayed a widget closes the one its previous run
  displayed (where the front end says which cell runs: JupyterLab, Notebook 7, VS Code), so
  re-running cells on a 1-2 GB Binder machine does not pile up old figures and models.

Subclasses build ``self.controls`` and their artists, call ``self.observe(...)`` on the
controls that should redraw (or run a handler), and implement ``update()``. Two ways to change
controls from code:

* ``with self.hold():`` - change several controls, redraw once at the end;
* ``with self.quietly():`` - change controls without anything reacting: no refresh and no
  ``observe(..., handler=)`` handler runs for changes made inside (e.g. fitting a slider's range
  inside ``update()``, or showing settings on the controls that the code has already applied).
"""
from __future__ import annotations

import io
import struct
import time
import weakref
import zlib
from contextlib import contextmanager

import ipywidgets as widgets
import numpy as np
from IPython.display import Image, display
from PIL import Image as PILImage
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# cell id -> (id of the run that displayed them, the widgets it displayed); see FigureWidget.close
_DISPLAYED_BY_CELL: dict[str, tuple[str, list]] = {}


def _current_cell() -> tuple[str | None, str | None]:
    """(cell id, id of this execution) of the cell being run, or (None, None) when the front end does
    not say (plain Python, nbval, Colab)."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent() if kernel is not None and hasattr(kernel, "get_parent") else None
    except Exception:  # no kernel, or an ipykernel without get_parent: no automatic clean-up
        return None, None
    if not parent:
        return None, None
    return parent.get("metadata", {}).get("cellId"), parent.get("header", {}).get("msg_id")


def _rgb(rgba: np.ndarray) -> PILImage.Image:
    """The canvas's pixels (H, W, 4) as an RGB picture: read in place and converted in C (slicing
    off alpha first makes PIL copy the strided array byte by byte, ~4 ms a frame)."""
    height, width = rgba.shape[:2]
    return PILImage.frombuffer("RGBA", (width, height), np.ascontiguousarray(rgba), "raw", "RGBA", 0, 1).convert("RGB")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(rgba: np.ndarray) -> bytes:
    """The canvas's pixels (H, W, 4) uint8 as an RGB PNG, written directly: every row with filter 0
    ("None") and zlib at level 1. PIL tries all five PNG row filters on every row, which is most of
    its encoding time; on a plot (flat colours, thin lines) "None" compresses as well - a 720 x 320
    figure encodes in about half of PIL's time, to a file no larger. Alpha is dropped by PIL in C
    (:func:`_rgb`): NumPy's copy of the strided ``rgba[..., :3]`` moves 3 bytes at a time."""
    height, width = rgba.shape[:2]
    rows = np.empty((height, 1 + 3 * width), np.uint8)  # each row: its filter byte (0), then R G B ...
    rows[:, 0] = 0
    rows[:, 1:] = np.asarray(_rgb(rgba)).reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits per channel, RGB
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + _png_chunk(b"IEND", b""))


def _child_widgets(value, found: dict[int, widgets.Widget]) -> None:
    """Collect every ipywidget reachable from ``value``: through a widget's synced traits (children,
    and the ``layout``/``style`` objects that are widgets too), lists, tuples and dicts."""
    if isinstance(value, widgets.Widget):
        if id(value) in found:
            return
        found[id(value)] = value
        for name in value.keys:
            _child_widgets(getattr(value, name, None), found)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            _child_widgets(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _child_widgets(item, found)


class FigureWidget:
    """Controls + one figure + ``update()``; see the module docstring."""

    # "png" (crisp lines and text) or "jpeg" (for large, smooth pictures redrawn many times a
    # second, like the Playground's heatmaps: about 2x smaller and 10x faster to encode).
    image_format = "png"

    def __init__(self, figsize=(9, 4), dpi: int = 80):
        self.fig = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self.fig)
        self.controls: widgets.Widget | None = None  # set by the subclass (a VBox of its controls)
        self.status = widgets.HTML()  # a line of text under the controls, if a subclass uses it
        self.below: widgets.Widget | None = None  # shown under the picture, if a subclass sets it
        self.update_seconds: list[float] = []  # kernel-side time of each refresh (benchmarks)
        self._handle = None
        self._held = 0   # > 0 inside hold(): refresh once at the end
        self._quiet = 0  # > 0 inside quietly(): changes made there trigger nothing
        self._animated: list = []
        self._background = None  # cached render of everything not animated
        self._repaint: list = []  # static artists changed in place, to paint into that cache
        self.closed = False

    # --- for subclasses --------------------------------------------------------------------
    def update(self) -> None:
        """Change the existing artists to match the controls. Do not create new figures."""
        raise NotImplementedError

    def observe(self, *controls: widgets.Widget, names: str = "value", handler=None) -> None:
        """Whenever any of ``controls`` changes: refresh the picture, or call ``handler(change)``
        instead (a handler that changes settings refreshes itself). Neither happens for changes
        made inside :meth:`quietly`."""
        callback = self._on_change if handler is None else self._quiet_guard(handler)
        for control in controls:
            control.observe(callback, names=names)

    def animate(self, *artists) -> None:
        """Mark artists that change on (almost) every update: they are drawn over a cached background,
        in z-order among themselves (so anything that must appear above an animated artist must be
        animated too)."""
        for artist in artists:
            artist.set_animated(True)
            self._animated.append(artist)
        self._animated.sort(key=lambda a: a.get_zorder())
        self.invalidate()

    def invalidate(self) -> None:
        """Something static changed (limits, labels, a new artist): redraw everything next time."""
        self._background = None

    def repaint(self, *artists) -> None:
        """Static artists whose pixels changed but not their place or size (new data in an image of
        the same extent): next time, paint them over the cached background instead of redrawing
        everything. They must cover what they covered before (an opaque image does), and nothing
        static may be drawn over them (spines, other artists): they are painted last. The
        attention explorer's thumbnails (an image in axes with the axis off) are the example."""
        self._repaint.extend(artists)

    @contextmanager
    def hold(self):
        """Change several controls and redraw once at the end (not once per control)."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        if not self._held and not self._quiet:
            self.refresh()

    @contextmanager
    def quietly(self):
        """Change controls without triggering anything: no refresh, no ``observe(..., handler=)``
        handler, for every change made inside (from ``update()`` or from code). Nests; the
        widget reacts normally again when the outermost block ends, even if it raised.

            with self.quietly():
                self.position.max = max_len - 1   # inside update(): no second refresh
        """
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    @property
    def quiet(self) -> bool:
        """True inside :meth:`quietly` (for handlers attached with ``control.observe`` directly)."""
        return self._quiet > 0

    # --- machinery -------------------------------------------------------------------------
    def _on_change(self, change=None) -> None:
        if not self._held and not self._quiet:
            self.refresh()

    def _quiet_guard(self, handler):
        def guarded(change):
            if not self._quiet and not self.closed:
                handler(change)
        return guarded

    def refresh(self) -> None:
        """Run ``update()`` and replace the displayed picture."""
        if self.closed:
            return
        start = time.perf_counter()
        self.update()
        if self._handle is not None:
            self._handle.update(self._image())  # same format as displayed: the browser swaps the picture in place
        else:
            self.encode()  # not displayed (tests, benchmarks): render anyway so timings stay honest
        self.update_seconds.append(time.perf_counter() - start)

    def render(self) -> np.ndarray:
        """Draw the figure (blitting the animated artists) and return its pixels (H, W, 4) uint8."""
        canvas = self.fig.canvas
        if not self._animated:
            canvas.draw()  # nothing registered for blitting: draw everything every time
            return np.asarray(canvas.buffer_rgba())
        if self._background is None:
            canvas.draw()  # animated artists are skipped here ...
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(self._background)
            if self._repaint:
                for artist in self._repaint:
                    self.fig.draw_artist(artist)
                self._background = canvas.copy_from_bbox(self.fig.bbox)
        self._repaint.clear()
        for artist in self._animated:  # ... and drawn on top of the cached background
            if artist.get_visible():
                self.fig.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())

    def encode(self) -> bytes:
        """The current picture in ``image_format``: the bytes sent to the browser on every update."""
        if self.image_format != "jpeg":
            return self.to_png()
        buffer = io.BytesIO()
        _rgb(self.render()).save(buffer, format="jpeg", quality=90)
        return buffer.getvalue()

    def to_png(self) -> bytes:
        """The current picture as PNG bytes, whatever ``image_format`` is."""
        return png_bytes(self.render())

    def _image(self) -> Image:
        return Image(data=self.encode(), format=self.image_format)

    def _ipython_display_(self) -> None:
        if self.closed:
            raise RuntimeError(f"this {type(self).__name__} was closed (close(), or its cell was re-run): "
                               "create a new one to display it")
        self._close_previous_run_of_this_cell()
        self.update()
        if self.controls is None:
            self.controls = widgets.VBox()
        display(self.controls)
        self._handle = display(self._image(), display_id=True)
        if self.below is not None:  # e.g. text the browser lays out, under the picture
            display(self.below)

    def close(self) -> None:
        """Free the widget: close every ipywidget it made (their views disappear from the page) and
        release the figure. Safe to call twice; a closed widget no longer reacts or displays."""
        if self.closed:
            return
        self.closed = True
        found: dict[int, widgets.Widget] = {}
        _child_widgets([self.controls, self.status, list(vars(self).values())], found)
        for widget in found.values():
            widget.close()
        self.fig.clear()
        self._animated.clear()
        self._background = None
        self._repaint.clear()
        self._handle = None

    def _close_previous_run_of_this_cell(self) -> None:
        cell, run = _current_cell()
        if cell is None:
            return
        previous_run, shown = _DISPLAYED_BY_CELL.get(cell, (None, []))
        if previous_run != run:  # the cell runs again: what its last run displayed is unreachable now
            for ref in shown:
                widget = ref()
                if widget is not None and widget is not self:
                    widget.close()
            shown = []
        shown.append(weakref.ref(self))
        _DISPLAYED_BY_CELL[cell] = (run, shown)

    def show(self) -> "FigureWidget":
        """Display the widget (same as leaving it as the last expression of a cell)."""
        self._ipython_display_()
        return self
