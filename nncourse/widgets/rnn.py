"""Widgets of notebook 07: gradient through time, and a look inside a trained LSTM's gates.

* :class:`GradientThroughTime`: an RNN and an LSTM read the same random sequence; the plot
  shows ``||dh_T / dh_t||`` against t on a log scale (and, dashed, the LSTM's
  ``||dh_T / dc_t||``). Sliders: sequence length, the scale of the recurrent weights
  (``W_hh = scale * orthogonal``: its largest stretch factor), and the LSTM's forget-gate bias.
* :class:`LSTMGateViewer`: type a string; the first (or any) layer of a trained character
  LSTM (:class:`nncourse.at_scale.rnn.CharLSTM`) is run in NumPy by :class:`nncourse.rnn.LSTM`
  with the trained weights, and its input, forget and output gates and its cell state are
  shown as heatmaps (units x characters); a slider picks the unit plotted over time below.

Their updates stay fast with the drawing helpers of :mod:`nncourse.widgets.drawing`
(:class:`StampedTicks`, :class:`Backdrop`), which notebook 08's widgets share.
"""
from __future__ import annotations

from concurrent.futures import Future

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator, NullLocator
from matplotlib.transforms import Affine2D

from ..plotting import CLASS_COLORS
from ..rnn import LSTM, RNN, _background_thread, _one_blas_thread, _second_core_free
from .base import FigureWidget
from .drawing import Backdrop, StampedTicks

FLOOR, CEILING = 1e-12, 1e6  # the plot's fixed y range; values beyond are pinned to it


def _now(function, *args) -> Future:
    """``function(*args)``, run at once, as a finished Future (the one-core stand-in for a thread's submit)."""
    done = Future()
    done.set_result(function(*args))
    return done


def _orthogonal(size: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix (size, size): it rotates without stretching (all singular values 1)."""
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return q * np.sign(np.diag(r))  # sign fix: uniformly distributed over rotations


def spectral_norms(matrices: np.ndarray) -> np.ndarray:
    """||M||_2, the largest singular value, of each matrix of a stack (n, H, H) -> (n,): the square
    root of the largest eigenvalue of M M^T (the symmetric eigensolver takes about two thirds of
    an SVD's time). Matrices whose M M^T would overflow or lose precision to underflow (the
    gradients span hundreds of orders of magnitude) are divided by their largest entry first."""
    largest_entry = np.abs(matrices).max(axis=(1, 2))                               # (n,)
    rescale = (largest_entry > 1e100) | (largest_entry < 1e-100)
    divisor = np.where(rescale & (largest_entry > 0), largest_entry, 1.0)            # (n,)
    scaled = matrices / divisor[:, None, None] if rescale.any() else matrices
    gram = scaled @ scaled.transpose(0, 2, 1)                                        # (n, H, H)
    return divisor * np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[:, -1], 0.0))


def rnn_jacobians(rnn: RNN, x: np.ndarray) -> np.ndarray:
    """The one-step Jacobians J_t = dh_t/dh_{t-1} = diag(1 - h_t^2) W_hh of an RNN reading x (T, D):
    (T, H, H), one forward pass (notebook 07, "Why the gradient vanishes")."""
    hs = rnn.forward(x[None])[0]                                          # (T, H)
    return (1.0 - hs ** 2)[:, :, None] * rnn.params["weight_hh_l0"]      # row k scaled by tanh'(.)_k


def rnn_gradient_products(jacobians: np.ndarray, T: int) -> np.ndarray:
    """dh_T/dh_t for t = 1..T (T, H, H) from :func:`rnn_jacobians` of a sequence of at least T steps:
    dh_T/dh_t = J_T J_{T-1} ... J_{t+1}, built from the left (the last is I)."""
    H = jacobians.shape[1]
    products = np.empty((T, H, H))
    products[-1] = np.eye(H)
    for t in range(T - 1, 0, -1):
        products[t - 1] = products[t] @ jacobians[t]   # one more step back: times J_{t+1}
    return products


def lstm_jacobians(lstm: LSTM, x: np.ndarray) -> dict[str, np.ndarray]:
    """An LSTM's one-step Jacobians for one sequence x (T, D): one forward pass.

    With the gates of step t (PyTorch's order i, f, g, o), c_t = f c_{t-1} + i g and
    h_t = o tanh(c_t), each gate's pre-activation receives W_hh (gate block) h_{t-1}:

    * ``"h_from_c"`` (T, H): dh_t/dc_t = o (1 - tanh^2 c_t), a diagonal;
    * ``"c_from_c"`` (T, H): dc_t/dc_{t-1} = f, a diagonal (h_{t-1} held);
    * dc_t/dh_{t-1} = diag(g i (1 - i)) W_i + diag(c_{t-1} f (1 - f)) W_f + diag(i (1 - g^2)) W_g
      (c_{t-1} held), and dh_t/dh_{t-1} with c_t held = diag(tanh c_t o (1 - o)) W_o: kept as their
      parts, ``"row_scales"`` (T, 4, H), the four diagonals in the order i, f, g, o, and
      ``"weight_hh"`` (4H, H), the blocks W_i, W_f, W_g, W_o (an (H, H) matrix per step would be
      T H^2 numbers to build, where :func:`lstm_gradient_matrices` needs only its product with a row).
    """
    lstm.forward(x[None])
    gates = {k: v[0] for k, v in lstm.gate_values.items()}              # each (T, H)
    i, f, g, o, c = (gates[k] for k in "ifgoc")
    c_prev = np.concatenate([np.zeros_like(c[:1]), c[:-1]])              # c_0 = 0
    tanh_c = np.tanh(c)
    row_scales = np.stack([g * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g ** 2),
                           tanh_c * o * (1.0 - o)], axis=1)              # (T, 4, H)
    return {"h_from_c": o * (1.0 - tanh_c ** 2), "c_from_c": f, "row_scales": row_scales,
            "weight_hh": lstm.params["weight_hh_l0"]}


def lstm_gradient_matrices(jacobians: dict[str, np.ndarray], T: int) -> np.ndarray:
    """dh_T/dh_t and dh_T/dc_t for t = 1..T, stacked (2T, H, H) (the h's first), from
    :func:`lstm_jacobians` of a sequence of at least T steps - backpropagation through time with the
    H rows of the Jacobian as the batch (dc_t is the total derivative: c_t reaches h_T through
    c_{t+1} and through h_t)."""
    h_from_c, c_from_c, scales = jacobians["h_from_c"], jacobians["c_from_c"], jacobians["row_scales"]
    H = h_from_c.shape[1]
    dh, dc = np.eye(H), np.zeros((H, H))      # dh_T/dh_T and dh_T/dc_T with h_T held
    grads = np.empty((2 * T, H, H))
    rows = np.empty((H, 4, H))                # [dc diag(s_i), dc diag(s_f), dc diag(s_g), dh diag(s_o)]
    for t in range(T - 1, -1, -1):
        dc = dc + dh * h_from_c[t]            # + the path through h_t = o tanh(c_t)
        grads[t], grads[T + t] = dh, dc
        # back to h_{t-1}: through c_t (gates i, f, g) and through h_t with c_t held (gate o),
        # dc (sum over k of diag(s_k) W_k) + dh diag(s_o) W_o, as one product with the stacked blocks
        np.multiply(dc[:, None, :], scales[t, :3], out=rows[:, :3])
        np.multiply(dh, scales[t, 3], out=rows[:, 3])
        dh = rows.reshape(H, 4 * H) @ jacobians["weight_hh"]
        dc = dc * c_from_c[t]                 # dh_T/dc_{t-1}, h_{t-1} held
    return grads


class GradientThroughTime(FigureWidget):
    """Length, recurrent weight scale, forget-gate bias -> ||dh_T/dh_t|| for an RNN and an LSTM.

    ``self.norms`` holds the last computed curves: ``{"rnn": (T,), "lstm_h": (T,), "lstm_c": (T,)}``,
    equal to :func:`nncourse.rnn.gradient_through_time` of each network on the first T inputs.
    They are computed from the one-step Jacobians of all ``max_length`` steps, kept while the
    weights stay, so moving the length only chains them again (:func:`rnn_gradient_products`,
    :func:`lstm_gradient_matrices`) and takes their :func:`spectral_norms`.
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
        # the numbers that change go in the status line under the sliders (the browser draws that
        # text); a title redrawn on every update would cost a quarter of the update
        self.ax.set_title("How much of the gradient at h_T reaches each earlier step t", fontsize=10)
        self.fig.tight_layout()
        self.animate(self.rnn_line, self.lstm_line, self.cell_line)
        self.ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))  # time steps are whole numbers
        # a new length changes the x axis alone: it is repainted over the rest (not a full redraw)
        self.x_ticks = StampedTicks(self.ax, "x")
        self._x_axis = Backdrop(self, [self.x_ticks, self.ax.xaxis])
        self._shown_length = None
        self._rnn_jacobians = (None, None)   # (scale, rnn_jacobians of all max_length steps)
        self._lstm_jacobians = (None, None)  # ((scale, forget bias), lstm_jacobians of all steps)
        self._rnn_norms = (None, None)       # ((scale, T), the RNN's curve): the forget bias leaves it
        self.norms: dict[str, np.ndarray] = {}
        self.mean_forget = float("nan")      # the LSTM's mean forget gate over the T steps
        self.update()

    def _set_weights(self):
        H, scale = self.hidden_size, self.scale.value
        self.rnn.params["weight_hh_l0"][...] = scale * self._rnn_rotation
        self.lstm.params["weight_hh_l0"][...] = scale * self._lstm_rotations
        bias = self._lstm_bias.copy()
        bias[H:2 * H] += self.forget_bias.value
        self.lstm.params["bias_ih_l0"][...] = bias

    def update(self):
        T, scale, forget_bias = self.length.value, self.scale.value, self.forget_bias.value
        with _one_blas_thread():  # 32 x 32 matrices: more threads only wait
            # Each network's one-step Jacobians over all max_length steps are recomputed only when
            # its weights change (the forget bias is the LSTM's alone); a new length reuses them.
            if self._rnn_jacobians[0] != scale or self._lstm_jacobians[0] != (scale, forget_bias):
                self._set_weights()
            if self._rnn_jacobians[0] != scale:
                self._rnn_jacobians = (scale, rnn_jacobians(self.rnn, self.inputs))
            if self._lstm_jacobians[0] != (scale, forget_bias):
                self._lstm_jacobians = ((scale, forget_bias), lstm_jacobians(self.lstm, self.inputs))
            # The eigen-solves are most of the time: on two cores, a second thread takes the RNN's
            # and half of the LSTM's while this one chains the LSTM's matrices and takes the rest
            # (LAPACK releases the GIL). One core: the same calls, one after the other.
            beside = _background_thread().submit if _second_core_free() else _now
            if self._rnn_norms[0] != (scale, T):
                rnn_norms = beside(spectral_norms, rnn_gradient_products(self._rnn_jacobians[1], T))
            matrices = lstm_gradient_matrices(self._lstm_jacobians[1], T)     # (2T, H, H): h's, then c's
            second_half = beside(spectral_norms, matrices[T:])
            lstm = {"h": spectral_norms(matrices[:T]), "c": second_half.result()}
            if self._rnn_norms[0] != (scale, T):
                self._rnn_norms = ((scale, T), rnn_norms.result())
            rnn = self._rnn_norms[1]
        self.norms = {"rnn": rnn, "lstm_h": lstm["h"], "lstm_c": lstm["c"]}
        t = np.arange(1, T + 1)
        for line, values in [(self.rnn_line, rnn), (self.lstm_line, lstm["h"]), (self.cell_line, lstm["c"])]:
            line.set_data(t, np.clip(values, FLOOR, CEILING))
        if T != self._shown_length:
            self.ax.set_xlim(1, max(T, 2))
            self.x_ticks.follow_locator()
            if self._shown_length is not None:
                self._x_axis.repaint()
            self._shown_length = T
        self.mean_forget = float(self._lstm_jacobians[1]["c_from_c"][:T].mean())  # dc_t/dc_{t-1} = f_t
        names = {"rnn": "RNN", "lstm_h": "LSTM h", "lstm_c": "LSTM cell"}
        pinned = [names[key] for key, v in self.norms.items() if v.max() > CEILING or v.min() < FLOOR]
        self.status.value = (f"<b>T = {T}</b>: the signal from h_T back to step 1 is <b>RNN {rnn[0]:.1e}</b>, "
                             f"<b>LSTM {lstm['h'][0]:.1e}</b> (mean forget gate {self.mean_forget:.2f}). "
                             "Below 1: the gradient shrinks on its way back (vanishing); above 1 it grows "
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
        from .drawing import nearest_imshow

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
        self.colorbars = {}
        self.markers = {}
        for k, (key, title, cmap, (lo, hi)) in enumerate(self.PANELS):
            ax = self.fig.add_subplot(grid[k // 2, k % 2])
            # coloured per (unit, character), not per screen pixel: see NearestImage
            self.images[key] = nearest_imshow(ax, np.zeros((self.units, 2)), aspect="auto", cmap=cmap, vmin=lo,
                                              vmax=hi, origin="lower")
            (self.markers[key],) = ax.plot([], [], color="red", lw=1)
            ax.set_title(title, fontsize=10)
            ax.set_ylabel("unit")
            self.colorbars[key] = self.fig.colorbar(self.images[key], ax=ax, fraction=0.04, pad=0.01)
            self.axes[key] = ax
        self.ax_unit = self.fig.add_subplot(grid[2, :])
        self.unit_lines = {}
        for key, color in zip("ifo", [CLASS_COLORS[0], CLASS_COLORS[2], CLASS_COLORS[3]]):
            (self.unit_lines[key],) = self.ax_unit.plot([], [], marker=".", color=color, label=f"gate {key}")
        # the cell state is unbounded: it is drawn divided by its largest |c| (given in the status line)
        (self.unit_lines["c"],) = self.ax_unit.plot([], [], marker=".", color="k", lw=2, label="c / max|c|")
        self.ax_unit.set_ylim(-1.05, 1.05)
        self.ax_unit.axhline(0, color="0.7", lw=0.8)
        handles = [self.unit_lines[k] for k in "ifoc"]
        self.ax_unit.legend(handles, [h.get_label() for h in handles], loc="lower right", ncol=4, fontsize=7.5,
                            bbox_to_anchor=(1.0, 1.0), frameon=False)
        self.unit_title = self.ax_unit.set_title(" ", fontsize=9, loc="left")
        self.fig.tight_layout()
        self.animate(*self.markers.values(), *self.unit_lines.values(), self.unit_title)
        # A new text changes the heatmaps, the characters under them, the numbers of the cell
        # state's colour bar and the characters under the bottom panel - nothing else: those are
        # repainted over the rest of the figure. The images cover the heatmaps' frames, so the
        # frames and the unit ticks touching them are repainted too (drawn in the same order as a
        # full redraw draws them).
        self.char_ticks = {key: StampedTicks(ax, "x", family="monospace")
                           for key, ax in [*self.axes.items(), ("unit", self.ax_unit)]}
        self.unit_ticks = {key: StampedTicks(ax, "y") for key, ax in self.axes.items()}
        # the cell state's colour bar changes its range with the text, but only its numbers change:
        # they are stamped too (the colour bar would put its own locator back on every change of
        # range: it gets none). The bar is not told of the image's new range (it would rebuild
        # itself, ~7 ms): its colours, made for the range (-1, 1) of PANELS, stay drawn in its own
        # box, -1 at the bottom to 1 at the top, and update() sets its axis range, which the
        # numbers follow.
        cell_bar = self.colorbars["c"]
        self.cell_ticks = StampedTicks(cell_bar.ax, "y", side="right")
        cell_bar.locator = NullLocator()
        self.images["c"].callbacks.disconnect(self.images["c"].colorbar_cid)
        cell_bar.solids.set_norm(Normalize(-1, 1))  # its own: the image's norm follows the text
        cell_bar.solids.set_transform(Affine2D().scale(1, 0.5).translate(0, 0.5) + cell_bar.ax.transAxes)
        for ticks in self.unit_ticks.values():
            ticks.follow_locator()
        heatmaps = [[self.images[key], *self.axes[key].spines.values(), self.char_ticks[key], self.unit_ticks[key]]
                    for key in self.axes]
        self._per_text = Backdrop(self, [*sum(heatmaps, []), self.cell_ticks, self.char_ticks["unit"]])
        self._shown_text = None
        self._text_status = ""
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
            if self._shown_text is not None:
                self._per_text.repaint()
            self._shown_text = text
            self.values = self.gate_values(text)
            labels = [_char_label(c) for c in text]
            for key, *_ in self.PANELS:
                image = self.images[key]
                image.set_data(self.values[key][:, : self.units].T)  # (H, T): units up, time across
                image.set_extent((-0.5, T - 0.5, -0.5, self.units - 0.5))
                self.axes[key].set_xlim(-0.5, T - 0.5)
            # colour and axis range of the cell state: symmetric, from the largest |c| in this text
            c_max = max(float(np.percentile(np.abs(self.values["c"][:, : self.units]), 99)), 1e-3)
            self.images["c"].set_clim(-c_max, c_max)
            self.colorbars["c"].ax.set_ylim(-c_max, c_max)
            self.cell_ticks.follow_locator()
            self.ax_unit.set_xlim(-0.5, T - 0.5)
            for ticks in self.char_ticks.values():
                ticks.set_labels(labels, fontsize=7 if T <= 40 else 5)
            self._text_status = (f"Layer {self.layer_index}, {T} character{'s' if T != 1 else ''}"
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
        # the numbers go in the status line (the browser draws it): a title with numbers that change
        # on every update would be redrawn glyph by glyph each time
        self.unit_title.set_text(f"unit {u} over the text")
        self.status.value = (f"{self._text_status}<br><b>Unit {u}</b>: mean forget gate {forget.mean():.2f}; "
                             f"cell state from {cell.min():.2f} to {cell.max():.2f}, drawn divided by {cell_scale:.2f}.")
