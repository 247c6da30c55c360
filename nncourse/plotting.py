"""Small plotting helpers shared by notebooks and widgets: one palette, one grid for decision maps."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap

# Class colours (orange = class 0, blue = class 1), as in TensorFlow Playground.
CLASS_COLORS = ["#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
CLASS_CMAP = ListedColormap(CLASS_COLORS[:2])
# A light two-class background for decision regions.
REGION_CMAP = ListedColormap(["#fbd9b5", "#b9d8ee"])


def grid(xlim: tuple[float, float], ylim: tuple[float, float], resolution: int = 100):
    """Points covering a rectangle: returns (xx, yy) each (resolution, resolution) and the points
    stacked as (resolution * resolution, 2), row-major, ready for ``imshow(..., origin="lower")``."""
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    xx, yy = np.meshgrid(xs, ys)  # (res, res) each, rows = y
    return xx, yy, np.stack([xx.ravel(), yy.ravel()], axis=1)  # (res*res, 2)


def plot_loss_curves(train_loss, val_loss=(), ax=None, label: str = ""):
    """Training (solid) and validation (dashed, same colour) loss per epoch on ``ax``; returns the axes.
    Used by both training histories (``nncourse.fit``'s and the NumPy loop's)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    ax = ax or plt.gca()
    epochs = np.arange(1, len(train_loss) + 1)
    (line,) = ax.plot(epochs, train_loss, label=f"{label} train".strip())
    if len(val_loss):
        ax.plot(epochs, val_loss, "--", color=line.get_color(), label=f"{label} validation".strip())
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no tick at epoch 2.5
    ax.set_ylabel("loss")
    ax.legend()
    return ax
