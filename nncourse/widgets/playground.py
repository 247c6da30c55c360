"""The Playground (notebooks 03 and 04): TensorFlow Playground inside Jupyter, on the from-scratch MLP.

Pick a 2-D dataset, the input features, up to 6 hidden layers of up to 8 neurons, activations,
learning rate, optimizer, L1/L2 regularization and dropout; press Play and watch every neuron
learn. Left of the figure: the network - one small heatmap per feature and per neuron (its
output over the input plane, each scaled to its own largest magnitude), links coloured by the
sign of their weight (blue positive, orange negative) and as thick as its magnitude. Right:
the network's output over the plane with the training points (white rims) and test points
(black rims), and the train (solid) and test (dashed) loss curves.

Everything is NumPy code from the course: ``nncourse.layers`` for the network,
``nncourse.training.Trainer`` for the mini-batch loop, ``nncourse.optim`` for the optimizer.

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

import base64
import json
import math
import time
import zlib
from dataclasses import asdict, dataclass, field

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap, to_rgb

from .. import data
from ..data import load_points  # (the name ``data`` is also Playground's argument for the learner's points)
from ..layers import ActivationLayer, Linear, Sequential
from ..plotting import CLASS_COLORS
from ..regularization import Dropout
from ..training import Trainer
from .base import FigureWidget

# --- what can be chosen -----------------------------------------------------------------------

# name -> (task, generator(n, noise, seed[, classes])); tasks: "binary", "regression", "multiclass"
DATASETS = {
    "circle": ("binary", data.circle),
    "xor": ("binary", data.xor),
    "gaussian": ("binary", data.gaussian),
    "spiral": ("binary", data.spiral),
    "plane (regression)": ("regression", data.regress_plane),
    "multi-gaussian (regression)": ("regression", data.regress_gaussian),
    "blobs (multi-class)": ("multiclass", data.blobs),
    "spiral arms (multi-class)": ("multiclass", data.spiral_arms),
}
OWN_DATA = "own data"
SAMPLES = {"binary": 500, "multiclass": 600, "regression": 800}

# Inputs are computed from the raw coordinates (about [-6, 6]) and scaled to about [-3, 3] so
# the default learning rate suits all of them.
FEATURES = {
    "x1": lambda x1, x2: x1 / 2,
    "x2": lambda x1, x2: x2 / 2,
    "x1²": lambda x1, x2: x1 * x1 / 12,
    "x2²": lambda x1, x2: x2 * x2 / 12,
    "x1·x2": lambda x1, x2: x1 * x2 / 12,
    "sin x1": lambda x1, x2: _sin(x1),
    "sin x2": lambda x1, x2: _sin(x2),
}
ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear"]
LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
REGULARIZATIONS = ["none", "L1", "L2"]
REGULARIZATION_RATES = [0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
OPTIMIZERS = ["sgd", "momentum", "adam"]
MAX_LAYERS, MAX_NEURONS = 6, 8
VIEW = 6.0          # the plane shown: [-6, 6]^2
GRID = 50           # output heatmap resolution; neuron tiles use every other point
TILE = GRID // 2
CONFIG_VERSION = 1

NEGATIVE, POSITIVE = CLASS_COLORS[0], CLASS_COLORS[1]   # orange, blue (as in TensorFlow Playground)
_CMAP = LinearSegmentedColormap.from_list("playground", [NEGATIVE, "#f7f7f7", POSITIVE])
_LUT = (_CMAP(np.linspace(0, 1, 256)) * 255).astype(np.uint8)  # value in [-1, 1] -> RGBA, by lookup
OUTPUT_STRENGTH = 0.6  # the output background's strongest colour: 60% of the way from white


def _sin(x):
    return x.sin() if hasattr(x, "sin") and not isinstance(x, np.ndarray) else np.sin(x)


def _colour(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] (any shape) -> RGBA uint8 (..., 4) through the orange-white-blue map."""
    index = np.clip(((values + 1) * 127.5).astype(np.int64), 0, 255)
    return _LUT[index]


@dataclass
class Settings:
    """Everything a learner can set; with the seeds it determines the run exactly."""

    dataset: str = "circle"
    noise: int = 0                    # percent, 0-50
    train_percent: int = 50           # 10-90
    batch_size: int = 10
    classes: int = 3                  # multi-class datasets only
    features: list[str] = field(default_factory=lambda: ["x1", "x2"])
    hidden: list[int] = field(default_factory=lambda: [4, 2])
    activations: list[str] = field(default_factory=lambda: ["tanh", "tanh"])
    learning_rate: float = 0.03
    optimizer: str = "sgd"
    regularization: str = "none"
    regularization_rate: float = 0.0
    dropout: float = 0.0
    discretize: bool = False
    show_test: bool = False
    data_seed: int = 0
    init_seed: int = 0

    def check(self, own_data: bool = False) -> "Settings":
        """Raise a clear error for any value outside what the Playground offers."""
        names = list(DATASETS) + ([OWN_DATA] if own_data else [])
        _require(self.dataset in names, f"dataset must be one of {names}, got {self.dataset!r}")
        _require(0 <= self.noise <= 50, f"noise must be a percentage from 0 to 50, got {self.noise!r}")
        _require(10 <= self.train_percent <= 90, f"train_percent must be from 10 to 90, got {self.train_percent!r}")
        _require(1 <= self.batch_size <= 30, f"batch_size must be from 1 to 30, got {self.batch_size!r}")
        _require(2 <= self.classes <= 6, f"classes must be from 2 to 6, got {self.classes!r}")
        unknown = [f for f in self.features if f not in FEATURES]
        _require(not unknown and self.features, f"features must be a non-empty list from {list(FEATURES)}, "
                                                f"got {self.features!r}")
        _require(len(self.hidden) <= MAX_LAYERS and all(1 <= n <= MAX_NEURONS for n in self.hidden),
                 f"hidden must list up to {MAX_LAYERS} layer widths from 1 to {MAX_NEURONS}, got {self.hidden!r}")
        _require(len(self.activations) == len(self.hidden) and all(a in ACTIVATIONS for a in self.activations),
                 f"activations must name one of {ACTIVATIONS} per hidden layer ({len(self.hidden)}), "
                 f"got {self.activations!r}")
        _require(self.learning_rate in LEARNING_RATES, f"learning_rate must be one of {LEARNING_RATES}, "
                                                       f"got {self.learning_rate!r}")
        _require(self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        _require(self.regularization in REGULARIZATIONS,
                 f"regularization must be one of {REGULARIZATIONS}, got {self.regularization!r}")
        _require(self.regularization_rate in REGULARIZATION_RATES,
                 f"regularization_rate must be one of {REGULARIZATION_RATES}, got {self.regularization_rate!r}")
        _require(0 <= self.dropout <= 0.5, f"dropout must be from 0 to 0.5, got {self.dropout!r}")
        return self


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


class FeatureMap:
    """Raw points (N, 2) -> the chosen input features (N, F), in NumPy; ``to_torch()`` gives the twin."""

    def __init__(self, features: list[str]):
        self.features = list(features)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        x1, x2 = points[:, 0], points[:, 1]
        return np.stack([FEATURES[name](x1, x2) for name in self.features], axis=1)  # (N, F)

    def to_torch(self):
        import torch

        features = list(self.features)

        class PlaygroundFeatures(torch.nn.Module):
            """(N, 2) raw points -> (N, F) features, as in the Playground."""

            def forward(self, points):
                x1, x2 = points[:, 0], points[:, 1]
                return torch.stack([FEATURES[name](x1, x2) for name in features], dim=1)

            def extra_repr(self):
                return ", ".join(features)

        return PlaygroundFeatures()


def build_network(settings: Settings, n_inputs: int, n_outputs: int) -> Sequential:
    """Linear -> activation [-> Dropout] per hidden layer, then a Linear output layer."""
    layers = []
    widths = [n_inputs, *settings.hidden, n_outputs]
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(Linear(n_in, n_out, seed=1000 * settings.init_seed + i))
        if i < len(settings.hidden):
            layers.append(ActivationLayer(settings.activations[i]))
            if settings.dropout > 0:
                layers.append(Dropout(settings.dropout, seed=1000 * settings.init_seed + 100 + i))
    return Sequential(*layers)


# --- the widget -------------------------------------------------------------------------------


class Playground(FigureWidget):
    """TensorFlow Playground in Jupyter, on the course's NumPy MLP. See the module docstring.

    Playground()                              # circle, 2 features, 4-2 tanh, SGD 0.03
    Playground(dataset="spiral", hidden=[8, 8, 8], activations=["relu"] * 3, optimizer="adam")
    Playground(data=(X, y))                   # your own points: X (N, 2), labels or targets y (N,)
    Playground(config="...")                  # restore the exact state from Playground.config()

    Keyword arguments are fields of :class:`Settings`; ``step(n)`` trains n epochs headless.
    """

    image_format = "jpeg"  # ~10 frames/s of smooth heatmaps: JPEG is 2x smaller and 10x faster to encode

    def __init__(self, config: str | None = None, *, data=None, **settings):
        super().__init__(figsize=(11.5, 5.2), dpi=80)
        self._own = None
        if data is not None:
            self._own = _normalise_own_data(*load_points(data))
            settings.setdefault("dataset", OWN_DATA)
        restored = _decode(config) if config is not None else None
        if restored is not None:
            if "own_data" in restored:
                self._own = (_unpack(restored["own_data"]["X"]), _unpack(restored["own_data"]["y"]))
            settings = {**restored["settings"], **settings}
        if "hidden" in settings and "activations" not in settings:
            settings["activations"] = ["tanh"] * len(settings["hidden"])
        try:
            self.settings = Settings(**settings).check(own_data=self._own is not None)
        except TypeError as err:
            raise TypeError(f"unknown Playground setting: {err}; the settings are "
                            f"{list(Settings.__dataclass_fields__)}") from None
        self.frame_seconds: list[float] = []   # kernel time per Play tick: training + redraw
        self.diverged = False
        self._building = False
        self._build_controls()
        self._build_figure()
        self._make_data()
        self._new_network()
        if restored is not None and "state" in restored:
            self._restore_state(restored["state"])
        self._sync_controls_from_settings()
        self._layout_network()
        self.update()

    # ----------------------------------------------------------------------------------------
    # Controls
    # ----------------------------------------------------------------------------------------
    def _build_controls(self):
        s = self.settings
        def wide():  # a Layout per control: hiding one (layout.display) must not hide the others
            return widgets.Layout(width="250px")

        datasets = list(DATASETS) + ([OWN_DATA] if self._own is not None else [])
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
            act.observe(lambda change, i=i: self._on_layer_activation(i, change), names="value")
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

        self.play.observe(self._on_tick, names="value")
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
        for control, name in bind.items():
            control.observe(lambda change, name=name: self._from_control(name, change["new"]), names="value")
        self.activation_control.observe(self._on_global_activation, names="value")
        for name, toggle in self.feature_controls.items():
            toggle.observe(lambda change, name=name: self._on_feature(name, change["new"]), names="value")

    def _from_control(self, name, value):
        if not self._building:
            self._set(**{name: value})

    def _on_feature(self, name, on):
        if self._building:
            return
        chosen = [f for f in FEATURES if (f == name and on) or (f != name and f in self.settings.features)]
        if not chosen:  # at least one input: undo the click
            self._building = True
            self.feature_controls[name].value = True
            self._building = False
            self.status.value = "The network needs at least one input feature."
            return
        self._set(features=chosen)

    def _on_global_activation(self, change):
        if not self._building:
            self._set(activations=[change["new"]] * len(self.settings.hidden))

    def _on_layer_activation(self, i, change):
        if not self._building and i < len(self.settings.hidden):
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

    def _sync_controls_from_settings(self):
        """Show ``self.settings`` on the controls without triggering their callbacks."""
        s = self.settings
        self._building = True
        try:
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
        finally:
            self._building = False

    # ----------------------------------------------------------------------------------------
    # Changing settings: what each change rebuilds
    # ----------------------------------------------------------------------------------------
    def set(self, **changes) -> "Playground":
        """Change settings from code, as the controls do: ``pg.set(dataset="xor", hidden=[8, 8])``."""
        self._set(**changes)
        return self

    def _set(self, **changes):
        unknown = sorted(set(changes) - set(Settings.__dataclass_fields__))
        if unknown:
            raise TypeError(f"unknown Playground setting(s) {unknown}; the settings are "
                            f"{list(Settings.__dataclass_fields__)}")
        if "hidden" in changes and "activations" not in changes:
            old = self.settings.activations
            changes["activations"] = [old[i] if i < len(old) else (old[-1] if old else "tanh")
                                      for i in range(len(changes["hidden"]))]
        new = Settings(**{**asdict(self.settings), **changes}).check(own_data=self._own is not None)
        old, self.settings = self.settings, new
        data_keys = {"dataset", "noise", "train_percent", "classes", "data_seed"}
        network_keys = {"features", "hidden", "activations", "optimizer", "dropout", "init_seed"}
        changed = {k for k in changes if getattr(old, k) != getattr(new, k)}
        if changed & data_keys:
            self._make_data()
        if changed & (data_keys | network_keys):
            self._new_network()
            self._layout_network()
        else:  # applied on the fly, training continues
            self.trainer.optimizer.lr = new.learning_rate
            self.trainer.batch_size = new.batch_size
            self._apply_regularization()
        self._sync_controls_from_settings()
        if changed:
            self.refresh()

    # ----------------------------------------------------------------------------------------
    # Data, network, training
    # ----------------------------------------------------------------------------------------
    @property
    def task(self) -> str:
        if self.settings.dataset == OWN_DATA:
            return self._own_task
        return DATASETS[self.settings.dataset][0]

    def _make_data(self):
        s = self.settings
        if s.dataset == OWN_DATA:
            points, targets = self._own
            self._own_task = _task_of(targets)
        else:
            task, generate = DATASETS[s.dataset]
            kwargs = {"classes": s.classes} if task == "multiclass" else {}
            points, targets = generate(SAMPLES[task], noise=s.noise / 100, seed=s.data_seed, **kwargs)
        order = np.random.default_rng(s.data_seed).permutation(len(points))
        n_train = max(1, min(len(points) - 1, round(len(points) * s.train_percent / 100)))
        self.points_train, self.points_test = points[order[:n_train]], points[order[n_train:]]
        self.y_train, self.y_test = targets[order[:n_train]], targets[order[n_train:]]
        self.n_classes = int(max(targets.max() + 1, 2)) if self.task == "multiclass" else 1
        xs = np.linspace(-VIEW, VIEW, GRID)
        xx, yy = np.meshgrid(xs, xs)                                      # (GRID, GRID): rows are x2
        self.grid_points = np.stack([xx.ravel(), yy.ravel()], axis=1)     # (GRID*GRID, 2)
        self._feature_tiles = {}
        for name, formula in FEATURES.items():
            tile = formula(xx, yy)[::2, ::2]                                  # (TILE, TILE)
            self._feature_tiles[name] = _colour(tile / np.max(np.abs(tile)))
        for scatter, pts, ys in ((self.train_scatter, self.points_train, self.y_train),
                                 (self.test_scatter, self.points_test, self.y_test)):
            scatter.set_offsets(pts)
            scatter.set_facecolors(self._point_colours(ys))

    def _point_colours(self, targets):
        if self.task == "regression":
            return _colour(np.clip(targets, -1, 1)) / 255.0
        return [CLASS_COLORS[int(t) % len(CLASS_COLORS)] for t in targets]

    def _new_network(self):
        s = self.settings
        self.feature_map = FeatureMap(s.features)
        self.X_train, self.X_test = self.feature_map(self.points_train), self.feature_map(self.points_test)
        self.X_grid = self.feature_map(self.grid_points)
        n_out = self.n_classes if self.task == "multiclass" else 1
        loss = {"binary": "bce", "regression": "mse", "multiclass": "cross_entropy"}[self.task]
        self.model = build_network(s, len(s.features), n_out)
        self.trainer = Trainer(self.model, s.optimizer, lr=s.learning_rate, loss=loss, batch_size=s.batch_size,
                               seed=s.init_seed)
        self._apply_regularization()
        self.epoch = 0
        self.train_loss, self.test_loss = [], []
        self.diverged = False
        self._record_losses()

    def _apply_regularization(self):
        s = self.settings
        self.trainer.l1 = s.regularization_rate if s.regularization == "L1" else 0.0
        self.trainer.l2 = s.regularization_rate if s.regularization == "L2" else 0.0

    def _record_losses(self):
        self.train_loss.append(self.trainer.evaluate(self.X_train, self.y_train)["loss"])
        self.test_loss.append(self.trainer.evaluate(self.X_test, self.y_test)["loss"])

    def step(self, epochs: int = 1) -> bool:
        """Train ``epochs`` epochs (mini-batches over the training points) and redraw once.

        Returns False - and stops play, with the reason in the status line - if training
        diverged (a NaN or infinite loss or weight); True otherwise.
        """
        if self.diverged:
            self.status.value = _red("Training diverged - press Reset (and lower the learning rate).")
            self.play.playing = False
            return False
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                for _ in range(epochs):
                    self.trainer.epoch(self.X_train, self.y_train)
                    self.epoch += 1
                    self._record_losses()
                    if not (math.isfinite(self.train_loss[-1]) and math.isfinite(self.test_loss[-1])
                            and all(np.isfinite(p).all() for p in self.model.params.values())):
                        raise FloatingPointError("a loss or weight is no longer finite")
        except FloatingPointError as err:
            self.diverged = True
            self.play.playing = False
            self.train_loss = [v for v in self.train_loss if math.isfinite(v)]
            self.test_loss = self.test_loss[: len(self.train_loss)]
            self.status.value = _red(f"Stopped at epoch {self.epoch}: training diverged ({err}). The learning "
                                     f"rate {self.settings.learning_rate:g} is too high for this network - lower "
                                     f"it and press Reset.")
            self.refresh()
            return False
        self.refresh()
        return True

    def _on_tick(self, change):
        if change["new"] <= change["old"] or self._building:
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
    # Figure
    # ----------------------------------------------------------------------------------------
    def _build_figure(self):
        fig = self.fig
        self.ax_net = fig.add_axes([0.005, 0.02, 0.60, 0.96])
        self.ax_out = fig.add_axes([0.665, 0.36, 0.31, 0.59])
        self.ax_loss = fig.add_axes([0.665, 0.03, 0.31, 0.16])
        # network: one RGBA image holding every tile, links below it
        self.net_width, self.net_height = 8 * TILE * 2.2, MAX_NEURONS * TILE * 1.35
        self.net_image = self.ax_net.imshow(np.zeros((2, 2, 4), np.uint8), origin="lower", interpolation="nearest",
                                            extent=(0, self.net_width, 0, self.net_height), zorder=2)
        self.links = LineCollection([], zorder=1, capstyle="round")
        self.ax_net.add_collection(self.links)
        self.ax_net.set_xlim(0, self.net_width)
        self.ax_net.set_ylim(-4, self.net_height + 28)
        self.ax_net.set_axis_off()
        self.column_labels = [self.ax_net.text(0, self.net_height + 14, "", ha="center", va="center", fontsize=9)
                              for _ in range(MAX_LAYERS + 2)]
        self.feature_labels = [self.ax_net.text(0, 0, name, ha="right", va="center", fontsize=8)
                               for name in FEATURES]
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
                label.set_visible(True)
            else:
                label.set_visible(False)
        for i, label in enumerate(self.feature_labels):
            label.set_position((self._tile_x[0] - TILE / 2 - 3, self._tile_y[0][i]))
            label.set_alpha(1.0 if list(FEATURES)[i] in s.features else 0.35)
        width, height = int(math.ceil(self.net_width)), int(math.ceil(self.net_height))
        self._net_rgba = np.zeros((height, width, 4), np.uint8)
        layout = (tuple(columns), tuple(names), tuple(s.features))
        if layout != getattr(self, "_drawn_layout", None):  # labels moved: redraw the background
            self._drawn_layout = layout
            self.invalidate()

    def _activations_on_grid(self):
        """Per-layer outputs on the grid in evaluation mode: [features, hidden 1, ..., output]."""
        self.model.eval()
        outputs, h = [self.X_grid], self.X_grid
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                for layer in self.model.layers:
                    h = layer.forward(h)
                    if isinstance(layer, ActivationLayer):
                        outputs.append(h)
        finally:
            self.model.train()
        outputs.append(h)
        return outputs

    def update(self):
        s = self.settings
        outputs = self._activations_on_grid()
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
        linears = [layer for layer in self.model.layers if isinstance(layer, Linear)]
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
            p = 1 / (1 + np.exp(-np.clip(out[:, 0], -50, 50)))
            value = np.sign(p - 0.5) if s.discretize else 2 * p - 1
            rgba = _colour(OUTPUT_STRENGTH * value.reshape(GRID, GRID))             # (G*G,) -> (G, G, 4)
        elif self.task == "regression":
            value = np.clip(out[:, 0], -1, 1)
            rgba = _colour(OUTPUT_STRENGTH * (np.sign(value) if s.discretize else value).reshape(GRID, GRID))  # (G, G, 4)
        else:
            z = out - out.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)                                      # (G*G, C) softmax
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

    # ----------------------------------------------------------------------------------------
    # Config string and export
    # ----------------------------------------------------------------------------------------
    def config(self, weights: bool = True) -> str:
        """A URL-safe string that restores this Playground: the settings, and with ``weights``
        the exact training state (parameters, optimizer moments, random generators, losses)."""
        payload = {"version": CONFIG_VERSION, "settings": asdict(self.settings)}
        if self._own is not None:
            payload["own_data"] = {"X": _pack(self._own[0]), "y": _pack(self._own[1])}
        if weights:
            payload["state"] = {
                "epoch": self.epoch,
                "params": {k: _pack(v) for k, v in self.model.params.items()},
                "optimizer": {"steps": self.trainer.optimizer.steps,
                              "state": {name: {k: (_pack(v) if isinstance(v, np.ndarray) else v)
                                               for k, v in st.items()}
                                        for name, st in self.trainer.optimizer.state.items()}},
                "trainer_rng": self.trainer.rng.bit_generator.state,
                "trainer_steps": self.trainer.steps,
                "dropout_rngs": [layer.rng.bit_generator.state for layer in self.model.layers
                                 if isinstance(layer, Dropout)],
                "train_loss": self.train_loss, "test_loss": self.test_loss, "diverged": self.diverged,
            }
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii")

    def load_config(self, config: str) -> "Playground":
        """Restore the state a :meth:`config` string describes (what the *Load* button does)."""
        restored = _decode(config)
        if "own_data" in restored:
            self._own = (_unpack(restored["own_data"]["X"]), _unpack(restored["own_data"]["y"]))
            if OWN_DATA not in self.dataset_control.options:
                self._building = True
                self.dataset_control.options = list(DATASETS) + [OWN_DATA]
                self._building = False
        self.play.playing = False
        self.settings = Settings(**restored["settings"]).check(own_data=self._own is not None)
        self._make_data()
        self._new_network()
        if "state" in restored:
            self._restore_state(restored["state"])
        self._sync_controls_from_settings()
        self._layout_network()
        self.status.value = f"Loaded a config: epoch {self.epoch}."
        self.refresh()
        return self

    def _restore_state(self, state):
        for name, p in self.model.params.items():
            p[...] = _unpack(state["params"][name])
        opt = self.trainer.optimizer
        opt.steps = state["optimizer"]["steps"]
        opt.state = {name: {k: (_unpack(v) if isinstance(v, dict) and "b64" in v else v) for k, v in st.items()}
                     for name, st in state["optimizer"]["state"].items()}
        self.trainer.rng.bit_generator.state = state["trainer_rng"]
        self.trainer.steps = state["trainer_steps"]
        for layer, rng_state in zip([m for m in self.model.layers if isinstance(m, Dropout)], state["dropout_rngs"]):
            layer.rng.bit_generator.state = rng_state
        self.epoch = state["epoch"]
        self.train_loss, self.test_loss = list(state["train_loss"]), list(state["test_loss"])
        self.diverged = state["diverged"]

    def to_torch(self):
        """The trained network as ``torch.nn.Sequential(features, layers...)``: raw points (N, 2)
        in, the output layer's values out (a logit, a prediction, or one logit per class)."""
        import torch.nn as nn

        return nn.Sequential(self.feature_map.to_torch(), *self.model.to_torch())

    def predict(self, points) -> np.ndarray:
        """The network's raw output for points (N, 2) in the plane's coordinates (evaluation mode)."""
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"points must have shape (N, 2), got {points.shape}")
        self.model.eval()
        try:
            return self.model.forward(self.feature_map(points))
        finally:
            self.model.train()


# --- helpers ----------------------------------------------------------------------------------


def _task_of(targets: np.ndarray) -> str:
    if np.issubdtype(targets.dtype, np.integer):
        return "binary" if targets.max() <= 1 else "multiclass"
    return "regression"


def _normalise_own_data(X, y):
    """Centre and scale the learner's points into the Playground's view [-6, 6]^2 (x5 so the edge
    keeps a margin); class labels become 0..C-1 (at most 6 classes)."""
    centre = (X.max(axis=0) + X.min(axis=0)) / 2
    scale = np.max(np.abs(X - centre)) or 1.0
    X = (X - centre) / scale * 5.0
    if np.issubdtype(y.dtype, np.integer):
        labels, y = np.unique(y, return_inverse=True)
        if len(labels) > 6:
            raise ValueError(f"own data may have at most 6 classes, got {len(labels)}: {labels[:10].tolist()}")
        if len(labels) < 2:
            raise ValueError(f"own data needs at least 2 classes, got only label {labels.tolist()}")
        y = y.astype(np.int64)
    return X, y


def _pack(array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array)
    return {"b64": base64.b64encode(array.tobytes()).decode("ascii"), "dtype": array.dtype.str,
            "shape": list(array.shape)}


def _unpack(packed: dict) -> np.ndarray:
    raw = base64.b64decode(packed["b64"])
    return np.frombuffer(raw, dtype=np.dtype(packed["dtype"])).reshape(packed["shape"]).copy()  # the saved shape


def _decode(config: str) -> dict:
    try:
        payload = json.loads(zlib.decompress(base64.urlsafe_b64decode(str(config).strip().encode("ascii"))))
    except Exception:
        raise ValueError("not a Playground config string (copy the whole string from Playground.config() "
                         "or the 'Get config' button)") from None
    if not isinstance(payload, dict) or payload.get("version") != CONFIG_VERSION:
        raise ValueError(f"this config string has version {payload.get('version') if isinstance(payload, dict) else '?'}; "
                         f"this Playground reads version {CONFIG_VERSION}")
    return payload


def _red(text: str) -> str:
    return f"<span style='color:#c0392b'><b>{text}</b></span>"
