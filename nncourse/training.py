"""A small NumPy training loop: mini-batches, a loss, an optimizer, L1/L2 penalties, early stopping.

Taught in notebook 05 (and driving the Playground widget of notebook 04). It is ``nncourse.fit`` (the PyTorch
loop) rewritten for the from-scratch layers, so every line can be read:

    for each epoch:
        shuffle; for each mini-batch:
            out = model.forward(xb)                # training mode: dropout on, batch statistics
            loss, dout = loss_fn(out, yb)
            model.backward(dout)                   # fills model.grads
            grads += penalty gradients (L2: l2 * w, L1: l1 * sign(w))
            optimizer.step(grads)                  # updates model.params in place
        evaluate train and validation sets in evaluation mode
        stop when the validation loss has not improved for `patience` epochs
    evaluate the test set once, at the end (nothing is chosen on it)

:class:`Trainer` does single steps and epochs (the Playground calls it once per frame);
:func:`train` runs whole trainings with early stopping and returns a :class:`TrainHistory`.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import losses as _losses
from . import optim
from .validation import as_array, check_finite, check_positive_int

LOSSES: dict[str, Callable] = {
    "mse": _losses.mse,
    "bce": _losses.binary_cross_entropy_with_logits,  # one output unit holding a logit
    "cross_entropy": _losses.cross_entropy,           # one logit per class, integer labels
}


def _loss_fn(loss) -> tuple[str, Callable]:
    if callable(loss):
        return getattr(loss, "__name__", "custom"), loss
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; known: {', '.join(LOSSES)} or a callable (out, y) -> (loss, dout)")
    return loss, LOSSES[loss]


def _is_decayed(name: str, param: np.ndarray) -> bool:
    """Penalties apply to weight matrices only: biases and BatchNorm's scales are left free."""
    return name.endswith("weight") and param.ndim >= 2


class Trainer:
    """One model, one loss, one optimizer: ``step`` (a mini-batch) and ``epoch`` (a shuffled pass).

    model: a from-scratch layer (usually a ``Sequential``) with ``params``/``grads``.
    optimizer: a name for ``nncourse.optim.get`` (``"sgd"``, ``"momentum"``, ``"adam"``, ...)
        built with ``lr`` and ``**hyperparameters``, or a ready ``optim.Optimizer``.
    loss: ``"mse"`` (regression), ``"bce"`` (binary, one logit), ``"cross_entropy"`` (classes),
        or a callable ``(out, y) -> (loss, dout)``. Targets y of shape (N,) are reshaped to
        (N, 1) for a single-output model with ``mse``/``bce``.
    l1, l2: penalty strengths on weight matrices, adding ``l1 * sum|w|`` and ``l2 / 2 * sum w^2``
        to the loss (so the L2 gradient is ``l2 * w``: SGD's ``weight_decay``).
    """

    def __init__(self, model, optimizer="adam", *, lr: float = 0.01, loss="cross_entropy",
                 batch_size: int = 32, l1: float = 0.0, l2: float = 0.0, seed: int = 0, **hyperparameters):
        self.model = model
        self.loss_name, self.loss_fn = _loss_fn(loss)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        for name, value in (("l1", l1), ("l2", l2)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        self.l1, self.l2 = float(l1), float(l2)
        if isinstance(optimizer, optim.Optimizer):
            self.optimizer = optimizer
        else:
            self.optimizer = optim.get(optimizer, model.params, lr=lr, **hyperparameters)
        self.rng = np.random.default_rng(seed)
        self.steps = 0

    # --- pieces --------------------------------------------------------------------------------
    def _targets(self, out: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.loss_name in ("mse", "bce") and y.ndim == 1 and out.ndim == 2 and out.shape[1] == 1:
            return y.reshape(-1, 1).astype(out.dtype)  # (N,) -> (N, 1)
        return y

    def penalty(self) -> float:
        """The regularisation term added to the data loss: l1 * sum|w| + l2 / 2 * sum w^2."""
        total = 0.0
        for name, p in self.model.params.items():
            if _is_decayed(name, p):
                total += self.l1 * float(np.abs(p).sum()) + 0.5 * self.l2 * float((p * p).sum())
        return total

    def _penalised(self, grads: dict) -> dict:
        if not (self.l1 or self.l2):
            return grads
        grads = dict(grads)
        for name, p in self.model.params.items():
            if _is_decayed(name, p):
                grads[name] = grads[name] + self.l1 * np.sign(p) + self.l2 * p
        return grads

    # --- training -------------------------------------------------------------------------------
    def step(self, X, y) -> float:
        """One gradient step on the batch (X, y); returns its data loss (penalty excluded)."""
        self.model.train()
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run gets the clear error below
            out = self.model.forward(X)
            loss, dout = self.loss_fn(out, self._targets(out, y))
        if not math.isfinite(loss):
            raise FloatingPointError(f"the training loss became {loss} after {self.steps} steps: training "
                                     f"diverged - try a smaller learning rate than lr={self.optimizer.lr:g}")
        self.model.backward(dout)
        self.optimizer.step(self._penalised(self.model.grads))
        self.steps += 1
        return loss

    def epoch(self, X, y) -> float:
        """One pass over (X, y) in shuffled mini-batches; returns the mean mini-batch loss."""
        X, y = check_data(X, y)
        order = self.rng.permutation(len(X))
        total = 0.0
        for start in range(0, len(X), self.batch_size):
            idx = order[start : start + self.batch_size]
            total += self.step(X[idx], y[idx]) * len(idx)
        return total / len(X)

    def evaluate(self, X, y) -> dict[str, float]:
        """Data loss (and accuracy for classification losses) in evaluation mode, no update."""
        X, y = check_data(X, y)
        self.model.eval()
        out = self.model.forward(X)
        self.model.train()
        loss, _ = self.loss_fn(out, self._targets(out, y))
        result = {"loss": float(loss)}
        if self.loss_name == "bce":
            result["accuracy"] = float(np.mean((out.reshape(-1) > 0) == (y.reshape(-1) > 0.5)))  # (N, 1) -> (N,)
        elif self.loss_name == "cross_entropy":
            result["accuracy"] = float(np.mean(out.argmax(axis=1) == y))
        return result


def check_data(X, y) -> tuple[np.ndarray, np.ndarray]:
    """X as a finite 2-D float array (N, features), y with one entry per row of X."""
    X = as_array(X, "X", ndim=2)
    check_finite(X, "X")
    y = np.asarray(y)
    if y.ndim == 0 or len(y) != len(X):
        raise ValueError(f"y must have one target per row of X ({len(X)} rows), got shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating):
        check_finite(y, "y")
    return X, y


@dataclass
class TrainHistory:
    """What :func:`train` measured after each epoch (losses in evaluation mode, penalty excluded)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int = 0          # 1-based epoch with the lowest validation loss (0: no validation)
    stopped_early: bool = False  # early stopping ended training before `epochs`
    test_loss: float | None = None      # on test_data, once, after training (None: no test data)
    test_accuracy: float | None = None  # likewise, for classification losses

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def gap(self, epoch: int | None = None) -> float:
        """Validation loss minus training loss at ``epoch`` (1-based; default the last): the overfitting gap."""
        i = (epoch or self.epochs) - 1
        return self.val_loss[i] - self.train_loss[i]

    def plot(self, ax=None, label: str = ""):
        """Training (solid) and validation (dashed) loss per epoch on ``ax``; returns the axes."""
        from .plotting import plot_loss_curves

        return plot_loss_curves(self.train_loss, self.val_loss, ax, label)


def train(model, train_data, val_data=None, *, test_data=None, epochs: int = 50, patience: int | None = None,
          min_delta: float = 0.0, restore_best: bool = True, verbose: bool = False,
          **trainer_options) -> TrainHistory:
    """Train a from-scratch ``model`` on ``train_data = (X, y)``; returns a :class:`TrainHistory`.

    ``trainer_options`` go to :class:`Trainer` (optimizer, lr, loss, batch_size, l1, l2, seed,
    optimizer hyperparameters). With ``val_data`` and ``patience``, training stops once the
    validation loss has not improved by more than ``min_delta`` for ``patience`` epochs
    (early stopping), and with ``restore_best`` the parameters of the best epoch are put back
    (in place, so layers and optimizers holding them see the change).

    ``test_data``, if given, is evaluated once, after training (and after restoring the best
    epoch), into ``history.test_loss``/``test_accuracy``: select on the validation data, report
    the test data (notebook 05 shows why the validation loss at the chosen epoch is optimistic).
    """
    check_positive_int(epochs, "epochs")
    if patience is not None:
        check_positive_int(patience, "patience")
        if val_data is None:
            raise ValueError("early stopping (patience=...) needs val_data to watch")
    X, y = check_data(*_pair(train_data, "train_data"))
    val = check_data(*_pair(val_data, "val_data")) if val_data is not None else None
    test = check_data(*_pair(test_data, "test_data")) if test_data is not None else None
    trainer = Trainer(model, **trainer_options)
    history = TrainHistory()
    best_loss, best_params, waited = math.inf, None, 0
    for epoch in range(1, epochs + 1):
        trainer.epoch(X, y)
        result = trainer.evaluate(X, y)
        history.train_loss.append(result["loss"])
        if "accuracy" in result:
            history.train_accuracy.append(result["accuracy"])
        if val is not None:
            result = trainer.evaluate(*val)
            history.val_loss.append(result["loss"])
            if "accuracy" in result:
                history.val_accuracy.append(result["accuracy"])
            if result["loss"] < best_loss - min_delta:
                best_loss, waited, history.best_epoch = result["loss"], 0, epoch
                if restore_best and patience is not None:
                    best_params = {k: v.copy() for k, v in model.params.items()}
            else:
                waited += 1
        if verbose:
            val_text = f", val loss {history.val_loss[-1]:.4f}" if val is not None else ""
            print(f"epoch {epoch}: train loss {history.train_loss[-1]:.4f}{val_text}")
        if patience is not None and waited >= patience:
            history.stopped_early = True
            break
    if best_params is not None:
        for name, p in model.params.items():
            p[...] = best_params[name]
    if test is not None:
        result = trainer.evaluate(*test)
        history.test_loss, history.test_accuracy = result["loss"], result.get("accuracy")
    return history


def _pair(data, name):
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be a pair (X, y), got {type(data).__name__}")
    return data
