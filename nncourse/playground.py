"""The Playground's state, without any widget: settings, data, network, training, config string.

``nncourse.widgets.Playground`` (notebook 04) is a view of a :class:`PlaygroundState`: its
controls call :meth:`PlaygroundState.set` and :meth:`PlaygroundState.train`, its figure draws
what the state holds. Everything here runs (and is tested) without ipywidgets or matplotlib::

    state = PlaygroundState(dataset="spiral", hidden=[8, 8], activations=["relu"] * 2)
    state.train(50)                      # 50 epochs of mini-batch training; False if it diverged
    state.train_loss[-1], state.epoch
    PlaygroundState(config=state.config())   # the exact same state again
    state.to_torch()                     # torch.nn.Sequential(features, Linear, ReLU, ...)

Built from the course's own pieces: the datasets of ``nncourse.data``, the network of
``nncourse.layers.mlp``, the mini-batch loop of ``nncourse.training.Trainer`` and the optimizers
of ``nncourse.optim``.
"""
from __future__ import annotations

import base64
import json
import math
import zlib
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from . import data
from .layers import ActivationLayer, Linear, Sequential, mlp
from .regularization import Dropout
from .training import Trainer

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
LOSSES = {"binary": "bce", "regression": "mse", "multiclass": "cross_entropy"}


def _sin(x):
    return x.sin() if hasattr(x, "sin") and not isinstance(x, np.ndarray) else np.sin(x)  # torch or NumPy


# Inputs are computed from the raw coordinates (about [-6, 6]) and scaled to about [-3, 3] so
# the default learning rate suits all of them. Each formula works on NumPy arrays and torch tensors.
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
CONFIG_VERSION = 1

# which settings rebuild what; the others (learning rate, batch size, regularization, display
# options) are applied on the fly and training continues
DATA_SETTINGS = {"dataset", "noise", "train_percent", "classes", "data_seed"}
NETWORK_SETTINGS = {"features", "hidden", "activations", "optimizer", "dropout", "init_seed"}


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
    discretize: bool = False          # display only: the output as hard decisions
    show_test: bool = False           # display only: the test points too
    data_seed: int = 0
    init_seed: int = 0

    @classmethod
    def make(cls, own_data: bool = False, **values) -> "Settings":
        """``Settings(**values).check(own_data)``, naming the valid settings if one is unknown."""
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise TypeError(f"unknown Playground setting(s) {unknown}; the settings are {cls.names()}")
        return cls(**values).check(own_data=own_data)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def check(self, own_data: bool = False) -> "Settings":
        """Raise a ValueError naming the expected and the given value for anything the Playground
        does not offer."""
        names = list(DATASETS) + ([OWN_DATA] if own_data else [])
        _require(self.dataset in names, f"dataset must be one of {names}, got {self.dataset!r}"
                 + ("" if own_data or self.dataset != OWN_DATA else " (pass your points with data=(X, y))"))
        _require(_is_int(self.noise) and 0 <= self.noise <= 50,
                 f"noise must be a percentage from 0 to 50, got {self.noise!r}")
        _require(_is_int(self.train_percent) and 10 <= self.train_percent <= 90,
                 f"train_percent must be from 10 to 90, got {self.train_percent!r}")
        _require(_is_int(self.batch_size) and 1 <= self.batch_size <= 30,
                 f"batch_size must be from 1 to 30, got {self.batch_size!r}")
        _require(_is_int(self.classes) and 2 <= self.classes <= 6, f"classes must be from 2 to 6, got {self.classes!r}")
        _require(isinstance(self.features, (list, tuple)) and self.features
                 and all(f in FEATURES for f in self.features),
                 f"features must be a non-empty list from {list(FEATURES)}, got {self.features!r}")
        _require(isinstance(self.hidden, (list, tuple)) and len(self.hidden) <= MAX_LAYERS
                 and all(_is_int(n) and 1 <= n <= MAX_NEURONS for n in self.hidden),
                 f"hidden must list up to {MAX_LAYERS} layer widths from 1 to {MAX_NEURONS}, got {self.hidden!r}")
        _require(isinstance(self.activations, (list, tuple)) and len(self.activations) == len(self.hidden)
                 and all(a in ACTIVATIONS for a in self.activations),
                 f"activations must name one of {ACTIVATIONS} per hidden layer ({len(self.hidden)}), "
                 f"got {self.activations!r}")
        _require(self.learning_rate in LEARNING_RATES, f"learning_rate must be one of {LEARNING_RATES}, "
                                                       f"got {self.learning_rate!r}")
        _require(self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        _require(self.regularization in REGULARIZATIONS,
                 f"regularization must be one of {REGULARIZATIONS}, got {self.regularization!r}")
        _require(self.regularization_rate in REGULARIZATION_RATES,
                 f"regularization_rate must be one of {REGULARIZATION_RATES}, got {self.regularization_rate!r}")
        _require(isinstance(self.dropout, (int, float)) and 0 <= self.dropout <= 0.5,
                 f"dropout must be from 0 to 0.5, got {self.dropout!r}")
        for name in ("data_seed", "init_seed"):
            _require(_is_int(getattr(self, name)) and getattr(self, name) >= 0,
                     f"{name} must be an integer >= 0, got {getattr(self, name)!r}")
        self.features, self.hidden, self.activations = list(self.features), list(self.hidden), list(self.activations)
        return self


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


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
    """``layers.mlp``: Linear -> activation [-> Dropout] per hidden layer, then a Linear output layer;
    each hidden layer gets its own activation (the Playground offers one per layer)."""
    net = mlp([n_inputs, *settings.hidden, n_outputs], "linear", seed=1000 * settings.init_seed,
              dropout=settings.dropout)
    activations = iter(settings.activations)
    return Sequential(*(ActivationLayer(next(activations)) if isinstance(layer, ActivationLayer) else layer
                        for layer in net.layers))


# --- the state --------------------------------------------------------------------------------


class PlaygroundState:
    """Settings, data, network and training of one Playground, without any widget.

    PlaygroundState()                           # circle, 2 features, 4-2 tanh, SGD 0.03
    PlaygroundState(dataset="xor", hidden=[8, 8], optimizer="adam", learning_rate=0.01)
    PlaygroundState(data=(X, y))                # your own points: X (N, 2), labels or targets y (N,)
    PlaygroundState(config="...")               # the exact state a config() string describes

    Keyword arguments are fields of :class:`Settings`. After construction:

    * ``points_train/points_test`` (N, 2) in the plane's coordinates, ``y_train/y_test``;
      ``X_train/X_test`` the same points as features (N, F); ``task`` ("binary", "regression",
      "multiclass") and ``n_classes``;
    * ``model`` (a ``Sequential`` from ``layers.mlp``), ``trainer`` (``training.Trainer``),
      ``epoch``, ``train_loss``/``test_loss`` (one value per epoch, epoch 0 included), ``diverged``.
    """

    def __init__(self, config: str | None = None, *, data=None, **settings):
        self.own = None  # the learner's points, normalised into the view: (X (N, 2), y (N,))
        if data is not None:
            self.own = normalise_own_data(*load_points(data))
            settings.setdefault("dataset", OWN_DATA)
        self._load(decode(config) if config is not None else None, settings)

    # --- settings -------------------------------------------------------------------------
    def set(self, **changes) -> set[str]:
        """Change settings (as the controls do); returns the names that changed. Data settings
        draw new data and a new network, network settings a new network (epoch 0); the others
        (learning rate, batch size, regularization) apply on the fly and training continues."""
        if "hidden" in changes and "activations" not in changes:
            changes["activations"] = _fit_activations(self.settings.activations, changes["hidden"])
        new = Settings.make(own_data=self.own is not None, **{**asdict(self.settings), **changes})
        old, self.settings = self.settings, new
        changed = {k for k in changes if getattr(old, k) != getattr(new, k)}
        if changed & DATA_SETTINGS:
            self._make_data()
        if changed & (DATA_SETTINGS | NETWORK_SETTINGS):
            self._new_network()
        else:
            self.trainer.optimizer.lr = new.learning_rate
            self.trainer.batch_size = new.batch_size
            self._apply_regularization()
        return changed

    def reset(self, init_seed: int | None = None) -> None:
        """New random weights (the next init seed, or ``init_seed``): epoch 0, histories cleared."""
        self.set(init_seed=self.settings.init_seed + 1 if init_seed is None else int(init_seed))

    @property
    def task(self) -> str:
        if self.settings.dataset == OWN_DATA:
            return task_of(self.own[1])
        return DATASETS[self.settings.dataset][0]

    # --- data and network -----------------------------------------------------------------
    def _make_data(self):
        s = self.settings
        if s.dataset == OWN_DATA:
            points, targets = self.own
        else:
            task, generate = DATASETS[s.dataset]
            kwargs = {"classes": s.classes} if task == "multiclass" else {}
            points, targets = generate(SAMPLES[task], noise=s.noise / 100, seed=s.data_seed, **kwargs)
        order = np.random.default_rng(s.data_seed).permutation(len(points))
        n_train = max(1, min(len(points) - 1, round(len(points) * s.train_percent / 100)))
        self.points_train, self.points_test = points[order[:n_train]], points[order[n_train:]]
        self.y_train, self.y_test = targets[order[:n_train]], targets[order[n_train:]]
        self.n_classes = int(max(targets.max() + 1, 2)) if self.task == "multiclass" else 1

    def _new_network(self):
        s = self.settings
        self.feature_map = FeatureMap(s.features)
        self.X_train, self.X_test = self.feature_map(self.points_train), self.feature_map(self.points_test)
        n_out = self.n_classes if self.task == "multiclass" else 1
        self.model = build_network(s, len(s.features), n_out)
        self.trainer = Trainer(self.model, s.optimizer, lr=s.learning_rate, loss=LOSSES[self.task],
                               batch_size=s.batch_size, seed=s.init_seed)
        self._apply_regularization()
        self.epoch = 0
        self.train_loss, self.test_loss = [], []
        self.diverged = False
        self.divergence = ""  # why training stopped, once it diverged
        self._record_losses()

    def _apply_regularization(self):
        s = self.settings
        self.trainer.l1 = s.regularization_rate if s.regularization == "L1" else 0.0
        self.trainer.l2 = s.regularization_rate if s.regularization == "L2" else 0.0

    def _record_losses(self):
        self.train_loss.append(self.trainer.evaluate(self.X_train, self.y_train)["loss"])
        self.test_loss.append(self.trainer.evaluate(self.X_test, self.y_test)["loss"])

    # --- training -------------------------------------------------------------------------
    def train(self, epochs: int = 1) -> bool:
        """Train ``epochs`` epochs (mini-batches over the training points).

        Returns False if training diverged (a NaN or infinite loss or weight), now or before:
        ``diverged`` becomes True, ``divergence`` says why, and the loss histories keep only the
        finite values. True otherwise.
        """
        if self.diverged:
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
            self.divergence = str(err)
            self.train_loss = [v for v in self.train_loss if math.isfinite(v)]
            self.test_loss = self.test_loss[: len(self.train_loss)]
            return False
        return True

    # --- reading the network --------------------------------------------------------------
    def layer_outputs(self, points) -> list[np.ndarray]:
        """Every column of the network at ``points`` (N, 2), in evaluation mode:
        [features (N, F), hidden layer 1 (N, h1), ..., output (N, outputs)]; activations after
        each hidden layer, the raw output last."""
        self.model.eval()
        h = self.feature_map(_points(points))
        outputs = [h]
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

    def predict(self, points) -> np.ndarray:
        """The network's raw output for points (N, 2) in the plane's coordinates (evaluation mode):
        (N, 1) logits (binary), predictions (regression), or (N, classes) logits."""
        points = _points(points)
        self.model.eval()
        try:
            return self.model.forward(self.feature_map(points))
        finally:
            self.model.train()

    @property
    def linears(self) -> list[Linear]:
        """The network's Linear layers, input side first (their weights are the links drawn)."""
        return [layer for layer in self.model.layers if isinstance(layer, Linear)]

    def to_torch(self):
        """The trained network as ``torch.nn.Sequential(features, layers...)``: raw points (N, 2)
        in, the output layer's values out (a logit, a prediction, or one logit per class)."""
        import torch.nn as nn

        return nn.Sequential(self.feature_map.to_torch(), *self.model.to_torch())

    # --- config string --------------------------------------------------------------------
    def config(self, weights: bool = True) -> str:
        """A URL-safe string that restores this state: the settings (and the learner's points), and
        with ``weights`` the exact training state (parameters, optimizer moments, random
        generators, losses) - so training on from a restored state gives the same numbers."""
        payload = {"version": CONFIG_VERSION, "settings": asdict(self.settings)}
        if self.own is not None:
            payload["own_data"] = {"X": _pack(self.own[0]), "y": _pack(self.own[1])}
        if weights:
            opt = self.trainer.optimizer
            payload["state"] = {
                "epoch": self.epoch,
                "params": {k: _pack(v) for k, v in self.model.params.items()},
                "optimizer": {"steps": opt.steps,
                              "state": {name: {k: (_pack(v) if isinstance(v, np.ndarray) else v)
                                               for k, v in st.items()}
                                        for name, st in opt.state.items()}},
                "trainer_rng": self.trainer.rng.bit_generator.state,
                "trainer_steps": self.trainer.steps,
                "dropout_rngs": [layer.rng.bit_generator.state for layer in self.model.layers
                                 if isinstance(layer, Dropout)],
                "train_loss": self.train_loss, "test_loss": self.test_loss, "diverged": self.diverged,
            }
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii")

    def load_config(self, config: str) -> None:
        """Become the state a :meth:`config` string describes (the learner's points too, if it has them)."""
        self._load(decode(config), {})

    def _load(self, payload: dict | None, settings: dict) -> None:
        base = {}
        if payload is not None:
            if "own_data" in payload:
                self.own = (_unpack(payload["own_data"]["X"]), _unpack(payload["own_data"]["y"]))
            base = payload["settings"]
        if "hidden" in settings and "activations" not in settings:
            settings["activations"] = _fit_activations(base.get("activations", []), settings["hidden"])
        settings = {**base, **settings}
        self.settings = Settings.make(own_data=self.own is not None, **settings)
        self._make_data()
        self._new_network()
        if payload is not None and "state" in payload:
            self._restore(payload["state"])

    def _restore(self, state: dict) -> None:
        params = self.model.params
        if set(params) != set(state["params"]) or any(params[k].shape != tuple(state["params"][k]["shape"])
                                                       for k in params):
            raise ValueError("this config string's weights do not fit the network its settings give "
                             "(were network settings overridden?); load it without overrides")
        for name, p in params.items():
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


# --- helpers ----------------------------------------------------------------------------------


def _fit_activations(activations: list[str], hidden) -> list[str]:
    """One activation per hidden layer after ``hidden`` changed: each layer keeps its own, new
    layers copy the last one ("tanh" if there was none)."""
    if not isinstance(hidden, (list, tuple)):
        return list(activations)  # Settings.check says what is wrong with hidden
    return [activations[i] if i < len(activations) else (activations[-1] if activations else "tanh")
            for i in range(len(hidden))]

load_points = data.load_points


def _points(points) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {points.shape}")
    return points


def task_of(targets: np.ndarray) -> str:
    """"binary" (integer labels 0/1), "multiclass" (integer labels up to 5) or "regression" (floats)."""
    if np.issubdtype(targets.dtype, np.integer):
        return "binary" if targets.max() <= 1 else "multiclass"
    return "regression"


def normalise_own_data(X, y):
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


def decode(config: str) -> dict:
    """A config string -> its payload (a dict), or a ValueError that says what is wrong."""
    try:
        payload = json.loads(zlib.decompress(base64.urlsafe_b64decode(str(config).strip().encode("ascii"))))
    except Exception:
        raise ValueError("not a Playground config string (copy the whole string from Playground.config() "
                         "or the 'Get config' button)") from None
    if not isinstance(payload, dict) or payload.get("version") != CONFIG_VERSION:
        raise ValueError(f"this config string has version {payload.get('version') if isinstance(payload, dict) else '?'}; "
                         f"this Playground reads version {CONFIG_VERSION}")
    return payload
