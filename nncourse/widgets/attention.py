"""Widgets of notebook 08: what attention heads look at, and what positional encodings look like.

* :class:`AttentionExplorer` - type a text (or a digit sequence) and see the attention weights
  of every layer and head of a small trained model: a thumbnail per (layer, head), the selected
  head large as a (query x key) heatmap, and one query's weights as bars over the keys. The
  *causal mask* box recomputes the weights with or without the mask, so the upper triangle
  (queries looking at later keys) appears or vanishes.
* :class:`PositionalEncodingWidget` - the sinusoidal matrix PE (positions x dimensions), the
  dot-product similarity between positions, and one position's similarity to all others, with
  sliders for d_model and the maximum length.

The explorer works with any model through a function ``attend(text, causal) -> (tokens,
weights)`` with weights (layers, heads, T, T); :func:`gpt_attention` and
:func:`sequential_attention` build it for the PyTorch GPT and for a NumPy ``Sequential``.
"""
from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import matplotlib
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import ScaledTranslation

from ..attention import causal_mask
from ..plotting import CLASS_COLORS
from ..rnn import _one_blas_thread
from ..transformer import sinusoidal_positional_encoding
from .base import FigureWidget
from .drawing import Backdrop, StampedText, StampedTicks, nearest_imshow

Attend = Callable[[str, bool], tuple[list[str], np.ndarray]]


def token_label(token: str) -> str:
    """A visible tick label: '␣' for a space, '\\n' for a newline, '$' escaped from mathtext."""
    return {" ": "␣", "\n": "\\n", "\t": "\\t", "$": r"\$"}.get(token, token)


# --- adapters: model -> attend(text, causal) ----------------------------------------------------

def gpt_attention(model, vocab, *, device=None) -> Attend:
    """``attend`` for a :class:`nncourse.at_scale.gpt.GPT` and its character vocabulary.

    Returns weights (n_layer, n_head, T, T) from ``model.attention_maps`` (the explicit
    mask-and-softmax path). ``causal=False`` lifts the mask the GPT was trained with.
    """
    import torch

    def attend(text: str, causal: bool):
        ids = torch.as_tensor(vocab.encode(text), dtype=torch.long)[None]  # (1, T)
        ids = ids.to(device or next(model.parameters()).device)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # (T, n_embd) matrices: a second thread only waits (seconds on a busy machine)
        try:
            with torch.no_grad():                                        # no graph for backward
                maps = model.attention_maps(ids, causal=causal)          # (L, 1, H, T, T)
        finally:
            torch.set_num_threads(threads)
        return list(text), maps[:, 0].float().cpu().numpy()              # (L, H, T, T)

    return attend


def sequential_attention(model, encode: Callable[[str], np.ndarray]) -> Attend:
    """``attend`` for a NumPy ``Sequential`` holding TransformerBlock / MultiHeadAttention layers
    (any layer with an ``attention_weights`` attribute and a ``forward(x, mask=)``).

    ``encode(text)`` turns the text into the model's input (1, T, features), raising
    ``ValueError`` for text the model cannot read. ``causal=True`` adds the causal mask to every
    attention layer (whatever the layer was built with).
    """

    def attend(text: str, causal: bool):
        x = encode(text)
        mask = causal_mask(x.shape[1]) if causal else None
        maps = []
        for layer in model:
            if hasattr(layer, "attention_weights"):
                x = layer.forward(x, mask=mask)
                maps.append(layer.attention_weights[0])                 # (H, T, T)
            else:
                x = layer.forward(x)
        if not maps:
            raise ValueError("the model has no TransformerBlock or MultiHeadAttention layer to show")
        return list(text), np.stack(maps)                               # (L, H, T, T)

    return attend


# --- the attention explorer ---------------------------------------------------------------------

class AttentionExplorer(FigureWidget):
    """Text box, layer and head menus, query slider, causal-mask box.

    ``attend(text, causal) -> (tokens, weights (L, H, T, T))``. After each change ``weights``
    holds the current weights, ``tokens`` the tokens, and the figure shows
    ``weights[layer, head]`` with row ``query`` as bars. Text longer than ``max_tokens`` is cut.
    """

    def __init__(self, attend: Attend, text: str, *, causal: bool = True, max_tokens: int = 40,
                 title: str = "attention"):
        super().__init__(figsize=(11, 4.8))  # tall enough for a readable label on each of 32 rows
        if not callable(attend):
            raise TypeError(f"attend must be a function attend(text, causal) -> (tokens, weights), "
                            f"got {type(attend).__name__}")
        self.attend, self.max_tokens, self.title = attend, int(max_tokens), title
        self.tokens, self.weights = self._compute(text, causal)  # a bad initial text is the caller's bug
        n_layers, n_heads, length, _ = self.weights.shape
        self._computed_for = (text[: self.max_tokens], causal)

        self.text = widgets.Text(value=text, description="text", continuous_update=False,
                                 layout=widgets.Layout(width="420px"))
        self.causal = widgets.Checkbox(value=causal, description="causal mask", indent=False)
        self.layer = widgets.Dropdown(options=[(f"layer {i}", i) for i in range(n_layers)], value=0,
                                      description="layer", layout=widgets.Layout(width="170px"))
        self.head = widgets.Dropdown(options=[(f"head {i}", i) for i in range(n_heads)], value=0,
                                     description="head", layout=widgets.Layout(width="170px"))
        self.query = widgets.IntSlider(value=length - 1, min=0, max=length - 1, description="query",
                                       continuous_update=True)
        self.controls = widgets.VBox([widgets.HBox([self.text, self.causal]),
                                      widgets.HBox([self.layer, self.head, self.query]), self.status])
        self.observe(self.text, self.causal, self.layer, self.head, self.query)

        grid = self.fig.add_gridspec(1, 3, width_ratios=[0.75, 1.25, 1.35], wspace=0.3,
                                     left=0.04, right=0.98, bottom=0.14, top=0.89)
        # Every (layer, head) thumbnail in one image, a mosaic with transparent gaps: one artist to
        # draw instead of layers x heads axes, so it can be redrawn on every update.
        self.ax_thumbs = self.fig.add_subplot(grid[0])
        self.ax_thumbs.set_axis_off()
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
        self.thumbs = nearest_imshow(self.ax_thumbs, np.zeros((1, 1)), vmin=0, vmax=1, cmap=cmap, aspect="auto")
        # fixed offsets in points: a fraction of a wide one-head thumbnail fell off the figure. The
        # labels sit on the axes' edge and are stamped (StampedText): laid out by matplotlib they
        # were a sixth of the refresh after a new text
        def offset(dx, dy):  # ``dx``, ``dy`` points from a point in data coordinates
            return self.ax_thumbs.transData + ScaledTranslation(dx / 72, dy / 72, self.fig.dpi_scale_trans)

        self.layer_labels = [self.ax_thumbs.text(0, 0, f"L{i}", transform=offset(-3, 0), fontsize=8, ha="right",
                                                 va="center", clip_on=False) for i in range(n_layers)]
        self.head_labels = [self.ax_thumbs.text(0, 0, f"h{h}", transform=offset(0, 2), fontsize=8, ha="center",
                                                va="bottom", clip_on=False) for h in range(n_heads)]
        self.thumb_labels = [StampedText(label, axes=self.ax_thumbs) for label in self.layer_labels + self.head_labels]
        self.selected = Rectangle((0, 0), 0, 0, fill=False, edgecolor="red", linewidth=2, zorder=10)
        self.ax_thumbs.add_patch(self.selected)

        self.ax_heat = self.fig.add_subplot(grid[1])
        # both images are coloured per cell, not per screen pixel (NearestImage)
        self.heat = nearest_imshow(self.ax_heat, self.weights[0, 0], vmin=0, vmax=1, cmap="viridis", aspect="auto")
        self.row = Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor="red", linewidth=1.5)
        self.ax_heat.add_patch(self.row)
        self.ax_heat.set_xlabel("key (attended to)")
        self.ax_heat.set_ylabel("query (attending)")
        self.ax_heat.set_title(" ", fontsize=10)
        colorbar = self.fig.colorbar(self.heat, ax=self.ax_heat, fraction=0.05, pad=0.02)
        colorbar.ax.tick_params(labelsize=7)

        self.ax_bar = self.fig.add_subplot(grid[2])
        # one collection of rectangles (one artist) draws much faster than 40 separate bars
        self.bars = PolyCollection([], facecolors=CLASS_COLORS[1], edgecolors="none")
        self.ax_bar.add_collection(self.bars)
        self.ax_bar.set_ylim(0, 1)
        self.ax_bar.set_ylabel("attention weight")
        self.ax_bar.set_xlabel("key")
        self.ax_bar.set_title(" ", fontsize=10)
        self.fig.suptitle(title, fontsize=11)
        self.token_ticks = {"heat x": StampedTicks(self.ax_heat, "x", family="monospace"),
                            "heat y": StampedTicks(self.ax_heat, "y", family="monospace"),
                            "bar x": StampedTicks(self.ax_bar, "x", family="monospace")}
        # The heatmap, the bars and the titles are animated. A new text changes the thumbnails and
        # their labels, the token labels and where the axis labels sit: those are repainted over
        # the rest of the figure (not a full redraw); the causal box repaints the thumbnails alone.
        # The axes' own ticks are off (StampedTicks draws them): of each axis only its label is
        # repainted, not the whole Axis (which would work out ticks it no longer draws).
        self.axis_labels = [StampedText(axis.label, axes=axis.axes)
                            for axis in (self.ax_heat.xaxis, self.ax_heat.yaxis, self.ax_bar.xaxis)]
        self._per_text = Backdrop(self, [self.thumbs, *self.thumb_labels,
                                         *self.token_ticks.values(), *self.axis_labels])
        self._set_layout_for_tokens()
        self.thumbs.set_data(self.mosaic())
        self.titles = [StampedText(self.ax_heat.title), StampedText(self.ax_bar.title)]
        self.animate(self.heat, self.row, self.bars, *self.titles, self.selected)
        self.update()

    # --- state -----------------------------------------------------------------------------
    def _compute(self, text: str, causal: bool):
        if not isinstance(text, str) or not text:
            raise ValueError(f"text must be a non-empty str, got {text!r}")
        tokens, weights = self.attend(text[: self.max_tokens], bool(causal))
        weights = np.asarray(weights, dtype=float)
        if weights.ndim != 4 or weights.shape[2:] != (len(tokens), len(tokens)):
            raise ValueError(f"attend must return weights (layers, heads, T, T) for its {len(tokens)} tokens, "
                             f"got shape {weights.shape}")
        return list(tokens), weights

    def _set_layout_for_tokens(self):
        """Token labels, limits and the thumbnails' layout for the current tokens (repainted over
        the rest of the figure: see ``_per_text``)."""
        length = len(self.tokens)
        labels = [token_label(t) for t in self.tokens]
        size = 8 if length <= 24 else 7 if length <= 32 else 6
        for ax in (self.ax_heat, self.ax_bar):
            ax.set_xlim(-0.5, length - 0.5)
        self.ax_heat.set_ylim(length - 0.5, -0.5)
        for ticks in self.token_ticks.values():
            ticks.set_labels(labels, fontsize=size)
        self.heat.set_extent((-0.5, length - 0.5, length - 0.5, -0.5))
        n_layers, n_heads = self.weights.shape[:2]
        step = length + self._gap()
        height, width = n_layers * step - self._gap(), n_heads * step - self._gap()
        self.thumbs.set_extent((-0.5, width - 0.5, height - 0.5, -0.5))
        self.ax_thumbs.set_xlim(-0.5, width - 0.5)
        self.ax_thumbs.set_ylim(height - 0.5, -0.5)
        for i, label in enumerate(self.layer_labels):
            label.set_position((-0.5, i * step + (length - 1) / 2))
        for h, label in enumerate(self.head_labels):
            label.set_position((h * step + (length - 1) / 2, -0.5))
        self.row.set_width(length)
        with self.quietly():
            self.query.max = length - 1
            self.query.value = min(self.query.value, length - 1)

    def _gap(self) -> int:
        """Cells of empty space between two thumbnails (about an eighth of a thumbnail)."""
        return max(1, len(self.tokens) // 8)

    def mosaic(self) -> np.ndarray:
        """Every head's weights in one (layers x heads) grid of T x T blocks, NaN (transparent) between."""
        n_layers, n_heads, length, _ = self.weights.shape
        step = length + self._gap()
        grid = np.full((n_layers * step - self._gap(), n_heads * step - self._gap()), np.nan)
        for i in range(n_layers):
            for h in range(n_heads):
                grid[i * step:i * step + length, h * step:h * step + length] = self.weights[i, h]
        return grid

    def thumbnail(self, layer: int, head: int) -> np.ndarray:
        """The block of the mosaic that shows ``weights[layer, head]``."""
        length, step = len(self.tokens), len(self.tokens) + self._gap()
        block = np.asarray(self.thumbs.get_array())
        return block[layer * step:layer * step + length, head * step:head * step + length]

    # --- drawing ---------------------------------------------------------------------------
    def update(self):
        wanted = (self.text.value[: self.max_tokens], self.causal.value)
        if wanted != self._computed_for:
            try:
                tokens, weights = self._compute(self.text.value, self.causal.value)
            except ValueError as err:
                self.status.value = f"<span style='color:#c00'>Cannot read this text: {err}</span>"
                return
            new_tokens = tokens != self.tokens
            self.tokens, self.weights, self._computed_for = tokens, weights, wanted
            self.thumbs.set_data(self.mosaic())
            if new_tokens:
                self._set_layout_for_tokens()
                self._per_text.repaint()
            else:
                self.repaint(self.thumbs)  # the causal box: only the thumbnails' pixels change
        layer, head, query = self.layer.value, self.head.value, self.query.value
        current = self.weights[layer, head]
        self.heat.set_data(current)
        self.row.set_y(query - 0.5)
        self.bars.set_verts([[(i - 0.4, 0), (i - 0.4, w), (i + 0.4, w), (i + 0.4, 0)]
                             for i, w in enumerate(current[query])])
        length, step = len(self.tokens), len(self.tokens) + self._gap()
        self.selected.set_bounds(head * step - 0.5, layer * step - 0.5, length, length)
        self.ax_heat.set_title(f"layer {layer}, head {head}" + (" (causal)" if self.causal.value else ""),
                               fontsize=10)
        token = token_label(self.tokens[query])
        top = int(np.argmax(current[query]))
        self.ax_bar.set_title(f"query {query} '{token}' attends to ...", fontsize=10)
        self.status.value = (f"{len(self.tokens)} tokens. Query {query} ('{token}') in layer {layer}, head {head} "
                             f"puts {current[query, top]:.0%} of its attention on key {top} "
                             f"('{token_label(self.tokens[top])}').")


# --- positional encoding ------------------------------------------------------------------------

class PositionalEncodingWidget(FigureWidget):
    """Sliders for d_model, max length and a position p.

    Left: PE (max_len, d_model), red positive, blue negative. Middle: similarity
    PE PE^T / (d_model / 2) between positions (1 on the diagonal). Right: row p of the
    similarity - how alike position p is to every other position. Because
    PE_p . PE_q = sum_i cos((p - q) w_i), that row depends only on the distance p - q.
    """

    def __init__(self, d_model: int = 64, max_len: int = 100, position: int = 20):
        super().__init__(figsize=(11, 3.8))
        self.d_model = widgets.IntSlider(value=d_model, min=2, max=256, step=2, description="d_model",
                                         continuous_update=False)
        self.max_len = widgets.IntSlider(value=max_len, min=4, max=256, description="max length",
                                         continuous_update=False)
        self.position = widgets.IntSlider(value=min(position, max_len - 1), min=0, max=max_len - 1,
                                          description="position p")
        self.controls = widgets.VBox([widgets.HBox([self.d_model, self.max_len, self.position]), self.status])
        self.observe(self.d_model, self.max_len, self.position)

        self.ax_pe, self.ax_sim, self.ax_row = self.fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.2]})
        self.pe_image = self.ax_pe.imshow(np.zeros((2, 2)), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto",
                                          interpolation="nearest")
        self.ax_pe.set_xlabel("dimension")
        self.ax_pe.set_ylabel("position")
        self.ax_pe.set_title("sinusoidal encoding PE", fontsize=10)
        self.sim_image = self.ax_sim.imshow(np.zeros((2, 2)), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto",
                                            interpolation="nearest")
        self.ax_sim.set_xlabel("position q")
        self.ax_sim.set_ylabel("position p")
        self.ax_sim.set_title("similarity PE$_p$·PE$_q$ / (d/2)", fontsize=10)
        colorbar = self.fig.colorbar(self.sim_image, ax=self.ax_sim, fraction=0.05, pad=0.02)
        colorbar.ax.tick_params(labelsize=7)
        (self.pe_marker,) = self.ax_pe.plot([], [], color="k", lw=1)
        (self.sim_marker,) = self.ax_sim.plot([], [], color="k", lw=1)
        (self.row_line,) = self.ax_row.plot([], [], color=CLASS_COLORS[1], lw=1.5)
        self.row_point = self.ax_row.axvline(0, color=CLASS_COLORS[0], lw=1, ls="--")
        self.ax_row.axhline(0, color="0.6", lw=0.8)
        self.ax_row.set_ylim(-1.05, 1.05)
        self.ax_row.set_xlabel("position q")
        self.ax_row.set_ylabel("similarity to p")
        self.ax_row.set_title(" ", fontsize=10)
        self.fig.tight_layout()
        self.row_title = StampedText(self.ax_row.title)
        self.animate(self.pe_image, self.sim_image, self.pe_marker, self.sim_marker, self.row_line,
                     self.row_point, self.row_title)
        # d_model and the length change the axes' ranges: their ticks and the axis labels (which
        # move with the tick labels' width) are repainted over the rest of the figure (not a full
        # redraw); the labels alone, not the Axis artists, whose own ticks StampedTicks replaces.
        # The five axis labels are stamped: laid out by matplotlib on each repaint they cost a
        # quarter of the refresh.
        for axis in (self.ax_pe.xaxis, self.ax_pe.yaxis, self.ax_sim.xaxis, self.ax_sim.yaxis, self.ax_row.xaxis):
            axis.set_major_locator(MaxNLocator(nbins="auto", integer=True))  # whole positions and dimensions
        self.ticks = [StampedTicks(ax, which) for ax in (self.ax_pe, self.ax_sim) for which in "xy"]
        self.ticks.append(StampedTicks(self.ax_row, "x"))
        self.axis_labels = [StampedText(ticks.axis.label, axes=ticks.ax) for ticks in self.ticks]
        self._per_shape = Backdrop(self, [*self.ticks, *self.axis_labels])
        self._shape = None
        self.update()

    def update(self):
        d_model, max_len = self.d_model.value, self.max_len.value
        if self.position.max != max_len - 1:
            with self.quietly():
                self.position.max = max_len - 1
        p = min(self.position.value, max_len - 1)
        if self._shape != (max_len, d_model):
            shown_before = self._shape is not None
            self._shape = (max_len, d_model)
            self.encoding = sinusoidal_positional_encoding(max_len, d_model)      # (max_len, d)
            with _one_blas_thread():  # at most 256 x 256: a second BLAS thread only spins (and busies a core)
                self.similarity = self.encoding @ self.encoding.T / (d_model / 2)  # (max_len, max_len)
            self.pe_image.set_data(self.encoding)
            self.pe_image.set_extent((-0.5, d_model - 0.5, max_len - 0.5, -0.5))
            self.sim_image.set_data(self.similarity)
            self.sim_image.set_extent((-0.5, max_len - 0.5, max_len - 0.5, -0.5))
            self.ax_pe.set_xlim(-0.5, d_model - 0.5)
            for ax in (self.ax_pe, self.ax_sim):
                ax.set_ylim(max_len - 0.5, -0.5)
            self.ax_sim.set_xlim(-0.5, max_len - 0.5)
            self.ax_row.set_xlim(0, max_len - 1)
            for ticks in self.ticks:
                ticks.follow_locator()
            if shown_before:
                self._per_shape.repaint()
        self.pe_marker.set_data([-0.5, d_model - 0.5], [p, p])
        self.sim_marker.set_data([-0.5, max_len - 0.5], [p, p])
        self.row_line.set_data(np.arange(max_len), self.similarity[p])
        self.row_point.set_xdata([p, p])
        neighbour = self.similarity[p, p + 1] if p + 1 < max_len else self.similarity[p, p - 1]
        self.ax_row.set_title(f"row p = {p}", fontsize=10)
        self.status.value = (f"d_model = {d_model}, {max_len} positions. Position {p} vs a neighbour: "
                             f"{neighbour:.3f}; vs the least similar position: {self.similarity[p].min():.3f}.")
