"""Rosenblatt's perceptron (1957), from scratch (notebook 01).

The model: predict the positive class when ``w . x + b > 0``. The learning rule, applied to
one misclassified example ``(x, t)`` with ``t`` in {-1, +1}:

    w <- w + lr * t * x,    b <- b + lr * t

Correctly classified examples change nothing. If the data are linearly separable the rule
stops after finitely many mistakes (Novikoff's convergence theorem); if not, it never stops.
"""
from __future__ import annotations

import numpy as np

from .validation import as_array, check_finite, check_last_dim, check_positive_int

LABEL_SETS = {(0, 1): 0, (-1, 1): -1}  # accepted label conventions -> their negative label


class Perceptron:
    """A single-layer perceptron for two classes.

    Parameters follow ``nn.Linear(n_features, 1)``: ``params["weight"]`` (1, n_features) and
    ``params["bias"]`` (1,). Labels may be {0, 1} or {-1, 1}; the convention is read from the
    labels given to :meth:`fit` (or set with ``labels=``) and :meth:`predict` answers in it.

    ``errors_`` lists, per epoch of :meth:`fit`, how many updates (= mistakes) it made.
    """

    def __init__(self, n_features: int, *, lr: float = 1.0, labels: tuple[int, int] | None = None,
                 init: str = "zeros", seed: int = 0):
        self.n_features = check_positive_int(n_features, "n_features")
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr!r}")
        self.lr = float(lr)
        self.labels = self._check_label_set(labels) if labels is not None else None
        self.rng = np.random.default_rng(seed)
        if init == "zeros":
            weight, bias = np.zeros((1, n_features)), np.zeros(1)
        elif init == "random":
            weight, bias = self.rng.normal(0, 0.1, (1, n_features)), np.zeros(1)
        else:
            raise ValueError(f"init must be 'zeros' or 'random', got {init!r}")
        self.params = {"weight": weight, "bias": bias}
        self.errors_: list[int] = []

    # --- labels ----------------------------------------------------------------------------
    @staticmethod
    def _check_label_set(labels) -> tuple[int, int]:
        key = tuple(sorted(int(v) for v in labels))
        if key not in LABEL_SETS:
            raise ValueError(f"labels must be (0, 1) or (-1, 1), got {tuple(labels)}")
        return key

    def _targets(self, y) -> np.ndarray:
        """Labels -> t in {-1, +1}, fixing the label convention on first use."""
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per example), got shape {y.shape}")
        values = set(np.unique(y).tolist())
        if self.labels is None:
            if values <= {0, 1}:
                self.labels = (0, 1)
            elif values <= {-1, 1}:
                self.labels = (-1, 1)
            else:
                raise ValueError(f"y must hold labels {{0, 1}} or {{-1, 1}}, got {sorted(values)[:10]}")
        elif not values <= set(self.labels):
            raise ValueError(f"y must hold labels {set(self.labels)} (the convention this perceptron "
                             f"uses), got {sorted(values)[:10]}")
        return np.where(y == 1, 1.0, -1.0)

    def _check_X(self, X) -> np.ndarray:
        X = as_array(X, "X", ndim=(1, 2))
        if X.ndim == 1:
            X = X[None, :]
        check_last_dim(X, self.n_features, "X")
        check_finite(X, "X")
        return X

    # --- model -----------------------------------------------------------------------------
    @property
    def weight(self) -> np.ndarray:
        """w, shape (n_features,)."""
        return self.params["weight"][0]

    @property
    def bias(self) -> float:
        return float(self.params["bias"][0])

    def decision_function(self, X) -> np.ndarray:
        """w . x + b for each row of X (N, n_features) -> (N,)."""
        X = self._check_X(X)
        return X @ self.weight + self.bias

    def predict(self, X) -> np.ndarray:
        """Labels (N,) in this perceptron's convention: positive where w . x + b > 0."""
        negative = LABEL_SETS[self.labels or (0, 1)]
        return np.where(self.decision_function(X) > 0, 1, negative)

    def update(self, x, y) -> bool:
        """Apply the perceptron rule to one example; return True if it was a mistake (and so an update)."""
        return self._rule(self._check_X(x)[0], self._targets(np.atleast_1d(y))[0])

    def _rule(self, x: np.ndarray, t: float) -> bool:
        """The perceptron rule on one checked example x (n_features,), t in {-1, +1}."""
        if t * (x @ self.weight + self.bias) > 0:
            return False
        self.params["weight"][0] += self.lr * t * x
        self.params["bias"][0] += self.lr * t
        return True

    def mistakes(self, X, y) -> np.ndarray:
        """Indices of the examples currently misclassified (on the boundary counts as wrong)."""
        X = self._check_X(X)
        t = self._targets(y)
        if len(t) != len(X):
            raise ValueError(f"X and y must have the same number of examples, got {len(X)} and {len(t)}")
        return np.flatnonzero(t * (X @ self.weight + self.bias) <= 0)

    def fit(self, X, y, *, epochs: int = 100, shuffle: bool = True) -> "Perceptron":
        """Run the rule over the data for up to ``epochs`` passes, stopping after a pass with no
        mistakes. Appends one mistake count per pass to ``errors_``."""
        X = self._check_X(X)
        t = self._targets(y)
        if len(t) != len(X):
            raise ValueError(f"X and y must have the same number of examples, got {len(X)} and {len(t)}")
        check_positive_int(epochs, "epochs")
        for _ in range(epochs):
            order = self.rng.permutation(len(X)) if shuffle else np.arange(len(X))
            n_mistakes = sum(self._rule(X[i], t[i]) for i in order)
            self.errors_.append(n_mistakes)
            if n_mistakes == 0:
                break
        return self

    @property
    def converged(self) -> bool:
        """True once a full pass of :meth:`fit` made no mistake."""
        return bool(self.errors_) and self.errors_[-1] == 0

    def to_torch(self):
        """An ``nn.Linear(n_features, 1)`` with the same weights: its output is w . x + b."""
        import torch.nn as nn

        from .layers import load_into_torch

        return load_into_torch(nn.Linear(self.n_features, 1, dtype=_float64()), self.params)

    def __repr__(self) -> str:
        return f"Perceptron(n_features={self.n_features}, lr={self.lr}, labels={self.labels})"


def _float64():
    import torch

    return torch.float64
