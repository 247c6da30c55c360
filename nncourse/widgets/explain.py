"""Widget of notebook 14: the *Attribution explorer*.

Pick an image, a class, a method, a baseline and the number of integration steps; the figure shows
the image, the attribution map (red: raises the class score, blue: lowers it), and the deletion
curve of that map (the class probability as the top-ranked pixels are replaced by the baseline) beside
the curve of a random ranking. The status line gives the score, f(x) - f(baseline) and, for
integrated gradients, the completeness gap sum(map) - (f(x) - f(baseline)).

Everything is computed by :mod:`nncourse.explain` on the NumPy model; each result is cached, so
moving back to a setting seen before costs only the drawing.

:func:`show_text_attributions` draws attributions over a text (sections 11-12: the character GPT)
as a heat strip, one row per method.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import explain
from .base import FigureWidget

METHODS = {"gradient": "gradient", "gradient × input": "gradient_x_input", "SmoothGrad": "smoothgrad",
           "integrated gradients": "integrated_gradients", "occlusion (2×2)": "occlusion"}


def blur(images: np.ndarray) -> np.ndarray:
    """A 3x3 box blur of images (N, C, H, W) (edges padded by repetition): a 'blurred' baseline."""
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = images.shape[2:]
    return sum(padded[:, :, i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9.0


def show_text_attributions(ax, text: str, rows: dict, *, predicted: str | None = None, fontsize: int = 10):
    """Draw attributions over a text as a heat strip: one row per method (``rows``: name ->
    values (len(text),)), each character on a cell coloured by its value (red: raises the score,
    blue: lowers it; each row scaled by its own largest |value|, printed at the row's end).
    Spaces are shown as "␣", newlines as "⏎". ``predicted`` is written after the text. Returns ``ax``.
    """
    chars = ["␣" if c == " " else "⏎" if c == "\n" else c for c in text]
    names = list(rows)
    values = np.array([np.asarray(rows[n], dtype=float).ravel() for n in names])    # (rows, T)
    if values.shape[1] != len(chars):
        raise ValueError(f"each row needs one value per character ({len(chars)}), got {values.shape[1]}")
    scale = np.abs(values).max(axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    ax.imshow(values / scale, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for r in range(len(names)):
        for t, c in enumerate(chars):
            ax.text(t, r, c, ha="center", va="center", fontsize=fontsize, family="monospace")
        ax.text(len(chars) - 0.3, r, f" max |·| {scale[r, 0]:.2g}", ha="left", va="center", fontsize=8)
    if predicted is not None:
        ax.set_title(f"context → next character {predicted!r}", fontsize=10)
    ax.set_yticks(range(len(names)), names)
    ax.set_xticks([])
    ax.set_xlim(-0.5, len(chars) + 4.5)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    return ax


class AttributionExplorer(FigureWidget):
    """Controls: image, class, method, baseline, steps. ``model`` maps images (N, C, H, W) to class
    scores (N, classes) with ``forward``/``backward`` (a NumPy Sequential); ``images`` (K, C, H, W).

    ``precompute=True`` computes the initial method's maps for every image up front (the image
    slider then only draws). After each change ``attribution`` holds the map (C, H, W), ``gap`` the completeness gap (None
    unless the method is integrated gradients), ``curve`` and ``random_curve`` the deletion
    curves (fractions, scores).
    """

    # JPEG: encoding a PNG was about half of an update (measured kernel-side, same load: median
    # 48-77 ms per update as JPEG vs 87-97 ms as PNG); the pixel blocks and text survive quality 90.
    image_format = "jpeg"

    def __init__(self, model, images, labels=None, *, classes=None, mean_image=None, smoothgrad_stdev: float = 0.15,
                 smoothgrad_samples: int = 16, deletion_steps: int = 16, seed: int = 0, precompute: bool = True,
                 title: str = "attribution explorer"):
        super().__init__(figsize=(10, 3.4))
        images = np.asarray(images, dtype=float)
        if images.ndim != 4:
            raise ValueError(f"images must be (K, C, H, W), got shape {images.shape}")
        self.model, self.images = model, images
        self.labels = None if labels is None else np.asarray(labels)
        self.predicted = model.forward(images).argmax(axis=1)  # (K,) once: the "predicted" class
        n_classes = model.forward(images[:1]).shape[1]
        self.classes = list(classes) if classes is not None else [str(c) for c in range(n_classes)]
        self.baselines = {"black (0)": lambda k: np.zeros_like(images[k]),
                          "blurred image": lambda k: self._blurred[k],
                          "mean image": lambda k: np.broadcast_to(
                              images.mean(axis=0) if mean_image is None else np.asarray(mean_image, float).reshape(images.shape[1:]),
                              images.shape[1:])}
        self._blurred = blur(images)
        self.sg_stdev, self.sg_samples, self.steps_deletion, self.seed = smoothgrad_stdev, smoothgrad_samples, deletion_steps, seed
        self._cache: dict = {}
        self._random_curves: dict = {}
        self.random_ranking = np.random.default_rng(seed).random(images.shape[1:])

        self.image = widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="image")
        self.cls = widgets.Dropdown(options=[("predicted", -1)] + [(c, i) for i, c in enumerate(self.classes)],
                                    value=-1, description="class", layout=widgets.Layout(width="190px"))
        self.method = widgets.Dropdown(options=list(METHODS), value="integrated gradients", description="method",
                                       layout=widgets.Layout(width="270px"))
        self.baseline = widgets.Dropdown(options=list(self.baselines), value="black (0)", description="baseline",
                                         layout=widgets.Layout(width="250px"))
        self.steps = widgets.IntSlider(value=32, min=2, max=128, description="steps", continuous_update=False)
        self.controls = widgets.VBox([widgets.HBox([self.image, self.cls, self.method]),
                                      widgets.HBox([self.baseline, self.steps]), self.status])
        self.observe(self.image, self.cls, self.method, self.baseline, self.steps)

        ax_img, ax_map, self.ax_curve = self.fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.5]})
        self.fig.subplots_adjust(left=0.03, right=0.98, bottom=0.16, top=0.85, wspace=0.25)
        shape = images.shape[2:]
        self.picture = ax_img.imshow(np.zeros(shape), cmap="gray_r", vmin=0, vmax=max(1.0, float(images.max())),
                                     interpolation="nearest")
        self.map_image = ax_map.imshow(np.zeros(shape), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        for ax in (ax_img, ax_map):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)  # the blitted image would cover half of them
        self.ax_img, self.ax_map = ax_img, ax_map
        ax_img.set_title("image", fontsize=10)
        ax_map.set_title("attribution (red +, blue -)", fontsize=10)
        (self.curve_line,) = self.ax_curve.plot([], [], "o-", ms=3, color="C3", label="this map")
        (self.random_line,) = self.ax_curve.plot([], [], "s--", ms=3, color="gray", label="random ranking")
        self.ax_curve.set_xlim(0, 1)
        self.ax_curve.set_ylim(-0.03, 1.03)
        self.ax_curve.set_xlabel("fraction of pixels deleted (top-ranked first)")
        self.ax_curve.set_ylabel("class probability")
        self.ax_curve.set_title("deletion curve", fontsize=10)
        self.ax_curve.legend(fontsize=8, loc="upper right")
        self.fig.suptitle(title, fontsize=11)
        # only these change: drawn over a cached background (the titles stay; the status line names the setting)
        self.animate(self.picture, self.map_image, self.curve_line, self.random_line)
        if precompute:  # the initial setting for every image: moving the image slider then only draws
            for k in range(len(images)):
                self.compute(k, self.target(k), self.method.value, self.baseline.value, self.steps.value)
        self.update()

    # --- state -----------------------------------------------------------------------------
    def target(self, k: int | None = None) -> int:
        """The explained class: the menu's, or the model's prediction for image k."""
        k = self.image.value if k is None else k
        return int(self.cls.value) if self.cls.value >= 0 else int(self.predicted[k])

    def compute(self, k: int, target: int, method: str, baseline: str, steps: int):
        """(map (C, H, W), gap or None, (fractions, scores), (fractions, random scores), f(x), f(base)); cached."""
        key = (k, target, method, baseline, steps if method == "integrated gradients" else None)
        if key in self._cache:
            return self._cache[key]
        x = self.images[k:k + 1]
        base = np.asarray(self.baselines[baseline](k))[None]
        grad_fn, score_fn = explain.model_gradient(self.model, target), explain.model_score(self.model, target)
        name, gap = METHODS[method], None
        if name == "gradient":
            attr = explain.vanilla_gradient(grad_fn, x)
        elif name == "gradient_x_input":
            attr = explain.gradient_x_input(grad_fn, x)
        elif name == "smoothgrad":
            attr = explain.smoothgrad(grad_fn, x, stdev=self.sg_stdev, n_samples=self.sg_samples, seed=self.seed)
        elif name == "integrated_gradients":
            attr = explain.integrated_gradients(grad_fn, x, base, steps=steps, method="trapezoid")
            gap = float(explain.completeness_gap(score_fn, x, base, attr)[0])
        else:
            attr = explain.occlusion(score_fn, x, (1, 2, 2), (1, 1, 1), baseline=base)
        prob_fn = explain.model_probability(self.model, target)
        curve = explain.deletion_curve(prob_fn, x[0], attr[0], baseline=base[0], steps=self.steps_deletion)
        random_key = (k, target, baseline)
        if random_key not in self._random_curves:
            self._random_curves[random_key] = explain.deletion_curve(prob_fn, x[0], self.random_ranking, baseline=base[0],
                                                                     steps=self.steps_deletion)
        rnd = self._random_curves[random_key]
        f_x, f_b = float(score_fn(x)[0]), float(score_fn(base)[0])
        self._cache[key] = result = (attr[0], gap, curve, rnd, f_x, f_b)
        return result

    # --- drawing ---------------------------------------------------------------------------
    def update(self):
        k, target = self.image.value, self.target()
        attr, gap, curve, rnd, f_x, f_b = self.compute(k, target, self.method.value, self.baseline.value,
                                                       self.steps.value)
        self.attribution, self.gap, self.curve, self.random_curve = attr, gap, curve, rnd
        self.picture.set_data(self.images[k].mean(axis=0))
        shown = attr.sum(axis=0)  # over channels
        limit = float(np.abs(shown).max()) or 1.0
        self.map_image.set_data(shown)
        self.map_image.set_clim(-limit, limit)
        self.curve_line.set_data(*curve)
        self.random_line.set_data(*rnd)
        truth = "" if self.labels is None else f" (label {self.classes[int(self.labels[k])]})"
        auc, auc_rnd = explain.area_under_curve(*curve), explain.area_under_curve(*rnd)
        text = (f"<b>image {k}{truth}, {self.method.value} for class {self.classes[target]}</b>: "
                f"score f(x) = {f_x:.3f}, f(baseline) = {f_b:.3f}; deletion area {auc:.3f} "
                f"(random ranking {auc_rnd:.3f}; smaller = more faithful)")
        if gap is not None:
            text += f"; completeness gap sum(map) - (f(x) - f(baseline)) = {gap:+.2e} with {self.steps.value} steps"
        self.status.value = text
