"""The Playground (notebook 04): TensorFlow Playground inside Jupyter, on the from-scratch MLP.

Pick a 2-D dataset, the input features, up to 6 hidden layers of up to 8 neurons, activations,
learning rate, optimizer, L1/L2 regularization and dropout; press Play and watch every neuron
learn. Left of the figure: the network - one small heatmap per feature and per neuron (its
output over the input plane, each scaled to its own largest magnitude), links coloured by the
sign of their weight (blue positive, orange negative) and as thick as its magnitude. Right:
the network's output over the plane with the training points (white rims) and test points
(black rims), and the train (solid) and test (dashed) loss curves.

This module is only the view: controls and drawing. What it shows - settings, data, network,
training, the config string, the PyTorch export - is a :class:`nncourse.playground.PlaygroundState`
(``self.state``), which runs and is tested without any widget; every control calls
``state.set(...)`` and the figure draws what the state holds.

* Play/Pause uses an ``ipywidgets.Play`` whose ticks come from the browser's timer: each tick
  trains one epoch and redraws once, so the kernel is free between ticks and Pause acts at
  once. Headless code (tests, scripts) calls :meth:`Playground.step` instead.
* Speed: the network heatmaps are composed into one RGBA image and every fast-changing artist
  is blitted over a cached background (see ``FigureWidget.animate``).
* A NaN or infinite loss stops play and says why instead of drawing a blank picture.
* :meth:`Playground.config` returns a copyable string that restores the exact state - settings,
  data seed, weights, optimizer moments, random generators, loss history -
  via ``Playground(config=...)`` or the *Load* button; :meth:`Playground.to_torch` exports the
  trained network (features included) as a ``torch.nn.Module``.

Beyond TensorFlow Playground: multi-class (softmax) datasets, an activation per layer, the
optimizer choice (SGD, momentum, Adam), dropout, your own data (``Playground(data=(X, y))`` or a
CSV path), the config string and the PyTorch export.
"""
from __future__ import annotations

import math
import time

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.image import AxesImage
from matplotlib.transforms import IdentityTransform

from ..activations import sigmoid, softmax
from ..playground import (ACTIVATIONS, DATA_SETTINGS, DATASETS, FEATURES, LEARNING_RATES, MAX_LAYERS,
                          MAX_NEURONS, NETWORK_SETTINGS, OPTIMIZERS, OWN_DATA, REGULARIZATION_RATES,
                          REGULARIZATIONS, PlaygroundState)
from ..plotting import CLASS_COLORS
from .base import FigureWidget
from .drawing import Backdrop, StampedText

VIEW = 6.0          # the plane shown: [-6, 6]^2
GRID = 50           # output heatmap resolution; neuron tiles use every other point
TILE = GRID // 2

NEGATIVE, POSITIVE = CLASS_COLORS[0], CLASS_COLORS[1]   # orange, blue (as in TensorFlow Playground)
_CMAP = LinearSegmentedColormap.from_list("playground", [NEGATIVE, "#f7f7f7", POSITIVE])
_LUT = (_CMAP(np.linspace(0, 1, 256)) * 255).astype(np.uint8)  # value in [-1, 1] -> RGBA, by lookup
OUTPUT_STRENGTH = 0.6  # the output background's strongest colour: 60% of the way from white


def _colour(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] (any shape) -> RGBA uint8 (..., 4) through the orange-white-blue map."""
    index = np.clip(((values + 1) * 127.5).astype(np.int64), 0, 255)
    return _LUT[index]


class _PixelImage(AxesImage):
    """An RGBA uint8 image drawn by nearest-neighbour indexing at the screen's pixels: the same
    picture as ``imshow(..., interpolation="nearest")`` (colours within 1/255), ~3x faster for the
    large, mostly transparent network picture (matplotlib's general resampler took ~20 ms a frame)."""

    def make_image(self, renderer, magnification=1.0, unsampled=False):
        A = self._A                                                           # (H, W, 4), row 0 at the bottom
        x0, x1, y0, y1 = self.get_extent()
        (l, b), (r, t) = self.axes.transData.transform([(x0, y0), (x1, y1)])  # the extent in screen pixels
        left, bottom, right, top = int(np.floor(l)), int(np.floor(b)), int(np.ceil(r)), int(np.ceil(t))
        centres_x = left + np.arange(right - left) + 0.5                        # each screen pixel's centre
        centres_y = bottom + np.arange(top - bottom) + 0.5
        cols = np.clip(((centres_x - l) / (r - l) * A.shape[1]).astype(np.intp), 0, A.shape[1] - 1)
        rows = np.clip(((centres_y - b) / (t - b) * A.shape[0]).astype(np.intp), 0, A.shape[0] - 1)
        return A[rows[:, None], cols[None, :]], left, bottom, IdentityTransform()


def _delegate(name: str, doc: str):
    return property(lambda self: getattr(self.state, name), doc=doc)


class Playground(FigureWidget):
    """TensorFlow Playground in Jupyter, on the course's NumPy MLP. See the module docstring.

    Playground()                              # circle, 2 features, 4-2 tanh, SGD 0.03
    Playground(dataset="spiral", hidden=[8, 8, 8], activations=["relu"] * 3, optimizer="adam")
    Playground(data=(X, y))                   # your own points: X (N, 2), labels or targets y (N,)
    Playground(config="...")                  # restore the exact state from Playground.config()

    Keyword arguments are fields of :class:`~nncourse.playground.Settings`; ``step(n)`` trains n
    epochs headless. ``settings``, ``model``, ``trainer``, ``epoch``, ``train_loss``, ``X_test``,
    ... are the :class:`~nncourse.playground.PlaygroundState`'s (``self.state``).
    """

    image_format = "jpeg"  # ~10 frames/s of smooth heatmaps: JPEG is 2x smaller and 10x faster to encode

    settings = _delegate("settings", "the current :class:`Settings`")
    task = _delegate("task", '"binary", "regression" or "multiclass"')
    n_classes = _delegate("n_classes", "number of classes (multiclass), else 1")
    points_train = _delegate("points_train", "training points (N, 2) in the plane's coordinates")
    points_test = _delegate("points_test", "test points (N, 2) in the plane's coordinates")
    y_train = _delegate("y_train", "training labels or targets (N,)")
    y_test = _delegate("y_test", "test labels or targets (N,)")
    X_train = _delegate("X_train", "training points as the network's input features (N, F)")
    X_test = _delegate("X_test", "test points as the network's input features (N, F)")
    feature_map = _delegate("feature_map", "points (N, 2) -> features (N, F)")
    model = _delegate("model", "the network (a Sequential from layers.mlp)")
    trainer = _delegate("trainer", "the training.Trainer that trains it")
    epoch = _delegate("epoch", "epochs trained since the network was built")
    train_loss = _delegate("train_loss", "training loss per epoch, epoch 0 included")
    test_loss = _delegate("test_loss", "test loss per epoch, epoch 0 included")
    diverged = _delegate("diverged", "True once a loss or weight became NaN or infinite")

    def __init__(self, config: str | None = None, *, data=None, **settings):
        self.state = PlaygroundState(config, data=data, **settings)  # errors before any widget exists
        super().__init__(figsize=(11.5, 5.2), dpi=80)
        self.frame_seconds: list[float] = []   # kernel time per Play tick: training + redraw
        xs = np.linspace(-VIEW, VIEW, GRID)
        xx, yy = np.meshgrid(xs, xs)                                      # (GRID, GRID): rows are x2
        self.grid_points = np.stack([xx.ravel(), yy.ravel()], axis=1)     # (GRID*GRID, 2)
        self._feature_tiles = {}                                          # name -> RGBA (TILE, TILE, 4)
        for name, formula in FEATURES.items():
            tile = formula(xx, yy)[::2, ::2]
            self._feature_tiles[name] = _colour(tile / np.max(np.abs(tile)))
        self._build_controls()
        self._build_figure()
        self._show_state()
        self.update()

    # ----------------------------------------------------------------------------------------
    # Controls
    # ----------------------------------------------------------------------------------------
    def _build_controls(self):
        s = self.settings
        def wide():  # a Layout per control: hiding one (layout.display) must not hide the others
            return widgets.Layout(width="250px")

        datasets = list(DATASETS) + ([OWN_DATA] if self.state.own is not None else [])
        self.dataset_control = widgets.Dropdown(options=datasets, value=s.dataset, description="data",
                                                layout=wide())
        self.noise_control = widgets.IntSlider(value=s.noise, min=0, max=50, step=5, description="noise %",
                                               layout=wide())
        self.train_control = widgets.IntSlider(value=s.train_percent, min=10, max=90, step=10,
                                               description="train %", layout=wide())
        self.batch_control = widgets.IntSlider(value=s.batch_size, min=1, max=30, description="batch",
                                               layout=wide())
        self.classes_control = widgets.IntSlider(value=s.classes, min=2, max=6, description="classes",
                                                 layout=wide())
        self.regenerate_button = widgets.Button(description="New data", tooltip="draw a new sample (new data seed)",
                                                layout=widgets.Layout(width="100px"))
        self.feature_controls = {name: widgets.ToggleButton(value=name in s.features, description=name,
                                                            layout=widgets.Layout(width="64px"))
                                 for name in FEATURES}
        self.lr_control = widgets.Dropdown(options=LEARNING_RATES, value=s.learning_rate,
                                           description="learning rate", layout=wide(),
                                           style={"description_width": "initial"})
        self.optimizer_control = widgets.Dropdown(options=OPTIMIZERS, value=s.optimizer, description="optimizer",
                                                  layout=wide())
        self.activation_control = widgets.Dropdown(options=ACTIVATIONS, value=s.activations[0] if s.activations
                                                   else "tanh", description="activation", layout=wide())
        self.regularization_control = widgets.Dropdown(options=REGULARIZATIONS, value=s.regularization,
                                                       description="regularize", layout=wide())
        self.rate_control = widgets.Dropdown(options=REGULARIZATION_RATES, value=s.regularization_rate,
                                             description="reg. rate", layout=wide())
        self.dropout_control = widgets.FloatSlider(value=s.dropout, min=0, max=0.5, step=0.05,
                                                   description="dropout", layout=wide())
        self.discretize_control = widgets.Checkbox(value=s.discretize, description="discretize output")
        self.test_control = widgets.Checkbox(value=s.show_test, description="show test data")
        self.play = widgets.Play(value=0, min=0, max=10**9, step=1, interval=80, show_repeat=False,
                                 description="play")
        self.step_button = widgets.Button(description="Step", tooltip="train one epoch",
                                          layout=widgets.Layout(width="70px"))
        self.reset_button = widgets.Button(description="Reset", tooltip="new random weights (next init seed)",
                                           layout=widgets.Layout(width="70px"))
        self.add_layer_button = widgets.Button(description="+ layer", layout=widgets.Layout(width="70px"))
        self.remove_layer_button = widgets.Button(description="− layer", layout=widgets.Layout(width="70px"))
        self.layers_label = widgets.HTML()
        self.layer_rows, self.layer_minus, self.layer_plus, self.layer_labels, self.layer_activations = [], [], [], [], []
        for i in range(MAX_LAYERS):
            minus = widgets.Button(description="−", layout=widgets.Layout(width="32px"))
            plus = widgets.Button(description="+", layout=widgets.Layout(width="32px"))
            label = widgets.HTML()
            act = widgets.Dropdown(options=ACTIVATIONS, value="tanh", layout=widgets.Layout(width="90px"))
            minus.on_click(lambda _, i=i: self._change_neurons(i, -1))
            plus.on_click(lambda _, i=i: self._change_neurons(i, +1))
            self.observe(act, handler=lambda change, i=i: self._on_layer_activation(i, change))
            self.layer_minus.append(minus)
            self.layer_plus.append(plus)
            self.layer_labels.append(label)
            self.layer_activations.append(act)
            self.layer_rows.append(widgets.HBox([widgets.HTML(f"layer {i + 1}:"), minus, plus, label, act]))
        self.config_text = widgets.Textarea(placeholder="Press 'Get config' for a string that restores this "
                                                        "exact state; paste one and press 'Load'.",
                                            layout=widgets.Layout(width="520px", height="48px"))
        self.get_config_button = widgets.Button(description="Get config", layout=widgets.Layout(width="100px"))
        self.load_config_button = widgets.Button(description="Load", layout=widgets.Layout(width="70px"))

        self.controls = widgets.VBox([
            widgets.HBox([self.play, self.step_button, self.reset_button, self.status]),
            widgets.HBox([
                widgets.VBox([self.dataset_control, self.classes_control, self.noise_control, self.train_control,
                              self.batch_control, self.regenerate_button]),
                widgets.VBox([self.lr_control, self.optimizer_control, self.activation_control,
                              self.regularization_control, self.rate_control, self.dropout_control]),
                widgets.VBox([widgets.HBox([self.add_layer_button, self.remove_layer_button, self.layers_label]),
                              *self.layer_rows]),
            ]),
            widgets.HBox([widgets.HTML("features:"), *self.feature_controls.values(), self.discretize_control,
                          self.test_control]),
            widgets.HBox([self.config_text, widgets.VBox([self.get_config_button, self.load_config_button])]),
        ])

        self.observe(self.play, handler=self._on_tick)
        self.step_button.on_click(lambda _: self.step())
        self.reset_button.on_click(lambda _: self.reset())
        self.regenerate_button.on_click(lambda _: self._set(data_seed=self.settings.data_seed + 1))
        self.add_layer_button.on_click(lambda _: self._change_layers(+1))
        self.remove_layer_button.on_click(lambda _: self._change_layers(-1))
        self.get_config_button.on_click(lambda _: setattr(self.config_text, "value", self.config()))
        self.load_config_button.on_click(lambda _: self.load_config(self.config_text.value))
        bind = {
            self.dataset_control: "dataset", self.noise_control: "noise", self.train_control: "train_percent",
            self.batch_control: "batch_size", self.classes_control: "classes", self.lr_control: "learning_rate",
            self.optimizer_control: "optimizer", self.regularization_control: "regularization",
            self.rate_control: "regularization_rate", self.dropout_control: "dropout",
            self.discretize_control: "discretize", self.test_control: "show_test",
        }
        for control, name in bind.items():  # a control the code sets quietly() triggers nothing
            self.observe(control, handler=lambda change, name=name: self._set(**{name: change["new"]}))
        self.observe(self.activation_control, handler=self._on_global_activation)
        for name, toggle in self.feature_controls.items():
            self.observe(toggle, handler=lambda change, name=name: self._on_feature(name, change["new"]))

    def _on_feature(self, name, on):
        chosen = [f for f in FEATURES if (f == name and on) or (f != name and f in self.settings.features)]
        if not chosen:  # at least one input: undo the click
            with self.quietly():
                self.feature_controls[name].value = True
            self.status.value = "The network needs at least one input feature."
            return
        self._set(features=chosen)

    def _on_global_activation(self, change):
        self._set(activations=[change["new"]] * len(self.settings.hidden))

    def _on_layer_activation(self, i, change):
        if i < len(self.settings.hidden):
            activations = list(self.settings.activations)
            activations[i] = change["new"]
            self._set(activations=activations)

    def _change_layers(self, delta):
        hidden, activations = list(self.settings.hidden), list(self.settings.activations)
        if delta > 0 and len(hidden) < MAX_LAYERS:
            hidden.append(hidden[-1] if hidden else 4)
            activations.append(activations[-1] if activations else self.activation_control.value)
        elif delta < 0 and hidden:
            hidden.pop()
            activations.pop()
        self._set(hidden=hidden, activations=activations)

    def _change_neurons(self, layer, delta):
        hidden = list(self.settings.hidden)
        if layer < len(hidden):
            hidden[layer] = int(np.clip(hidden[layer] + delta, 1, MAX_NEURONS))
            self._set(hidden=hidden)

    def _sync_controls(self):
        """Show the state's settings on the controls (quietly: they are applied already)."""
        s = self.settings
        with self.quietly():
            datasets = list(DATASETS) + ([OWN_DATA] if self.state.own is not None else [])
            if list(self.dataset_control.options) != datasets:
                self.dataset_control.options = datasets
            self.dataset_control.value = s.dataset
            self.noise_control.value, self.train_control.value = s.noise, s.train_percent
            self.batch_control.value, self.classes_control.value = s.batch_size, s.classes
            self.lr_control.value, self.optimizer_control.value = s.learning_rate, s.optimizer
            self.regularization_control.value, self.rate_control.value = s.regularization, s.regularization_rate
            self.dropout_control.value = s.dropout
            self.discretize_control.value, self.test_control.value = s.discretize, s.show_test
            for name, toggle in self.feature_controls.items():
                toggle.value = name in s.features
            if s.activations and len(set(s.activations)) == 1:
                self.activation_control.value = s.activations[0]
            for i, row in enumerate(self.layer_rows):
                row.layout.display = "" if i < len(s.hidden) else "none"
                if i < len(s.hidden):
                    self.layer_labels[i].value = f"{s.hidden[i]} neuron{'s' if s.hidden[i] > 1 else ''}"
                    self.layer_activations[i].value = s.activations[i]
            self.layers_label.value = f"{len(s.hidden)} hidden layer{'s' if len(s.hidden) != 1 else ''}"
            self.classes_control.layout.display = "" if self.task == "multiclass" and s.dataset != OWN_DATA else "none"
            self.noise_control.disabled = s.dataset == OWN_DATA

    # ----------------------------------------------------------------------------------------
    # Changing the state
    # ----------------------------------------------------------------------------------------
    def set(self, **changes) -> "Playground":
        """Change settings from code, as the controls do: ``pg.set(dataset="xor", hidden=[8, 8])``."""
        self._set(**changes)
        return self

    def _set(self, **changes):
        changed = self.state.set(**changes)
        if changed & DATA_SETTINGS:
            self._show_points()
        if changed & (DATA_SETTINGS | NETWORK_SETTINGS):
            self._layout_network()
        self._sync_controls()
        if changed:
            self.refresh()

    def _show_state(self):
        """After a new or loaded state: points, network layout and controls."""
        self._show_points()
        self._layout_network()
        self._sync_controls()

    def step(self, epochs: int = 1) -> bool:
        """Train ``epochs`` epochs (mini-batches over the training points) and redraw once.

        Returns False - and stops play, with the reason in the status line - if training
        diverged (a NaN or infinite loss or weight); True otherwise.
        """
        if self.diverged:
            self.status.value = _red("Training diverged - press Reset (and lower the learning rate).")
            self.play.playing = False
            return False
        if not self.state.train(epochs):
            self.play.playing = False
            self.status.value = _red(f"Stopped at epoch {self.epoch}: training diverged ({self.state.divergence}). "
                                     f"The learning rate {self.settings.learning_rate:g} is too high for this "
                                     f"network - lower it and press Reset.")
            self.refresh()
            return False
        self.refresh()
        return True

    def _on_tick(self, change):
        if change["new"] <= change["old"]:
            return  # the Play widget's stop button rewinds to 0
        start = time.perf_counter()
        self.step(1)
        elapsed = time.perf_counter() - start
        self.frame_seconds.append(elapsed)
        # Never let ticks pile up in the kernel's queue (Pause must act at once): slow the
        # browser's timer down if a frame takes longer than the interval.
        if elapsed * 1000 > 0.9 * self.play.interval:
            self.play.interval = int(min(1000, elapsed * 1300))

    def reset(self, init_seed: int | None = None) -> "Playground":
        """New random weights (the next init seed, or ``init_seed``), epoch 0, histories cleared."""
        self.play.playing = False
        self._set(init_seed=self.settings.init_seed + 1 if init_seed is None else int(init_seed))
        self.status.value = f"Reset: new weights (init seed {self.settings.init_seed})."
        return self

    # ----------------------------------------------------------------------------------------
    # Config string and export: the state's
    # ----------------------------------------------------------------------------------------
    def config(self, weights: bool = True) -> str:
        """A URL-safe string that restores this Playground: the settings, and with ``weights``
        the exact training state (parameters, optimizer moments, random generators, losses)."""
        return self.state.config(weights=weights)

    def load_config(self, config: str) -> "Playground":
        """Restore the state a :meth:`config` string describes (what the *Load* button does)."""
        self.play.playing = False
        self.state.load_config(config)
        self._show_state()
        self.status.value = f"Loaded a config: epoch {self.epoch}."
        self.refresh()
        return self

    def to_torch(self):
        """The trained network as ``torch.nn.Sequential(features, layers...)``: raw points (N, 2)
        in, the output layer's values out (a logit, a prediction, or one logit per class)."""
        return self.state.to_torch()

    def predict(self, points) -> np.ndarray:
        """The network's raw output for points (N, 2) in the plane's coordinates (evaluation mode)."""
        return self.state.predict(points)

    # ----------------------------------------------------------------------------------------
    # Figure
    # ----------------------------------------------------------------------------------------
    def _build_figure(self):
        fig = self.fig
        self.ax_net = fig.add_axes([0.005, 0.02, 0.60, 0.96])
        self.ax_out = fig.add_axes([0.665, 0.36, 0.31, 0.59])
        self.ax_loss = fig.add_axes([0.665, 0.03, 0.31, 0.16])
        # network: one RGBA image holding every tile, links below it
        self.net_width, self.net_height = 8 * TILE * 2.2, MAX_NEURONS * TILE * 1.35
        self.net_image = _PixelImage(self.ax_net, origin="lower", interpolation="nearest",
                                     extent=(0, self.net_width, 0, self.net_height), zorder=2)
        self.net_image.set_data(np.zeros((2, 2, 4), np.uint8))
        self.ax_net.add_image(self.net_image)
        self.ax_net.set_aspect("equal")  # square tiles, as imshow() would set
        self.links = LineCollection([], zorder=1, capstyle="round")
        self.ax_net.add_collection(self.links)
        self.ax_net.set_xlim(0, self.net_width)
        self.ax_net.set_ylim(-4, self.net_height + 28)
        self.ax_net.set_axis_off()
        self.column_labels = [self.ax_net.text(0, self.net_height + 14, "", ha="center", va="center", fontsize=9)
                              for _ in range(MAX_LAYERS + 2)]
        self.feature_labels = [self.ax_net.text(0, 0, name, ha="right", va="center", fontsize=8)
                               for name in FEATURES]
        # A new architecture moves these labels: they are stamped from pictures drawn once per
        # string, and repainted over a saved picture of the rest of the figure (a layer added or
        # removed does not redraw the whole figure). Unused column labels get an empty text.
        self._label_stamps = [StampedText(label, axes=self.ax_net) for label in self.column_labels + self.feature_labels]
        self._labels_backdrop = Backdrop(self, self._label_stamps)
        # output
        self.out_image = self.ax_out.imshow(np.zeros((GRID, GRID, 4), np.uint8), origin="lower",
                                            extent=(-VIEW, VIEW, -VIEW, VIEW), interpolation="bilinear")
        self.train_scatter = self.ax_out.scatter([], [], s=22, edgecolors="white", linewidths=0.6, zorder=3)
        self.test_scatter = self.ax_out.scatter([], [], s=22, edgecolors="black", linewidths=0.6, zorder=4)
        self.ax_out.set_xlim(-VIEW, VIEW)
        self.ax_out.set_ylim(-VIEW, VIEW)
        self.ax_out.set_xticks([-6, -3, 0, 3, 6])
        self.ax_out.set_yticks([-6, -3, 0, 3, 6])
        self.ax_out.tick_params(labelsize=8)
        self.ax_out.set_xlabel("x1", fontsize=9, labelpad=1)
        self.ax_out.set_ylabel("x2", fontsize=9, labelpad=1)
        self.out_title = self.ax_out.set_title(" ", fontsize=10)
        # loss sparkline: fixed [0, 1] x [0, 1] axes, data rescaled, numbers in the text
        (self.train_line,) = self.ax_loss.plot([], [], "-", color="0.15", lw=1.4)
        (self.test_line,) = self.ax_loss.plot([], [], "--", color="0.45", lw=1.4)
        self.ax_loss.set_xlim(0, 1)
        self.ax_loss.set_ylim(0, 1.05)
        self.ax_loss.set_xticks([])
        self.ax_loss.set_yticks([])
        self.ax_loss.set_title("loss per epoch: train (solid), test (dashed)", fontsize=9, pad=3)
        # Text is slow to draw, so the changing numbers go to the status line, not the figure.
        self.animate(self.links, self.net_image, self.out_image, self.train_scatter, self.test_scatter,
                     self.train_line, self.test_line)

    def _show_points(self):
        for scatter, pts, ys in ((self.train_scatter, self.points_train, self.y_train),
                                 (self.test_scatter, self.points_test, self.y_test)):
            scatter.set_offsets(pts)
            scatter.set_facecolors(self._point_colours(ys))

    def _point_colours(self, targets):
        if self.task == "regression":
            return _colour(np.clip(targets, -1, 1)) / 255.0
        return [CLASS_COLORS[int(t) % len(CLASS_COLORS)] for t in targets]

    def _layout_network(self):
        """Tile positions for the current architecture (static labels move, so redraw them)."""
        s = self.settings
        n_out = self.n_classes if self.task == "multiclass" else 1
        columns = [len(FEATURES), *s.hidden, n_out]
        spacing = self.net_width / (len(columns) + 0.3)
        self._tile_x = [spacing * (j + 0.8) for j in range(len(columns))]      # column centres
        step = TILE * 1.35
        self._tile_y = [[self.net_height / 2 + ((n - 1) / 2 - i) * step for i in range(n)] for n in columns]
        names = ["features", *[f"{n} {a}" for n, a in zip(s.hidden, s.activations)], "output"]
        for j, label in enumerate(self.column_labels):
            if j < len(columns):
                label.set_position((self._tile_x[j], self.net_height + 14))
                label.set_text(names[j] if j in (0, len(columns) - 1) else f"layer {j}\n{names[j]}")
            else:
                label.set_text("")
        for i, label in enumerate(self.feature_labels):
            label.set_position((self._tile_x[0] - TILE / 2 - 3, self._tile_y[0][i]))
            label.set_alpha(1.0 if list(FEATURES)[i] in s.features else 0.35)
        width, height = int(math.ceil(self.net_width)), int(math.ceil(self.net_height))
        self._net_rgba = np.zeros((height, width, 4), np.uint8)
        layout = (tuple(columns), tuple(names), tuple(s.features))
        if layout != getattr(self, "_drawn_layout", None):  # labels moved: repaint them
            first = not hasattr(self, "_drawn_layout")
            self._drawn_layout = layout
            if first:
                self.invalidate()
            else:
                self._labels_backdrop.repaint()

    def update(self):
        s = self.settings
        outputs = self.state.layer_outputs(self.grid_points)  # [features, hidden..., output] on the grid
        finite = all(np.isfinite(o).all() for o in outputs)
        if finite:
            self._draw_network(outputs)
            self._draw_output(outputs[-1])
        self.test_scatter.set_visible(s.show_test)
        self._draw_losses()
        what = {"binary": "P(blue)", "regression": "prediction", "multiclass": "most likely class"}[self.task]
        title = f"output: {what}" + ("" if finite else " - diverged")
        if title != self.out_title.get_text():  # static text: redraw the background once
            self.out_title.set_text(title)
            self._labels_backdrop.forget()  # its saved picture has the old title
            self.invalidate()
        if not self.diverged:
            self.status.value = (f"epoch {self.epoch} · train loss {self.train_loss[-1]:.3f} · "
                                 f"test loss {self.test_loss[-1]:.3f}")

    def _draw_network(self, outputs):
        s = self.settings
        rgba = self._net_rgba
        rgba[...] = 0
        half = TILE // 2
        for j, column_x in enumerate(self._tile_x):
            for i, row_y in enumerate(self._tile_y[j]):
                if j == 0:  # all seven features are shown; those not fed to the network are faded
                    name = list(FEATURES)[i]
                    colours = self._feature_tiles[name].copy()
                    alpha = 255 if name in s.features else 70
                else:
                    tile = outputs[j][:, i].reshape(GRID, GRID)[::2, ::2]          # (TILE, TILE)
                    scale = np.max(np.abs(tile))
                    colours = _colour(tile / scale if scale > 0 else tile)
                    alpha = 255
                colours[..., 3] = alpha
                c0, r0 = int(column_x) - half, int(row_y) - half
                rgba[r0 - 1 : r0 + TILE + 1, c0 - 1 : c0 + TILE + 1] = (120, 120, 120, alpha)  # frame
                rgba[r0 : r0 + TILE, c0 : c0 + TILE] = colours
        self.net_image.set_data(rgba)
        # links: every Linear layer's weight (out, in) between consecutive columns
        segments, widths, colours = [], [], []
        linears = self.state.linears
        active = [list(FEATURES).index(f) for f in s.features]
        for j, layer in enumerate(linears):
            sources = active if j == 0 else range(len(self._tile_y[j]))
            weight = layer.params["weight"]                                        # (out, in)
            for k, target_y in enumerate(self._tile_y[j + 1]):
                for col, i in enumerate(sources):
                    w = weight[k, col]
                    segments.append(((self._tile_x[j] + TILE / 2, self._tile_y[j][i]),
                                     (self._tile_x[j + 1] - TILE / 2, target_y)))
                    widths.append(min(0.3 + 1.6 * abs(w), 5.0))
                    colours.append(POSITIVE if w > 0 else NEGATIVE)
        self.links.set_segments(segments)
        self.links.set_linewidths(widths)
        self.links.set_colors(colours)

    def _draw_output(self, out):
        s = self.settings
        # The background stops at OUTPUT_STRENGTH of the class colour, so the points (full colour,
        # white rims) stay visible where the network is sure of them.
        if self.task == "binary":
            p = sigmoid(out[:, 0])                                                 # (G*G,) P(blue)
            value = np.sign(p - 0.5) if s.discretize else 2 * p - 1
            rgba = _colour(OUTPUT_STRENGTH * value.reshape(GRID, GRID))             # (G*G,) -> (G, G, 4)
        elif self.task == "regression":
            value = np.clip(out[:, 0], -1, 1)
            rgba = _colour(OUTPUT_STRENGTH * (np.sign(value) if s.discretize else value).reshape(GRID, GRID))  # (G, G, 4)
        else:
            p = softmax(out, axis=1)                                               # (G*G, C)
            winner = p.argmax(axis=1)
            base = np.array([to_rgb(CLASS_COLORS[c % len(CLASS_COLORS)]) for c in range(out.shape[1])])
            chance = 1 / out.shape[1]
            strength = np.full(len(p), 0.6) if s.discretize else 0.75 * (p.max(axis=1) - chance) / (1 - chance)
            rgb = 1 - strength[:, None] * (1 - base[winner])                       # blend with white
            rgba = np.concatenate([rgb, np.ones((len(p), 1))], axis=1)
            rgba = (rgba * 255).astype(np.uint8).reshape(GRID, GRID, 4)            # (G*G, 4) -> (G, G, 4)
        self.out_image.set_data(rgba)

    def _draw_losses(self):
        n = len(self.train_loss)
        top = max(max(self.train_loss, default=1.0), max(self.test_loss, default=1.0), 1e-12)
        x = np.arange(n) / max(n - 1, 1)
        self.train_line.set_data(x, np.array(self.train_loss) / top)
        self.test_line.set_data(x, np.array(self.test_loss) / top)


def _red(text: str) -> str:
    return f"<span style='color:#c0392b'><b>{text}</b></span>"
