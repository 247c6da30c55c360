"""Attack explorer (notebook 15): one digit, an attack, a budget - and what the network sees.

Pick a test image, the attack (FGSM: one signed-gradient step of size ε; PGD: ``steps`` smaller
steps, each projected back into the ε-ball and the pixel range) and ε. The panels show the
original, the perturbation (its colour scale is ±ε), the adversarial image and the class
probabilities before (grey) and after (colour) the attack. With several models (a dict, e.g. a
standard and an adversarially trained network) a drop-down switches between them.

The attacks are :func:`nncourse.robustness.fgsm` and :func:`nncourse.robustness.pgd` on the
NumPy network itself: one image of 8x8 pixels and at most 40 backward passes per update.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from ..robustness import fgsm, pgd, predict_proba
from .base import FigureWidget

METHODS = ("FGSM", "PGD")


class AttackExplorer(FigureWidget):
    """Controls: image index, attack method, ε, PGD steps (and the model, if several)."""

    def __init__(self, models, X: np.ndarray, y: np.ndarray, *, image_shape=(8, 8), index: int = 0,
                 method: str = "PGD", eps: float = 0.1, steps: int = 10, max_eps: float = 0.5, classes=None):
        super().__init__(figsize=(11, 3.0))
        self.models = dict(models) if isinstance(models, dict) else {"model": models}
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        if X.ndim != 2 or X.shape[1] != image_shape[0] * image_shape[1] or y.shape != (len(X),):
            raise ValueError(f"X must be flat images (N, {image_shape[0] * image_shape[1]}) with y (N,), "
                             f"got {X.shape} and {y.shape}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if not 0 <= eps <= max_eps:
            raise ValueError(f"eps must be in [0, {max_eps}], got {eps!r}")
        self.X, self.y, self.image_shape = X, y, tuple(image_shape)
        n_classes = predict_proba(next(iter(self.models.values())), X[:1]).shape[1]
        self.classes = list(classes) if classes is not None else [str(c) for c in range(n_classes)]

        self.index = widgets.IntSlider(value=index, min=0, max=len(X) - 1, description="image")
        self.method = widgets.ToggleButtons(options=METHODS, value=method, description="attack")
        self.eps = widgets.FloatSlider(value=eps, min=0.0, max=max_eps, step=0.01, description="ε",
                                       readout_format=".2f")
        self.steps = widgets.IntSlider(value=steps, min=1, max=40, description="PGD steps")
        self.model = widgets.Dropdown(options=list(self.models), description="model",
                                      layout=widgets.Layout(display="" if len(self.models) > 1 else "none"))
        self.controls = widgets.VBox([widgets.HBox([self.index, self.eps]),
                                      widgets.HBox([self.method, self.steps]), self.model, self.status])
        self.observe(self.index, self.method, self.eps, self.steps, self.model)

        axes = self.fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, 1, 1.6]})
        self.ax_clean, self.ax_delta, self.ax_adv, self.ax_prob = axes
        blank = np.zeros(self.image_shape)
        self.clean_image = self.ax_clean.imshow(blank, cmap="gray_r", vmin=0, vmax=1)
        self.delta_image = self.ax_delta.imshow(blank, cmap="RdBu_r", vmin=-1, vmax=1)
        self.adv_image = self.ax_adv.imshow(blank, cmap="gray_r", vmin=0, vmax=1)
        for ax in axes[:3]:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)  # the blitted image would cover half of them
            ax.set_title(" ", fontsize=10)
        # Text is the slowest thing to draw: the fixed words stay in the cached background (x labels),
        # and only a few short titles are redrawn on each update.
        self.ax_clean.set_xlabel("original", fontsize=9)
        self.ax_delta.set_xlabel("perturbation (colours: ±ε)", fontsize=9)
        self.ax_adv.set_xlabel("adversarial", fontsize=9)
        positions = np.arange(len(self.classes))
        self.clean_bars = self.ax_prob.bar(positions - 0.2, np.zeros(len(positions)), 0.4, color="0.7", label="original")
        self.adv_bars = self.ax_prob.bar(positions + 0.2, np.zeros(len(positions)), 0.4, color="C0", label="adversarial")
        self.ax_prob.set(ylim=(0, 1.02), xticks=positions, ylabel="probability")
        self.ax_prob.yaxis.tick_right()                  # on the left, the adversarial image would cover them
        self.ax_prob.yaxis.set_label_position("right")
        self.ax_prob.set_xticklabels(self.classes)
        self.ax_prob.set_xlabel("adversarial: green = true class, red = wrong winner", fontsize=8)
        self.ax_prob.set_title(" ", fontsize=10)
        self.ax_prob.legend(loc="upper right", fontsize=8)
        self.fig.subplots_adjust(left=0.02, right=0.95, bottom=0.2, top=0.86, wspace=0.15)
        self.animate(self.clean_image, self.delta_image, self.adv_image, *self.clean_bars, *self.adv_bars,
                     self.ax_clean.title, self.ax_adv.title, self.ax_prob.title)
        self.update()

    def attack(self) -> tuple[np.ndarray, np.ndarray]:
        """(original, adversarial) image of the current settings, each (1, H*W)."""
        model = self.models[self.model.value]
        x, y = self.X[self.index.value][None], self.y[self.index.value : self.index.value + 1]
        if self.method.value == "FGSM":
            return x, fgsm(model, x, y, self.eps.value)
        return x, pgd(model, x, y, self.eps.value, steps=self.steps.value)

    def update(self) -> None:
        model = self.models[self.model.value]
        x, x_adv = self.attack()
        self.x_adv = x_adv
        self.steps.disabled = self.method.value == "FGSM"
        p_clean, p_adv = predict_proba(model, np.vstack([x, x_adv]))
        self.p_clean, self.p_adv = p_clean, p_adv
        label = self.classes[self.y[self.index.value]]
        delta = (x_adv - x).reshape(self.image_shape)
        self.clean_image.set_data(x.reshape(self.image_shape))
        self.delta_image.set_data(delta)
        scale = max(self.eps.value, 1e-3)
        self.delta_image.set_clim(-scale, scale)
        self.adv_image.set_data(x_adv.reshape(self.image_shape))
        for bar, p in zip(self.clean_bars, p_clean):
            bar.set_height(p)
        guess = int(p_adv.argmax())
        for k, (bar, p) in enumerate(zip(self.adv_bars, p_adv)):
            bar.set_height(p)
            bar.set_color("C3" if k == guess and self.classes[k] != label else "C2" if self.classes[k] == label else "C0")
        self.ax_clean.set_title(f"label {label}", fontsize=10)
        fooled = self.classes[guess] != label
        self.ax_adv.set_title(f"seen as {self.classes[guess]}" + (" ✗" if fooled else ""), fontsize=10)
        true = self.y[self.index.value]
        self.ax_prob.set_title(f"p(label) {p_clean[true]:.2f} → {p_adv[true]:.2f}", fontsize=10)
