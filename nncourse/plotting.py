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
