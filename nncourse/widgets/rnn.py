"""Widgets of notebook 07: gradient through time, and a look inside a trained LSTM's gates.

* :class:`GradientThroughTime`: an RNN and an LSTM read the same random sequence; the plot
  shows ``||dh_T / dh_t||`` against t on a log scale (and, dashed, the LSTM's
  ``||dh_T / dc_t||``). Sliders: sequence length, the scale of the recurrent weights
  (``W_hh = scale * orthogonal``: its largest stretch factor), and the LSTM's forget-gate bias.
* :class:`LSTMGateViewer`: type a string; the first (or any) layer of a trained character
  LSTM (:class:`nncourse.at_scale.rnn.CharLSTM`) is run in NumPy by :class:`nncourse.rnn.LSTM`
  with the trained weights, and its input, forget and output gates and its cell state are
  shown as heatmaps (units x characters); a slider picks the unit plotted over time below.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from ..plotting import CLASS_COLORS
from ..rnn import LSTM, RNN, gradient_through_time
from .base import FigureWidget

FLOOR, CEILING = 1e-12, 1e6  # the plot's fixed y range; values beyond are pinned to it


def _orthogonal(size: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix (size, size): it rotates without stretching (all singular values 1)."""
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return q * np.sign(np.diag(r))  # sign fix: uniformly distributed over rotations


class GradientThroughTime(FigureWidget):
    """Length, recurrent weight scale, forget-gate bias -> ||dh_T/dh_t|| for an RNN and an LSTM.

    ``self.norms`` holds the last computed curves: ``{"rnn": (T,), "lstm_h": (T,), "lstm_c": (T,)}``.
    """

    def __init__(self, *, hidden_size: int = 32, input_size: int = 8, length: int = 60, scale: float = 1.0,
                 forget_bias: float = 1.0, seed: int = 0):
        super().__init__(figsize=(9, 4))
        self.hidden_size, self.input_size, self.seed = hidden_size, input_size, seed
        rng = np.random.default_rng(seed)
        self.max_length = 200
        self.inputs = rng.standard_normal((self.max_length, input_size))  # one fixed random sequence
        self.rnn = RNN(input_size, hidden_size, seed=seed)
        self.lstm = LSTM(input_size, hidden_size, seed=seed)
        self._rnn_rotation = _orthogonal(hidden_size, rng)
        self._lstm_rotations = np.concatenate([_orthogonal(hidden_size, rng) for _ in range(4)])  # (4H, H)
        self._lstm_bias = self.lstm.params["bias_ih_l0"].copy()

        self.length = widgets.IntSlider(value=length, min=5, max=self.max_length, step=5, description="length T")
        self.scale = widgets.FloatSlider(value=scale, min=0.25, max=3.0, step=0.05, description="W_hh scale",
                                         readout_format=".2f")
        self.forget_bias = widgets.FloatSlider(value=forget_bias, min=-3.0, max=6.0, step=0.25,
                                               description="forget bias")
        self.controls = widgets.VBox([widgets.HBox([self.length, self.scale, self.forget_bias]), self.status])
        self.observe(self.length, self.scale, self.forget_bias)

        self.ax = self.fig.add_subplot()
        (self.rnn_line,) = self.ax.semilogy([], [], color=CLASS_COLORS[0], lw=2, label="RNN  ‖∂h_T/∂h_t‖")
        (self.lstm_line,) = self.ax.semilogy([], [], color=CLASS_COLORS[1], lw=2, label="LSTM ‖∂h_T/∂h_t‖")
        (self.cell_line,) = self.ax.semilogy([], [], color=CLASS_COLORS[1], lw=1.5, ls="--",
                                             label="LSTM ‖∂h_T/∂c_t‖ (cell state)")
        self.ax.set_ylim(FLOOR, CEILING)
        self.ax.set_xlabel("time step t")
        self.ax.set_ylabel("gradient reaching step t")
        self.ax.axhline(1.0, color="0.6", lw=0.8, zorder=0)
        self.ax.legend(loc="lower right", fontsize=8)
        self.ax.set_title(" ")
        self.fig.tight_layout()
        self.animate(self.rnn_line, self.lstm_line, self.cell_line, self.ax.title)
        self._xlim = None
        self._rnn_cache = None  # ((T, scale), the RNN's curves)
        self.norms: dict[str, np.ndarray] = {}
        self.update()

    def _set_weights(self):
        H, scale = self.hidden_size, self.scale.value
        self.rnn.params["weight_hh_l0"][...] = scale * self._rnn_rotation
        self.lstm.params["weight_hh_l0"][...] = scale * self._lstm_rotations
        bias = self._lstm_bias.copy()
        bias[H:2 * H] += self.forget_bias.value
        self.lstm.params["bias_ih_l0"][...] = bias

    def update(self):
        from threadpoolctl import threadpool_limits  # installed with scikit-learn

        self._set_weights()
        T = self.length.value
        x = self.inputs[:T]
        with threadpool_limits(1):  # 32 x 32 matrices: extra BLAS threads only add waiting
            # the forget bias is the LSTM's alone: moving it re-runs only the LSTM
            key = (T, self.scale.value)
            if self._rnn_cache is None or self._rnn_cache[0] != key:
                self._rnn_cache = (key, gradient_through_time(self.rnn, x))
            rnn = self._rnn_cache[1]
            lstm = gradient_through_time(self.lstm, x)
        self.norms = {"rnn": rnn["h"], "lstm_h": lstm["h"], "lstm_c": lstm["c"]}
        t = np.arange(1, T + 1)
        for line, values in [(self.rnn_line, rnn["h"]), (self.lstm_line, lstm["h"]), (self.cell_line, lstm["c"])]:
            line.set_data(t, np.clip(values, FLOOR, CEILING))
        if self._xlim != T:
            self._xlim = T
            self.ax.set_xlim(1, max(T, 2))
            self.invalidate()
        mean_forget = float(self.lstm.gate_values["f"].mean())
        self.ax.set_title(f"T = {T}: signal from h_T back to step 1 - RNN {rnn['h'][0]:.1e}, "
                          f"LSTM {lstm['h'][0]:.1e} (mean forget gate {mean_forget:.2f})", fontsize=10)
        pinned = [name for name, v in self.norms.items() if v.max() > CEILING or v.min() < FLOOR]
        self.status.value = ("Below 1: the gradient shrinks on its way back (vanishing); above 1 it grows "
                             "(exploding)." + (f" Values beyond the plot's range are drawn at its edge "
                                               f"({', '.join(pinned)})." if pinned else ""))


def _char_label(char: str) -> str:
    return {" ": "␣", "\n": "↵", "\t": "⇥", "$": r"\$"}.get(char, char)


class LSTMGateViewer(FigureWidget):
    """Heatmaps of a trained character LSTM's gates and cell state for a typed string.

    ``model``: a :class:`nncourse.at_scale.rnn.CharLSTM` (or any module with ``embedding`` and a
    batch-first ``lstm``); ``layer``: which LSTM layer to show. The NumPy twin runs the
    weights, so what you see is :class:`nncourse.rnn.LSTM`'s ``gate_values``; ``self.values``
    holds them for the current text, each (T, H).
    """

    PANELS = [("i", "input gate i", "viridis", (0, 1)), ("f", "forget gate f", "viridis", (0, 1)),
              ("o", "output gate o", "viridis", (0, 1)), ("c", "cell state c", "RdBu_r", (-1, 1))]

    def __init__(self, model, vocab, *, text: str = "The quick brown fox. ", layer: int = 0, unit: int = 0,
                 max_units: int = 64, max_length: int = 80):
        super().__init__(figsize=(10, 7))
        self.vocab = vocab
        self.max_length = max_length
        num_layers = model.lstm.num_layers
        if not (isinstance(layer, int) and 0 <= layer < num_layers):
            raise ValueError(f"layer must be an integer in [0, {num_layers - 1}] for this model, got {layer!r}")
        vocab.encode(text)  # a bad initial text is the caller's bug: raise, naming the characters
        # NumPy copies of the trained weights: the embedding table and LSTM layers 0..layer
        self.embedding = model.embedding.weight.detach().cpu().double().numpy()  # (V, E)
        self.layers = []
        for index in range(layer + 1):
            weights = {name.replace(f"_l{index}", "_l0"): p.detach().cpu().double().numpy()
                       for name, p in model.lstm.named_parameters() if name.endswith(f"_l{index}")}
            numpy_layer = LSTM(weights["weight_ih_l0"].shape[1], model.lstm.hidden_size)
            numpy_layer.params.update(weights)
            self.layers.append(numpy_layer)
        self.layer_index = layer
        self.units = min(model.lstm.hidden_size, max_units)
        self.hidden_size = model.lstm.hidden_size

        self.text = widgets.Text(value=text, description="text", continuous_update=False,
                                 layout=widgets.Layout(width="520px"))
        self.unit = widgets.IntSlider(value=min(unit, self.units - 1), min=0, max=self.units - 1,
                                      description="unit")
        self.controls = widgets.VBox([widgets.HBox([self.text, self.unit]), self.status])
        self.observe(self.text, self.unit)

        grid = self.fig.add_gridspec(3, 2, height_ratios=[1, 1, 0.9])
        self.axes = {}
        self.images = {}
        self.markers = {}
        for k, (key, title, cmap, (lo, hi)) in enumerate(self.PANELS):
            ax = self.fig.add_subplot(grid[k // 2, k % 2])
            self.images[key] = ax.imshow(np.zeros((self.units, 2)), aspect="auto", cmap=cmap, vmin=lo, vmax=hi,
                                         interpolation="nearest", origin="lower")
            (self.markers[key],) = ax.plot([], [], color="red", lw=1)
            ax.set_title(title, fontsize=10)
            ax.set_ylabel("unit")
            self.fig.colorbar(self.images[key], ax=ax, fraction=0.04, pad=0.01)
            self.axes[key] = ax
        self.ax_unit = self.fig.add_subplot(grid[2, :])
        self.unit_lines = {}
        for key, color in zip("ifo", [CLASS_COLORS[0], CLASS_COLORS[2], CLASS_COLORS[3]]):
            (self.unit_lines[key],) = self.ax_unit.plot([], [], marker=".", color=color, label=f"gate {key}")
        # the cell state is unbounded: it is drawn divided by its largest |c| (given in the title)
        (self.unit_lines["c"],) = self.ax_unit.plot([], [], marker=".", color="k", lw=2, label="c / max|c|")
        self.ax_unit.set_ylim(-1.05, 1.05)
        self.ax_unit.axhline(0, color="0.7", lw=0.8)
        handles = [self.unit_lines[k] for k in "ifoc"]
        self.ax_unit.legend(handles, [h.get_label() for h in handles], loc="lower right", ncol=4, fontsize=7.5,
                            bbox_to_anchor=(1.0, 1.0), frameon=False)
        self.unit_title = self.ax_unit.set_title(" ", fontsize=9, loc="left")
        self.fig.tight_layout()
        self.animate(*self.markers.values(), *self.unit_lines.values(), self.unit_title)
        self._shown_text = None
        self.values: dict[str, np.ndarray] = {}
        self.update()

    def gate_values(self, text: str) -> dict[str, np.ndarray]:
        """Run the NumPy twin over ``text``; returns i, f, g, o, c of the chosen layer, each (T, H)."""
        x = self.embedding[self.vocab.encode(text)][None]  # (1, T, E)
        for numpy_layer in self.layers:
            x = numpy_layer.forward(x)  # (1, T, H): the next layer's input
        return {k: v[0] for k, v in self.layers[-1].gate_values.items()}

    def update(self):
        text = self.text.value[: self.max_length]
        unknown = sorted({c for c in text if c not in self.vocab})
        if not text or unknown:
            self.status.value = ("Type at least one character." if not text else
                                 f"Not in the model's vocabulary: {', '.join(repr(c) for c in unknown[:8])}.")
            return
        T = len(text)
        if text != self._shown_text:
            self._shown_text = text
            self.values = self.gate_values(text)
            labels = [_char_label(c) for c in text]
            for key, *_ in self.PANELS:
                image = self.images[key]
                image.set_data(self.values[key][:, : self.units].T)  # (H, T): units up, time across
                image.set_extent((-0.5, T - 0.5, -0.5, self.units - 0.5))
                ax = self.axes[key]
                ax.set_xlim(-0.5, T - 0.5)
                ax.set_xticks(np.arange(T))
                ax.set_xticklabels(labels, fontsize=7 if T <= 40 else 5, family="monospace")
            # colour and axis range of the cell state: symmetric, from the largest |c| in this text
            c_max = max(float(np.percentile(np.abs(self.values["c"][:, : self.units]), 99)), 1e-3)
            self.images["c"].set_clim(-c_max, c_max)
            self.ax_unit.set_xlim(-0.5, T - 0.5)
            self.ax_unit.set_xticks(np.arange(T))
            self.ax_unit.set_xticklabels(labels, fontsize=7 if T <= 40 else 5, family="monospace")
            self.invalidate()
            self.status.value = (f"Layer {self.layer_index}, {T} characters"
                                 + (f" (first {self.max_length} shown)" if len(self.text.value) > T else "")
                                 + (f"; showing units 0-{self.units - 1} of {self.hidden_size}." if self.units < self.hidden_size
                                    else f"; showing all {self.units} units."))
        u = self.unit.value
        for key, *_ in self.PANELS:
            self.markers[key].set_data([-0.5, T - 0.5], [u, u])
        t = np.arange(T)
        for key in "ifo":
            self.unit_lines[key].set_data(t, self.values[key][:, u])
        cell = self.values["c"][:, u]
        cell_scale = max(float(np.abs(cell).max()), 1e-12)
        self.unit_lines["c"].set_data(t, cell / cell_scale)
        forget = self.values["f"][:, u]
        self.unit_title.set_text(f"unit {u}: mean f {forget.mean():.2f} | c from {cell.min():.2f} to {cell.max():.2f} "
                                 f"(drawn ÷ {cell_scale:.2f})")
