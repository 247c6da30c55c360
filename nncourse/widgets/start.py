"""A tiny widget for notebook 00: if moving the slider changes the curve, widgets work."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .base import FigureWidget


class WidgetCheck(FigureWidget):
    """One slider (frequency) driving one sine curve."""

    def __init__(self):
        super().__init__(figsize=(6, 2.2))
        self.frequency = widgets.FloatSlider(value=1.0, min=0.5, max=5.0, step=0.5, description="frequency")
        self.controls = widgets.VBox([self.frequency, self.status])
        self.x = np.linspace(0, 2 * np.pi, 400)
        ax = self.fig.add_subplot()
        (self.line,) = ax.plot(self.x, np.sin(self.x))
        ax.set_ylim(-1.1, 1.1)
        ax.set_xlabel("x")
        ax.set_title("sin(frequency * x)")
        self.fig.tight_layout()
        self.observe(self.frequency)
        self.update()

    def update(self):
        self.line.set_ydata(np.sin(self.frequency.value * self.x))
        self.status.value = (f"frequency = {self.frequency.value:g}: if the curve redraws when you move "
                             "the slider, widgets work.")
