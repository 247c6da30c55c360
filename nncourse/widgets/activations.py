"""Widgets of notebook 02: the Activation explorer and Deep signal propagation.

* :class:`ActivationExplorer` - pick activations, see f and f' on one x range, and move the
  distribution of the inputs (mean, spread): the bars show what fraction of units are
  saturated (sigmoid, tanh) or inactive (ReLU, x < 0) and the mean gradient f'(x) they pass back.
* :class:`SignalPropagation` - depth, width, activation and initialisation of a deep stack ->
  per-layer activation histograms and per-layer gradient norms on a log scale
  (numbers from :func:`nncourse.initializers.signal_propagation`).
"""
from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import PowerNorm
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

from .. import activations
from ..activations import SATURATION_THRESHOLD, input_statistics  # noqa: F401 (re-exported)
from ..initializers import SCHEMES, signal_propagation, verdict  # noqa: F401 (re-exported)
from ..rnn import _one_blas_thread
from .base import FigureWidget
from .drawing import StampedText

EXPLORER_ACTIVATIONS = ["step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus",
                        "linear"]
_COLORS = dict(zip(EXPLORER_ACTIVATIONS, colormaps["tab10"].colors))


class ActivationExplorer(FigureWidget):
    """Left: f(x); middle: f'(x), both with the input distribution shaded; right: per activation,
    the fraction of inputs on which a unit is saturated or inactive, and the mean gradient passed back."""

    X_RANGE = (-6.0, 6.0)

    def __init__(self, selected=("sigmoid", "tanh", "relu", "gelu"), mean: float = 0.0, spread: float = 1.0):
        super().__init__(figsize=(11.5, 3.8))
        selected = [activations.get(name).name for name in selected]
        unknown = [n for n in selected if n not in EXPLORER_ACTIVATIONS]
        if unknown:
            raise ValueError(f"activations must be among {EXPLORER_ACTIVATIONS}, got {unknown}")
        self.choice = widgets.SelectMultiple(options=EXPLORER_ACTIVATIONS, value=tuple(selected),
                                             rows=len(EXPLORER_ACTIVATIONS),  # all in view: none selected out of sight
                                             description="activations")
        label = {"description_width": "95px"}  # the default 80px cut "input spread" short
        self.mean = widgets.FloatSlider(value=mean, min=-5, max=5, step=0.1, description="input mean",
                                        readout_format=".1f", style=label)
        self.spread = widgets.FloatSlider(value=spread, min=0.1, max=5, step=0.1, description="input spread",
                                          readout_format=".1f", style=label)
        self.controls = widgets.VBox([widgets.HBox([self.choice, widgets.VBox([self.mean, self.spread])]),
                                      self.status])
        self.observe(self.choice, self.mean, self.spread)

        self.ax_f, self.ax_df, self.ax_bar = self.fig.subplots(
            1, 3, gridspec_kw={"width_ratios": [1, 1, 0.9]})
        self.x = np.linspace(*self.X_RANGE, 481)
        self.f_lines, self.df_lines = {}, {}
        for name in EXPLORER_ACTIVATIONS:
            act = activations.get(name)
            (self.f_lines[name],) = self.ax_f.plot(self.x, act.forward(self.x), color=_COLORS[name], lw=2,
                                                   label=name)
            (self.df_lines[name],) = self.ax_df.plot(self.x, act.grad(self.x), color=_COLORS[name], lw=2)
        self.densities = [ax.fill_between(self.x, 0, 0, color="0.6", alpha=0.3, lw=0, zorder=0)
                          for ax in (self.ax_f, self.ax_df)]
        self.ax_f.set(xlim=self.X_RANGE, ylim=(-1.5, 4.0), title="f(x)", xlabel="x")
        self.ax_df.set(xlim=self.X_RANGE, ylim=(-0.25, 1.25), title="f'(x)   (shaded: the inputs x)", xlabel="x")
        for ax in (self.ax_f, self.ax_df):
            ax.axhline(0, color="0.7", lw=0.8, zorder=0)
            ax.axvline(0, color="0.7", lw=0.8, zorder=0)

        # Right panel: one row per selected activation, two bars each; rows are reused, not rebuilt.
        slots = len(EXPLORER_ACTIVATIONS)
        rows = np.arange(slots, dtype=float)
        self.sat_bars = self.ax_bar.barh(rows - 0.19, np.zeros(slots), height=0.36, color="0.3",
                                         label="fraction saturated or inactive")
        self.grad_bars = self.ax_bar.barh(rows + 0.19, np.zeros(slots), height=0.36, color="0.3", alpha=0.4,
                                          label="mean gradient passed back, E[f'(x)]")
        text = dict(va="center", fontsize=7.5)
        self.sat_texts = [self.ax_bar.text(0, r - 0.19, "", **text) for r in rows]  # y axis inverted: on top
        self.grad_texts = [self.ax_bar.text(0, r + 0.19, "", **text) for r in rows]
        # Names as animated text left of the bars (not tick labels, which live in the cached background).
        self.name_texts = [self.ax_bar.text(-0.05, r, "", ha="right", va="center", fontsize=10) for r in rows]
        self.ax_bar.set(xlim=(-0.7, 1.35), yticks=[], xticks=[0, 0.5, 1], title=f"inputs with |f'(x)| < {SATURATION_THRESHOLD:g} (dark), mean f' (light)")
        self.ax_bar.title.set_fontsize(9)
        self.ax_bar.axvline(0, color="0.5", lw=0.8)
        self.ax_bar.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=7.5, frameon=False, ncol=1)
        self._rows_shown = None
        self.fig.tight_layout()
        self.animate(*self.densities, *self.f_lines.values(), *self.df_lines.values(), *self.sat_bars,
                     *self.grad_bars, *self.sat_texts, *self.grad_texts, *self.name_texts)
        self.stats: dict[str, dict[str, float]] = {}
        self.update()

    def update(self):
        chosen = list(self.choice.value)
        mean, spread = self.mean.value, self.spread.value
        for name in EXPLORER_ACTIVATIONS:
            self.f_lines[name].set_visible(name in chosen)
            self.df_lines[name].set_visible(name in chosen)
        pdf = np.exp(-0.5 * ((self.x - mean) / spread) ** 2)  # shape only: peak scaled to the axes
        for poly, top in zip(self.densities, (3.0, 1.0)):
            verts = np.concatenate([np.column_stack([self.x, top * pdf]),
                                    np.column_stack([self.x[::-1], np.zeros_like(self.x)])])
            poly.set_verts([verts])
        self.stats = {name: input_statistics(name, mean, spread) for name in chosen}
        for slot in range(len(EXPLORER_ACTIVATIONS)):
            bars, texts = (self.sat_bars[slot], self.grad_bars[slot]), (self.sat_texts[slot], self.grad_texts[slot])
            if slot >= len(chosen):
                for artist in (*bars, *texts, self.name_texts[slot]):
                    artist.set_visible(False)
                continue
            name = chosen[slot]
            self.name_texts[slot].set_text(name)
            self.name_texts[slot].set_color(_COLORS[name])
            self.name_texts[slot].set_visible(True)
            values = (self.stats[name]["saturated"], self.stats[name]["mean_grad"])
            for bar, txt, value, label in zip(bars, texts, values, (f"{values[0]:.0%}", f"{values[1]:.2f}")):
                bar.set_width(value)
                bar.set_color(_COLORS[name])
                txt.set_text(label)
                txt.set_x(max(value, 0.0) + 0.02)
                for artist in (bar, txt):
                    artist.set_visible(True)
        rows = 4 if len(chosen) <= 4 else len(EXPLORER_ACTIVATIONS)  # two layouts: few or many rows
        if rows != self._rows_shown:  # limits are static: redraw the background only when they change
            self._rows_shown = rows
            self.ax_bar.set_ylim(rows - 0.5, -0.5)  # first selected on top
            self.invalidate()
        if not chosen:
            self.status.value = "Select one or more activations (Ctrl/Cmd-click for several)."
            return
        worst = max(chosen, key=lambda n: self.stats[n]["saturated"])
        self.status.value = (
            f"Inputs x ~ N({mean:.1f}, {spread:.1f}²). Most saturated or inactive: <b>{worst}</b>: on "
            f"{self.stats[worst]['saturated']:.0%} of these inputs a unit passes back less than "
            f"{SATURATION_THRESHOLD:.0%} of the gradient it receives.")


SIGNAL_ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "linear"]
WIDTHS = [16, 32, 64, 128]
VALUE_RANGE = (-1.0, 3.0)  # sigmoid, tanh, ELU, GELU, SiLU never go below -1; ReLUs rarely above 3


def layer_histograms(layers, bins: int) -> np.ndarray:
    """Each layer's histogram over :data:`VALUE_RANGE`, scaled to its peak: a list of L arrays of
    activations (any shape) -> (bins, L), one column per layer.

    One fixed value range for every setting (values beyond it are counted in the edge bins, NaN in
    the lowest), so no control moves the axes: exploding layers pile up at the edges, vanishing ones
    at one value. One bincount for all layers (bin + bins * layer), computed in place on one copy of
    the activations: half the time of cleaning copies with ``np.nan_to_num`` first (6 ms instead of
    12 for 50 layers of 64 x 128).
    """
    lo, hi = VALUE_RANGE
    position = np.stack(layers).reshape(len(layers), -1)          # (L, N): a copy, ours to overwrite
    position -= lo
    position *= bins / (hi - lo)                                 # the bin, as a real number
    np.clip(position, 0, bins - 1, out=position)                 # +-inf -> the edge bins (NaN stays NaN)
    position[np.isnan(position)] = 0
    index = position.astype(np.intp)                             # the bin: rounded down
    index += bins * np.arange(len(layers))[:, None]
    counts = np.bincount(index.ravel(), minlength=len(layers) * bins).reshape(len(layers), bins)
    return (counts / np.maximum(counts.max(axis=1, keepdims=True), 1)).T


class RememberingSigmoid(activations.Sigmoid):
    """The course's sigmoid (the same function, the same numbers) for one pass of
    :func:`~nncourse.initializers.signal_propagation`: :meth:`forward` keeps each output, and
    :meth:`grad` of that same pre-activation array returns s (1 - s) from it instead of computing the
    sigmoid again (a fifth of a drag at depth 50). Any other array: the sigmoid's own ``grad``.
    Use a fresh one per pass: it holds on to every output until its ``grad`` is asked for."""

    def __init__(self):
        self._outputs: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id(x) -> (x, sigmoid(x))

    def forward(self, x):
        s = super().forward(x)
        self._outputs[id(x)] = (x, s)  # x kept too: its id cannot be reused while it is here
        return s

    def grad(self, x):
        kept = self._outputs.pop(id(x), None)
        if kept is None or kept[0] is not x:
            return super().grad(x)
        s = kept[1]
        return s * (1 - s)


class SignalPropagation(FigureWidget):
    """Depth, width, activation, initialisation -> per-layer activation histograms (left) and the
    per-layer activation spread and gradient norm on a log scale (right)."""

    BINS = 61
    # Inputs per setting: 64 rows x width units per layer is plenty for 61 histogram bins and the
    # spreads, and costs a third less than signal_propagation's default of 100 (a drag stays < 50 ms).
    BATCH = 64

    def __init__(self, depth: int = 20, width: int = 64, activation: str = "sigmoid", init: str = "naive",
                 scale: float = 0.01, *, seed: int = 0):
        super().__init__(figsize=(11, 3.9))
        activation = activations.get(activation).name
        if activation not in SIGNAL_ACTIVATIONS:
            raise ValueError(f"activation must be one of {SIGNAL_ACTIVATIONS}, got {activation!r}")
        if width not in WIDTHS:
            raise ValueError(f"width must be one of {WIDTHS}, got {width!r}")
        self.seed = seed
        self.depth = widgets.IntSlider(value=depth, min=1, max=50, description="depth")
        self.width = widgets.SelectionSlider(options=WIDTHS, value=width, description="width")
        self.activation = widgets.Dropdown(options=SIGNAL_ACTIVATIONS, value=activation, description="activation")
        self.init = widgets.Dropdown(options=list(SCHEMES), value=init, description="init")
        self.scale = widgets.FloatLogSlider(value=scale, base=10, min=-3, max=1, step=0.1, description="scale",
                                            readout_format=".3g")
        self.controls = widgets.VBox([widgets.HBox([self.depth, self.width, self.scale]),
                                      widgets.HBox([self.activation, self.init]), self.status])
        self.observe(self.depth, self.width, self.activation, self.init, self.scale)

        self.ax_hist, self.ax_log = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        # sqrt colour scale: ReLU's spike of exact zeros must not hide the rest of its histogram
        self.image = self.ax_hist.imshow(np.zeros((self.BINS, depth)), origin="lower", aspect="auto",
                                         cmap="Blues", norm=PowerNorm(0.5, vmin=0, vmax=1),
                                         interpolation="nearest")
        self.ax_hist.set_xlabel("layer")
        self.ax_hist.set_ylabel("activation value")
        self.ax_hist.set_title("activations per layer (histogram, each column scaled to its peak;\n"
                               "values off the scale are counted in the edge bins)", fontsize=9)
        (self.std_line,) = self.ax_log.semilogy([], [], "o-", ms=3, color="#0877bd", label="spread of activations over inputs")
        (self.grad_line,) = self.ax_log.semilogy([], [], "s-", ms=3, color="#d62728", label="‖∂L/∂W‖ of the layer")
        self.ax_log.set_xlabel("layer")
        self.ax_log.set_title(" ", fontsize=9)
        self.ax_log.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncol=2, frameon=False)
        for ax in (self.ax_hist, self.ax_log):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.ax_log.grid(True, which="major", alpha=0.3)
        self.ax_hist.set_ylim(*VALUE_RANGE)
        self.ax_log.set_ylim(1e-40, 1e40)
        self.ax_log.yaxis.set_major_locator(LogLocator(base=10, numticks=9))
        self.ax_log.yaxis.set_minor_locator(NullLocator())
        self.fig.tight_layout()
        # The verdict title takes a few strings only: stamped from pictures drawn once each, not laid
        # out glyph by glyph on every drag.
        self.animate(self.image, self.std_line, self.grad_line, StampedText(self.ax_log.title))
        self._static = None  # (depth, value range, log limits) drawn in the cached background
        self.stats = None
        self.update()

    def update(self):
        # Products of at most (64, 128) x (128, 128): a second BLAS thread only spins, and on a busy
        # machine waiting for it cost five times the whole computation.
        activation = self.activation.value
        if activation == "sigmoid":
            activation = RememberingSigmoid()
        with _one_blas_thread():
            self.stats = s = signal_propagation(self.depth.value, self.width.value, activation,
                                                self.init.value, scale=self.scale.value, batch_size=self.BATCH,
                                                seed=self.seed)
        depth = s.depth
        lo, hi = VALUE_RANGE
        self.image.set_data(layer_histograms(s.activations, self.BINS))
        self.image.set_extent((0.5, depth + 0.5, lo, hi))
        layers = np.arange(1, depth + 1)
        self.std_line.set_data(layers, s.activation_std)
        self.grad_line.set_data(layers, s.grad_norm)
        positive = np.concatenate([s.activation_std, s.grad_norm])
        positive = positive[np.isfinite(positive) & (positive > 0)]
        # 1e-40 ... 1e40 unless the curves leave it (then in steps of 20 decades): a fixed scale
        # compares settings at a glance and keeps the cached background valid.
        low = math.log10(positive.min()) - 0.5 if positive.size else 0.0
        high = math.log10(positive.max()) + 0.5 if positive.size else 0.0
        log_lo, log_hi = min(-40, 20 * math.floor(low / 20)), max(40, 20 * math.ceil(high / 20))
        right = 10 * math.ceil(depth / 10) + 0.5  # whole tens of layers: dragging depth rarely moves the axes
        static = (right, lo, hi, log_lo, log_hi)
        if static != self._static:  # limits live in the cached background: redraw it only when they move
            self._static = static
            self.ax_hist.set_xlim(0.5, right)
            self.ax_hist.set_ylim(lo, hi)
            self.ax_log.set_xlim(0.5, right)
            self.ax_log.set_ylim(10.0**log_lo, 10.0**log_hi)
            self.invalidate()
        self.verdict = v = verdict(s)
        saturated = s.saturated.mean()
        # The forward verdict judges the spread only; a mostly saturated net (tanh, large weights) still
        # spreads its outputs, so say so rather than call it plainly healthy. (ReLU + He: each unit is
        # inactive on about half the inputs - normal, not dead.)
        forward = (f"{saturated:.0%} {'inactive' if s.activation == 'relu' else 'saturated'}" if saturated > 0.6
                   else v["forward"])
        color = "#2ca02c" if forward == v["backward"] == "healthy" else "#d62728"
        self.ax_log.set_title(f"{s.activation} + {s.scheme} init: activations {forward}, gradients "
                              f"{v['backward']}", fontsize=9, color=color)
        self.status.value = (
            f"weight std {s.weight_std:.3g}; last layer: activations vary by {s.activation_std[-1]:.3g} across inputs, "
            f"{s.saturated.mean():.0%} of units saturated or inactive on average; gradient norm layer 1 / layer "
            f"{depth} = {s.gradient_ratio():.3g}, smallest {s.grad_norm.min():.3g}.")
