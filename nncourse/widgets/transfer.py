"""Widget of notebook 10: explore the label-budget runs (which method wins with how many labels).

:class:`LabelBudgetExplorer` takes the records of
:func:`nncourse.at_scale.transfer.label_budget_runs` (dicts with ``method``, ``budget``, ``seed``,
``accuracy``), computed once; moving the controls only redraws. Left: test accuracy against labels
per class, the mean of every method with a band from the worst to the best seed, and a marker at
the chosen budget. Right: at that budget, every seed's accuracy as a dot and the mean as a bar, so
the spread between seeds is visible next to the gap between methods. The check boxes hide or show
methods.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import PolyCollection

from .base import FigureWidget
from .drawing import Backdrop


class LabelBudgetExplorer(FigureWidget):
    """A slider over the label budgets and a check box per method, over precomputed records."""

    def __init__(self, records, budget: int | None = None, title: str = "same labelled examples for every method"):
        super().__init__(figsize=(10, 3.8))
        if not records:
            raise ValueError("records is empty: run label_budget_runs first")
        self.methods = list(dict.fromkeys(r["method"] for r in records))
        self.budgets = sorted({r["budget"] for r in records})
        self.acc = {(m, k): np.array([r["accuracy"] for r in records if r["method"] == m and r["budget"] == k])
                    for m in self.methods for k in self.budgets}
        self.budget = widgets.SelectionSlider(options=self.budgets, value=budget or self.budgets[len(self.budgets) // 2],
                                              description="labels/class")
        self.shown = {m: widgets.Checkbox(value=True, description=m, indent=False,
                                          layout=widgets.Layout(width="auto")) for m in self.methods}
        self.controls = widgets.VBox([widgets.HBox([self.budget, *self.shown.values()]), self.status])
        self.observe(self.budget, *self.shown.values())

        self.ax_curve, self.ax_at = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
        self.colors = {m: f"C{i % 10}" for i, m in enumerate(self.methods)}   # the notebook's plot colours
        self.lines, self.bands = {}, {}
        for m in self.methods:
            means = [self.acc[m, k].mean() for k in self.budgets]
            lows = [self.acc[m, k].min() for k in self.budgets]
            highs = [self.acc[m, k].max() for k in self.budgets]
            (self.lines[m],) = self.ax_curve.plot(self.budgets, means, "o-", color=self.colors[m], label=m, ms=4)
            self.bands[m] = self.ax_curve.fill_between(self.budgets, lows, highs, color=self.colors[m], alpha=0.2, lw=0)
        self.ax_curve.set_xscale("log")
        self.ax_curve.set_xticks(self.budgets, labels=[str(k) for k in self.budgets])
        self.ax_curve.minorticks_off()
        self.ax_curve.set(xlabel="labelled examples per class", ylabel="test accuracy", title=title)
        self.ax_curve.legend(fontsize=8, loc="lower right")
        self.marker = self.ax_curve.axvline(self.budget.value, color="0.3", lw=1, ls="--")
        lowest = min(a.min() for a in self.acc.values())
        self.ax_curve.set_ylim(max(0.0, lowest - 0.05), 1.0)
        self.ax_at.set_ylim(max(0.0, lowest - 0.05), 1.0)
        self.ax_at.set_xlim(-0.6, len(self.methods) - 0.4)
        self.ax_at.set_xticks(range(len(self.methods)),
                              labels=[m.replace(" ", "\n", 1) for m in self.methods], fontsize=8)
        self.ax_at.set_ylabel("test accuracy")
        self.bars = PolyCollection([], facecolors=[self.colors[m] for m in self.methods], alpha=0.5, edgecolors="none")
        self.ax_at.add_collection(self.bars)
        self.dots = self.ax_at.scatter([], [], s=18, color="k", zorder=3)
        # A static title: re-rendering text on every update cost ~20 ms (the slider and the status line
        # already say which budget is shown).
        self.ax_at.set_title("at the chosen budget (dashed line): each dot a seed", fontsize=10)
        self.fig.tight_layout()
        # the marker stays above the legend, as when it was drawn after every static artist
        self.marker.set_zorder(self.ax_curve.get_legend().get_zorder() + 1)
        self.animate(self.marker, self.bars, self.dots)
        # A check box shows or hides a curve: instead of redrawing the whole figure (its ~60 texts:
        # ~90 ms), repaint the left panel's curves, and what a full redraw draws over them (its
        # spines and legend), over the figure saved once without them.
        self._curves = Backdrop(self, [*self.bands.values(), *self.lines.values(),
                                       *self.ax_curve.spines.values(), self.ax_curve.get_legend()])
        self._visible = None
        self.update()

    def update(self):
        visible = tuple(self.shown[m].value for m in self.methods)
        if visible != self._visible:          # static curves change: repainted over the backdrop
            self._visible = visible
            for m, on in zip(self.methods, visible):
                self.lines[m].set_visible(on)
                self.bands[m].set_visible(on)
            self._curves.repaint()
        k = self.budget.value
        self.marker.set_xdata([k, k])
        verts, offsets, colors = [], [], []
        for i, (m, on) in enumerate(zip(self.methods, visible)):
            if not on:
                continue
            a = self.acc[m, k]
            verts.append([(i - 0.35, 0), (i - 0.35, a.mean()), (i + 0.35, a.mean()), (i + 0.35, 0)])
            colors.append(self.colors[m])
            offsets.extend((i + 0.25 * (j / max(len(a) - 1, 1) - 0.5), v) for j, v in enumerate(a))
        self.bars.set_verts(verts)
        self.bars.set_facecolor(colors)
        self.dots.set_offsets(np.array(offsets) if offsets else np.empty((0, 2)))
        shown = [m for m, on in zip(self.methods, visible) if on]
        if shown:
            best = max(shown, key=lambda m: self.acc[m, k].mean())
            self.status.value = (f"With {k} labelled example{'s' if k > 1 else ''} per class, the best mean is {best} "
                                 f"({self.acc[best, k].mean():.1%}, seeds from {self.acc[best, k].min():.1%} "
                                 f"to {self.acc[best, k].max():.1%}).")
        else:
            self.status.value = "Tick a method to see it."
