"""Widget of notebook 11: *Will it fit?* — the memory of training a transformer, per GPU.

:class:`WillItFit` has sliders and menus for the model (GPT-2 small to a 65B model of LLaMA's shape),
precision, optimizer, micro-batch, sequence length, activation checkpointing, ZeRO stage and the
number of GPUs. It draws one stacked bar per ZeRO stage (weights, gradients, optimizer state,
activations, in GB per GPU; the selected stage outlined) against dashed lines at the memory of
common GPUs. The numbers come from :func:`nncourse.scale.training_memory`.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from ..scale import GPUS, MODELS, training_memory
from .base import FigureWidget

PARTS = ("weights", "gradients", "optimizer", "activations")
COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52")
GB = 1e9
X_RANGES = (160, 250, 400, 600, 1000, 1600, 2500, 4000, 6000, 10_000, 16_000, 25_000, 40_000, float("inf"))


class WillItFit(FigureWidget):
    """The controls are attributes (``model``, ``precision``, ``optimizer``, ``batch``, ``seq_len``,
    ``checkpointing``, ``zero_stage``, ``gpus``); after each change ``memory`` holds the four
    stages' :func:`training_memory` dicts and ``fits`` the GPUs the selected stage fits on."""

    def __init__(self, *, model: int = 2, precision: str = "bf16", optimizer: str = "adam", batch: int = 1,
                 seq_len: int = 2048, checkpointing: bool = False, zero_stage: int = 0, gpus: int = 8):
        super().__init__(figsize=(9, 3.4))
        self.model = widgets.SelectionSlider(options=[(m.name, i) for i, m in enumerate(MODELS)], value=model,
                                             description="model", continuous_update=True,
                                             layout=widgets.Layout(width="420px"))
        self.precision = widgets.Dropdown(options=[("bf16 mixed", "bf16"), ("fp16 mixed", "fp16"),
                                                   ("fp32", "fp32")], value=precision, description="precision",
                                          layout=widgets.Layout(width="200px"))
        self.optimizer = widgets.Dropdown(options=["adam", "momentum", "sgd"], value=optimizer,
                                          description="optimizer", layout=widgets.Layout(width="200px"))
        self.batch = widgets.SelectionSlider(options=[1, 2, 4, 8, 16, 32, 64], value=batch,
                                             description="micro-batch")
        self.seq_len = widgets.SelectionSlider(options=[256, 512, 1024, 2048, 4096, 8192], value=seq_len,
                                               description="sequence")
        self.checkpointing = widgets.Checkbox(value=checkpointing, description="activation checkpointing",
                                              indent=False)
        self.zero_stage = widgets.IntSlider(value=zero_stage, min=0, max=3, description="ZeRO stage")
        self.gpus = widgets.SelectionSlider(options=[1, 2, 4, 8, 16, 64, 256, 1024], value=gpus,
                                            description="GPUs")
        self.controls = widgets.VBox([
            widgets.HBox([self.model, self.precision, self.optimizer]),
            widgets.HBox([self.batch, self.seq_len, self.checkpointing]),
            widgets.HBox([self.zero_stage, self.gpus]), self.status])
        self.observe(self.model, self.precision, self.optimizer, self.batch, self.seq_len, self.checkpointing,
                     self.zero_stage, self.gpus)

        self.ax = self.fig.add_axes([0.1, 0.17, 0.86, 0.66])
        stages = np.arange(4)
        self.bars = {part: self.ax.barh(stages, np.zeros(4), color=color, label=part, height=0.6)
                     for part, color in zip(PARTS, COLORS)}
        self.ax.set_yticks(stages, [f"ZeRO {s}" for s in stages])
        self.ax.invert_yaxis()
        self.ax.set_xlabel("memory per GPU (GB)")
        self.gpu_lines = []
        for i, (name, size) in enumerate(GPUS.items()):
            line = self.ax.axvline(size, color="0.3", ls="--", lw=1)
            label = self.ax.text(size, -0.55 - 0.35 * (i % 2), f"{size} GB", ha="center", va="bottom",
                                 fontsize=8, color="0.3")
            self.gpu_lines.append((line, label))
        self.selected = self.ax.barh([0], [0], height=0.72, fill=False, edgecolor="black", lw=2)[0]
        self.total_label = self.ax.text(0, 0, "", va="center", fontsize=9)  # the selected stage's total
        self.ax.legend(loc="lower right", fontsize=8, ncol=4, bbox_to_anchor=(1.0, 1.09), frameon=False)
        self.fig.suptitle("memory per GPU, by ZeRO stage", x=0.01, ha="left",
                          fontsize=10, y=0.98)
        self.memory: list[dict] = []
        self.fits: list[str] = []
        self._right = None
        self._backgrounds = {}  # x range -> the cached background drawn for it
        self.verdict = ""
        # redrawn on every change over a cached background (axes, ticks, legend, GPU lines), which
        # is drawn once per x range (its ~25 texts: ~35 ms) and kept: dragging back costs no redraw
        self.animate(*[rect for part in PARTS for rect in self.bars[part]], self.selected, self.total_label)

    def settings(self) -> dict:
        return dict(precision=self.precision.value, optimizer=self.optimizer.value, batch=self.batch.value,
                    seq_len=self.seq_len.value, checkpointing=self.checkpointing.value, gpus=self.gpus.value)

    def update(self) -> None:
        shape = MODELS[self.model.value]
        self.memory = [training_memory(shape, zero_stage=s, **self.settings()) for s in range(4)]
        totals = np.array([sum(m.values()) for m in self.memory]) / GB
        for s, mem in enumerate(self.memory):
            left = 0.0
            for part in PARTS:
                rect = self.bars[part][s]
                rect.set_x(left)
                rect.set_width(mem[part] / GB)
                left += mem[part] / GB
        stage = self.zero_stage.value
        self.selected.set_y(stage - 0.36)
        self.selected.set_width(totals[stage])
        # one label only: drawing text is the slow part of a refresh (the other totals are in the status line)
        self.total_label.set_position((totals[stage], stage))
        self.total_label.set_text(f"  {totals[stage]:,.1f} GB")
        right = next(r for r in X_RANGES if r >= totals.max() * 1.18)
        if right != self._right:
            if self._right is not None:
                self._backgrounds[self._right] = self._background
            self._right = right
            self.ax.set_xlim(0, right)
            self.ax.set_ylim(3.5, -1.2)
            last_label = [-right, -right]  # the labels alternate between two rows
            for i, ((line, label), size) in enumerate(zip(self.gpu_lines, GPUS.values())):
                line.set_visible(size < right)
                label.set_visible(size < right and size - last_label[i % 2] > 0.06 * right)  # no overlaps
                last_label[i % 2] = size if label.get_visible() else last_label[i % 2]
            self.invalidate()
            # everything static depends on the x range alone: a range seen before has its picture
            self._background = self._backgrounds.get(right)
        self.fits = [name for name, size in GPUS.items() if totals[stage] <= size]
        verdict = f"fits on {self.fits[0]}" if self.fits else "fits on none of these GPUs"
        # the verdict is text under the controls, not in the picture: text is the slow part of a redraw
        self.verdict = (f"{shape.name}: {shape.params / 1e9:.2f}B parameters on {self.gpus.value} GPU(s). "
                        f"ZeRO {stage} needs {totals[stage]:,.1f} GB per GPU "
                        f"(activations {self.memory[stage]['activations'] / GB:,.1f} GB): {verdict}.")
        self.status.value = (f"<b>{self.verdict}</b> Per GPU, ZeRO 0/1/2/3: "
                             + " / ".join(f"{t:,.1f}" for t in totals) + " GB")
