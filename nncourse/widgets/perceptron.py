"""Perceptron explorer (notebook 01): drag w1, w2, b or let the perceptron rule move them.

Left: the data, the decision line w1 x1 + w2 x2 + b = 0, the two half-planes, misclassified
points ringed in red and the point of the last *Step* starred. Right: mistakes per epoch of
*Train*. Because the perceptron only looks at the sign of w . x + b, scaling w and b by the
same positive factor changes nothing; the widget uses that to keep the sliders in range.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import data
from ..perceptron import Perceptron
from ..plotting import CLASS_COLORS, REGION_CMAP, grid
from .base import FigureWidget

DATASETS = ["AND", "OR", "NAND", "XOR", "gaussian", "circle", "xor (noisy)", "moons", "spiral"]
SLIDER_LIMIT = 5.0


def load(name: str, seed: int = 0):
    """X (N, 2), y (N,) in {0, 1} for a name in ``DATASETS``; toy sets are scaled to about [-1, 1]."""
    if name in ("AND", "OR", "NAND", "XOR"):
        return data.logic_gate(name)
    key = {"xor (noisy)": "xor"}.get(name, name)
    X, y = data.toy_dataset(key, n=60, noise=0.1 if key == "xor" else 0.0, seed=seed)
    return X / 6.0, y


class PerceptronExplorer(FigureWidget):
    """Sliders for w1, w2, b; buttons Step (one perceptron update), Train (epochs), Reset."""

    def __init__(self, dataset: str = "AND", *, lr: float = 1.0, seed: int = 0):
        super().__init__(figsize=(9.5, 4))
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
        self.lr, self.seed = lr, seed
        self.dataset = widgets.Dropdown(options=DATASETS, value=dataset, description="data")
        slider = dict(min=-SLIDER_LIMIT, max=SLIDER_LIMIT, step=0.05, readout_format=".2f",
                      continuous_update=True)
        self.w1 = widgets.FloatSlider(value=0.5, description="w1", **slider)
        self.w2 = widgets.FloatSlider(value=0.5, description="w2", **slider)
        self.b = widgets.FloatSlider(value=-0.25, description="b", **slider)
        self.step_button = widgets.Button(description="Step", tooltip="one perceptron update")
        self.train_button = widgets.Button(description="Train", tooltip="run the rule for some epochs")
        self.reset_button = widgets.Button(description="Reset", tooltip="weights to zero, history cleared")
        self.epochs = widgets.BoundedIntText(value=10, min=1, max=1000, description="epochs",
                                             layout=widgets.Layout(width="160px"))
        self.controls = widgets.VBox([
            widgets.HBox([self.dataset, self.epochs]),
            widgets.HBox([self.w1, self.w2, self.b]),
            widgets.HBox([self.step_button, self.train_button, self.reset_button]),
            self.status,
        ])
        self.step_button.on_click(lambda _: self.step())
        self.train_button.on_click(lambda _: self.train())
        self.reset_button.on_click(lambda _: self.reset())
        self.dataset.observe(self._on_dataset, names="value")
        self.observe(self.w1, self.w2, self.b)

        self.ax, self.ax_err = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
        self.region = self.ax.imshow(np.zeros((2, 2)), origin="lower", cmap=REGION_CMAP, vmin=0, vmax=1,
                                     aspect="auto", interpolation="nearest")
        self.points = self.ax.scatter([], [], s=45, edgecolors="k", linewidths=0.6, zorder=3)
        self.wrong = self.ax.scatter([], [], s=180, facecolors="none", edgecolors="red", linewidths=2,
                                     zorder=4, label="misclassified")
        self.last = self.ax.scatter([], [], s=320, marker="*", c="gold", edgecolors="k", zorder=5,
                                    label="last step")
        (self.line,) = self.ax.plot([], [], "k-", lw=2, label="w·x + b = 0")
        self.ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=8, frameon=False)
        self.ax.set_xlabel("x1")
        self.ax.set_ylabel("x2")
        self.ax.set_title(" ")
        (self.err_line,) = self.ax_err.plot([], [], "o-", color=CLASS_COLORS[1])
        self.ax_err.set_xlabel("epoch")
        self.ax_err.set_ylabel("mistakes in the epoch")
        self.ax_err.set_title("Train history")
        self.ax_err.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.ax_err.yaxis.set_major_locator(MaxNLocator(integer=True))
        self.fig.tight_layout()
        self.animate(self.region, self.points, self.wrong, self.last, self.line, self.ax.title)
        self._errors_drawn = None
        self._load_data()
        self.update()

    # --- state -----------------------------------------------------------------------------
    def _load_data(self):
        self.X, self.y = load(self.dataset.value, self.seed)
        self.model = Perceptron(2, lr=self.lr, labels=(0, 1), seed=self.seed)
        self.cursor = 0  # Step scans for mistakes cyclically from here
        self.last_index = None
        lo, hi = self.X.min(axis=0) - 0.5, self.X.max(axis=0) + 0.5
        self.xlim, self.ylim = (lo[0], hi[0]), (lo[1], hi[1])
        self.xx, self.yy, self.grid_points = grid(self.xlim, self.ylim, 120)
        self.region.set_extent((*self.xlim, *self.ylim))
        self.ax.set_xlim(self.xlim)
        self.ax.set_ylim(self.ylim)
        self.points.set_offsets(self.X)
        self.points.set_facecolors([CLASS_COLORS[int(c)] for c in self.y])
        self.invalidate()

    def _on_dataset(self, change):
        self._load_data()
        self.status.value = f"Loaded {self.dataset.value}: {len(self.X)} points."
        self.refresh()

    def _sync_model(self):
        """The sliders are the truth: copy them into the perceptron."""
        self.model.params["weight"][0] = [self.w1.value, self.w2.value]
        self.model.params["bias"][0] = self.b.value

    def _set_sliders(self, w, b):
        """Show (w, b) on the sliders, scaled down together if needed (the line does not move)."""
        scale = max(1.0, np.max(np.abs([*w, b])) / SLIDER_LIMIT)
        with self.hold():
            self.w1.value, self.w2.value, self.b.value = (float(v / scale) for v in (*w, b))
        return scale

    # --- actions ---------------------------------------------------------------------------
    def step(self) -> bool:
        """Apply the perceptron rule to the next misclassified point; False if there is none."""
        self._sync_model()
        wrong = self.model.mistakes(self.X, self.y)
        if len(wrong) == 0:
            self.last_index = None
            self.status.value = "No misclassified point: the perceptron has converged."
            self.refresh()
            return False
        after = wrong[wrong >= self.cursor]
        i = int(after[0] if len(after) else wrong[0])
        self.cursor = (i + 1) % len(self.X)
        w_old, b_old = self.model.weight.copy(), self.model.bias
        self.model.update(self.X[i], self.y[i])
        self.last_index = i
        scale = self._set_sliders(self.model.weight, self.model.bias)
        t = 1 if self.y[i] == 1 else -1
        self.status.value = (
            f"Point #{i} x = ({self.X[i, 0]:.2f}, {self.X[i, 1]:.2f}), label {self.y[i]} (t = {t:+d}) was "
            f"misclassified → w += {self.lr:g}·t·x, b += {self.lr:g}·t: w ({w_old[0]:.2f}, {w_old[1]:.2f}) → "
            f"({self.model.weight[0]:.2f}, {self.model.weight[1]:.2f}), b {b_old:.2f} → {self.model.bias:.2f}"
            + (f" (shown divided by {scale:.2f})" if scale > 1 else ""))
        return True

    def train(self, epochs: int | None = None) -> list[int]:
        """Run up to ``epochs`` passes of the rule (stopping at a pass with no mistake)."""
        self._sync_model()
        before = len(self.model.errors_)
        self.model.fit(self.X, self.y, epochs=epochs or self.epochs.value, shuffle=False)
        self.last_index = None
        self._set_sliders(self.model.weight, self.model.bias)
        new = self.model.errors_[before:]
        verdict = ("converged: a full pass with no mistake" if self.model.converged
                   else "not converged - still making mistakes")
        self.status.value = f"Trained {len(new)} epoch(s); mistakes per epoch: {new[-10:]} … {verdict}."
        return new

    def reset(self):
        self.model = Perceptron(2, lr=self.lr, labels=(0, 1), seed=self.seed)
        self.cursor, self.last_index = 0, None
        self.status.value = ("Reset: w = 0, b = 0. Every score is 0, so every point lies on the boundary, which "
                             "the rule counts as a mistake (t·(w·x + b) ≤ 0): all points are ringed.")
        self._set_sliders(np.zeros(2), 0.0)

    # --- drawing ---------------------------------------------------------------------------
    def update(self):
        self._sync_model()
        w1, w2, b = self.w1.value, self.w2.value, self.b.value
        scores = self.grid_points @ np.array([w1, w2]) + b
        self.region.set_data((scores > 0).reshape(self.xx.shape).astype(float))
        self.line.set_data(*_line_in_box(w1, w2, b, self.xlim, self.ylim))
        wrong = self.model.mistakes(self.X, self.y)
        self.wrong.set_offsets(self.X[wrong] if len(wrong) else np.empty((0, 2)))
        self.last.set_offsets(self.X[[self.last_index]] if self.last_index is not None else np.empty((0, 2)))
        self.ax.set_title(f"{self.dataset.value}: w = ({w1:.2f}, {w2:.2f}), b = {b:.2f} - "
                          f"{len(wrong)}/{len(self.X)} misclassified")
        errors = self.model.errors_
        if errors != self._errors_drawn:  # the history only changes after Train/Reset
            self._errors_drawn = list(errors)
            self.err_line.set_data(np.arange(1, len(errors) + 1), errors)
            self.err_line.set_marker("o" if len(errors) <= 60 else "")  # hundreds of dots merge into a blob
            self.ax_err.set_xlim(0.5, max(len(errors), 10) + 0.5)
            self.ax_err.set_ylim(-0.3, max(errors, default=1) + 0.7)
            self.invalidate()


def _line_in_box(w1, w2, b, xlim, ylim):
    """End points of w1 x + w2 y + b = 0 inside the box (empty if the line misses it or w = 0)."""
    if abs(w2) > 1e-12:
        xs = np.array(xlim)
        return xs, -(w1 * xs + b) / w2
    if abs(w1) > 1e-12:
        x = -b / w1
        return np.array([x, x]), np.array(ylim)
    return np.array([]), np.array([])
