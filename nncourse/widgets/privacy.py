"""Privacy explorer (notebook 15): noise multiplier σ and clipping norm C -> ε, accuracy, attack AUC.

DP-SGD has two knobs. The noise multiplier σ sets the privacy budget ε (with the sampling rate,
the number of steps and δ, through the accountant); the clipping norm C does not change ε at all
- the noise is σC, scaled to C - but it decides how much of the signal survives: a small C
clips every gradient hard (slow learning), a large C lets the noise σC swamp the clipped sum.

The widget shows runs computed beforehand (in the notebook, a small grid of σ x C trained with
the learner's DP-SGD): ε against σ, and heat maps of test accuracy and membership-inference AUC
over the grid, with the chosen setting framed. An update moves three markers and rewrites three
titles: no training happens in the widget.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullFormatter

from .base import FigureWidget


def _check_grid(sigmas, clip_norms, eps, accuracy, auc):
    sigmas, clip_norms = np.asarray(sigmas, float), np.asarray(clip_norms, float)
    eps, accuracy, auc = np.asarray(eps, float), np.asarray(accuracy, float), np.asarray(auc, float)
    if sigmas.ndim != 1 or clip_norms.ndim != 1 or not len(sigmas) or not len(clip_norms):
        raise ValueError(f"sigmas and clip_norms must be non-empty 1-D lists, got shapes {sigmas.shape} "
                         f"and {clip_norms.shape}")
    if eps.shape != sigmas.shape:
        raise ValueError(f"eps must have one value per σ, shape {sigmas.shape}, got {eps.shape}")
    for name, table in (("accuracy", accuracy), ("auc", auc)):
        if table.shape != (len(sigmas), len(clip_norms)):
            raise ValueError(f"{name} must be (len(sigmas), len(clip_norms)) = {(len(sigmas), len(clip_norms))}, "
                             f"got {table.shape}")
    return sigmas, clip_norms, eps, accuracy, auc


class PrivacyExplorer(FigureWidget):
    """Controls: σ and C (sliders over the precomputed grid).

    sigmas (S,), clip_norms (M,): the grid; eps (S,): ε of each σ; accuracy, auc (S, M): the runs'
    test accuracy and membership-inference AUC. ``baseline``: optional (accuracy, AUC) of the
    non-private run, drawn for comparison; ``delta``: the δ of ε (for the labels).
    """

    def __init__(self, sigmas, clip_norms, *, eps, accuracy, auc, baseline=None, delta: float = 1e-5,
                 sigma=None, clip_norm=None):
        super().__init__(figsize=(11, 3.4))
        self.sigmas, self.clip_norms, self.eps, self.accuracy, self.auc = _check_grid(
            sigmas, clip_norms, eps, accuracy, auc)
        self.baseline, self.delta = baseline, delta
        sigma = self.sigmas[0] if sigma is None else sigma
        clip_norm = self.clip_norms[len(self.clip_norms) // 2] if clip_norm is None else clip_norm
        for name, value, options in (("sigma", sigma, self.sigmas), ("clip_norm", clip_norm, self.clip_norms)):
            if not np.isclose(options, value).any():
                raise ValueError(f"{name} must be one of the grid's values {options.tolist()}, got {value!r}")
        self.sigma = widgets.SelectionSlider(options=[(f"{s:g}", float(s)) for s in self.sigmas],
                                             value=float(self.sigmas[np.isclose(self.sigmas, sigma)][0]),
                                             description="noise σ")
        self.clip_norm = widgets.SelectionSlider(options=[(f"{c:g}", float(c)) for c in self.clip_norms],
                                                 value=float(self.clip_norms[np.isclose(self.clip_norms, clip_norm)][0]),
                                                 description="clip C")
        self.controls = widgets.VBox([widgets.HBox([self.sigma, self.clip_norm]), self.status])
        self.observe(self.sigma, self.clip_norm)

        self.ax_eps, self.ax_acc, self.ax_auc = self.fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.1, 1.1]})
        self.ax_eps.plot(self.sigmas, self.eps, "o-", color="C0")
        (self.eps_marker,) = self.ax_eps.plot([], [], "o", ms=12, mfc="none", mec="C3", mew=2)
        self.ax_eps.set(xscale="log", yscale="log", xlabel="noise multiplier σ", ylabel=f"ε (δ = {delta:g})")
        self.ax_eps.set_xticks(self.sigmas, labels=[f"{s:g}" for s in self.sigmas])
        self.ax_eps.set_yticks(self.eps, labels=[f"{e:.3g}" for e in self.eps])
        for axis in (self.ax_eps.xaxis, self.ax_eps.yaxis):
            axis.set_minor_formatter(NullFormatter())
        self.ax_eps.set_title(" ", fontsize=10)
        self.frames = []
        for ax, table, label, cmap in ((self.ax_acc, self.accuracy, "test accuracy", "viridis"),
                                       (self.ax_auc, self.auc, "membership AUC", "magma_r")):
            image = ax.imshow(table, cmap=cmap, vmin=table.min(), vmax=table.max() + 1e-12, aspect="auto")
            for i in range(len(self.sigmas)):
                for j in range(len(self.clip_norms)):
                    r, g, b, _ = image.cmap(image.norm(table[i, j]))
                    ax.text(j, i, f"{table[i, j]:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black")
            ax.set_xticks(range(len(self.clip_norms)), labels=[f"{c:g}" for c in self.clip_norms])
            ax.set_yticks(range(len(self.sigmas)), labels=[f"{s:g}" for s in self.sigmas])
            ax.set(xlabel="clipping norm C", ylabel="σ")
            ax.set_title(" ", fontsize=10)
            frame = Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="C3", lw=2.5)
            ax.add_patch(frame)
            self.frames.append(frame)
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.17, top=0.88, wspace=0.35)
        self.animate(self.eps_marker, *self.frames, self.ax_eps.title, self.ax_acc.title, self.ax_auc.title)
        self.update()

    def selected(self) -> dict:
        """The run at the current σ and C: {"sigma", "clip_norm", "eps", "accuracy", "auc"}."""
        i = int(np.flatnonzero(np.isclose(self.sigmas, self.sigma.value))[0])
        j = int(np.flatnonzero(np.isclose(self.clip_norms, self.clip_norm.value))[0])
        return {"sigma": self.sigmas[i], "clip_norm": self.clip_norms[j], "eps": self.eps[i],
                "accuracy": self.accuracy[i, j], "auc": self.auc[i, j], "row": i, "column": j}

    def update(self) -> None:
        run = self.selected()
        self.eps_marker.set_data([run["sigma"]], [run["eps"]])
        for frame in self.frames:
            frame.set_xy((run["column"] - 0.5, run["row"] - 0.5))
        self.ax_eps.set_title(f"ε = {run['eps']:.3g} (the same for every C)", fontsize=10)
        self.ax_acc.set_title(f"test accuracy {run['accuracy']:.2f}", fontsize=10)
        self.ax_auc.set_title(f"membership AUC {run['auc']:.2f}", fontsize=10)
        text = (f"σ = {run['sigma']:g}, C = {run['clip_norm']:g}: ε = {run['eps']:.3g} at δ = {self.delta:g}, "
                f"test accuracy {run['accuracy']:.3f}, membership-inference AUC {run['auc']:.3f}")
        if self.baseline is not None:
            text += f" (non-private: {self.baseline[0]:.3f} and {self.baseline[1]:.3f})"
        self.status.value = text

