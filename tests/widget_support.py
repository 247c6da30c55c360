"""Helpers shared by the widget tests of notebooks 07 and 08 (their widgets repaint part of the
figure and stamp tick labels: these check the result against what matplotlib itself draws)."""
import copy

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def assert_same_as_full_redraw(widget):
    """The picture after a change (drawn by repainting part of the cached background) is the one
    a full redraw of the figure gives, pixel for pixel."""
    repainted = widget.render().copy()
    widget.invalidate()
    np.testing.assert_array_equal(repainted, widget.render())


def matplotlib_ticks(ax, which, locator=None):
    """(position, label) of the ticks matplotlib's own axis shows on an axes of ``ax``'s place and limits
    (with a copy of ``locator`` where given, else matplotlib's default one)."""
    figure = Figure(figsize=ax.figure.get_size_inches(), dpi=ax.figure.dpi)
    FigureCanvasAgg(figure)
    twin = figure.add_axes(ax.get_position())
    twin.set_xscale(ax.get_xscale())
    twin.set_yscale(ax.get_yscale())
    twin.set_xlim(ax.get_xlim())
    twin.set_ylim(ax.get_ylim())
    figure.canvas.draw()
    axis = twin.xaxis if which == "x" else twin.yaxis
    if locator is not None:
        axis.set_major_locator(copy.copy(locator))
        figure.canvas.draw()
    low, high = sorted(axis.get_view_interval())
    return [(tick.get_loc(), tick.label1.get_text()) for tick in axis.get_major_ticks()
            if low - 1e-9 <= tick.get_loc() <= high + 1e-9]
