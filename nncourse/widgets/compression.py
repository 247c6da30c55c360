"""Widget of notebook 12: the *Compression explorer*.

Sliders for the bit width and the sparsity, switches for per-channel quantization and structured
pruning. Left: the histogram of a layer's weights after pruning, with the quantization grid drawn
over it (the grid of the layer's typical row when per channel, of the whole tensor otherwise); the
RMS error of the fake-quantized weights is in the status line. Right: validation accuracy against the bit width for
the current switches, read from a table the notebook measured beforehand (nothing is trained
while you drag), with the current setting marked, and its size (and latency, where measured).
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection

from .. import compression
from ..plotting import CLASS_COLORS
from .base import FigureWidget

Key = tuple  # (bits, per_channel, sparsity, structured)


class CompressionExplorer(FigureWidget):
    """``weights``: a 2-D weight matrix (output channels x inputs). ``table``: maps
    ``(bits, per_channel, sparsity, structured)`` to a dict with ``"accuracy"`` and optionally
    ``"kbytes"`` and ``"p50_ms"``, for every bits in ``bits``, sparsity in ``sparsities`` and both
    switches. After each change, ``error`` holds the RMS quantization error of the shown weights
    and ``entry`` the table's row."""

    def __init__(self, weights, table: dict, *, bits=range(2, 9), sparsities=(0.0, 0.5, 0.8, 0.9),
                 float_accuracy: float | None = None, title: str = "compression explorer"):
        super().__init__(figsize=(10, 3.8))
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 2:
            raise ValueError(f"weights must be a 2-D matrix (out x in), got shape {w.shape}")
        self.w, self.table = w, dict(table)
        self.bit_options, self.sparsities = [int(b) for b in bits], [float(s) for s in sparsities]
        missing = [(b, pc, s, st) for b in self.bit_options for pc in (False, True) for s in self.sparsities
                   for st in (False, True) if (b, pc, s, st) not in self.table]
        if missing:
            raise ValueError(f"the table has no entry for {len(missing)} settings, e.g. "
                             f"(bits, per_channel, sparsity, structured) = {missing[0]}")
        self.bits = widgets.SelectionSlider(options=self.bit_options, value=self.bit_options[-1], description="bits")
        self.sparsity = widgets.SelectionSlider(options=[(f"{s:.0%}", s) for s in self.sparsities],
                                                value=self.sparsities[0], description="sparsity")
        self.per_channel = widgets.Checkbox(value=False, description="per channel", indent=False)
        self.structured = widgets.Checkbox(value=False, description="structured (whole rows)", indent=False)
        self.controls = widgets.VBox([widgets.HBox([self.bits, self.per_channel]),
                                      widgets.HBox([self.sparsity, self.structured]), self.status])
        self.observe(self.bits, self.sparsity, self.per_channel, self.structured)

        self.ax_hist, self.ax_acc = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
        self.fig.subplots_adjust(left=0.06, right=0.98, bottom=0.15, top=0.86, wspace=0.25)
        limit = np.abs(w).max() * 1.05
        self.edges = np.linspace(-limit, limit, 121)
        self.hist = self.ax_hist.stairs(np.zeros(120), self.edges, fill=True, color=CLASS_COLORS[0], alpha=0.8)
        # x in data units, y from the bottom to the top of the axes: an affine transform, fast to draw
        self.grid = LineCollection([], colors="crimson", linewidths=0.8, alpha=0.7,
                                   transform=self.ax_hist.get_xaxis_transform())
        self.ax_hist.add_collection(self.grid)
        self.ax_hist.set_xlim(-limit, limit)
        self.ax_hist.set_yscale("symlog", linthresh=10)
        self.ax_hist.set_ylim(0, w.size)
        self.ax_hist.set_xlabel("weight value (red: the quantization grid)")
        self.ax_hist.set_ylabel("count (nonzero weights)")
        self.ax_hist.set_title("the layer's weights after pruning, and the grid", fontsize=10)

        self.curve, = self.ax_acc.plot(self.bit_options, np.zeros(len(self.bit_options)), "o-", color=CLASS_COLORS[1])
        self.marker, = self.ax_acc.plot([], [], "o", ms=12, mfc="none", mec="crimson", mew=2)
        if float_accuracy is not None:
            self.ax_acc.axhline(float_accuracy, color="gray", ls="--", lw=1, label="float32")
            self.ax_acc.legend(loc="lower right", fontsize=8)
        self.ax_acc.set_xlim(min(self.bit_options) - 0.5, max(self.bit_options) + 0.5)
        self.ax_acc.set_ylim(0, 1.02)
        self.ax_acc.set_xlabel("bits")
        self.ax_acc.set_ylabel("validation accuracy")
        self.ax_acc.set_title("whole network, current switches", fontsize=10)
        self.fig.suptitle(title, fontsize=11)
        # the numbers go to the status line under the controls (HTML): drawing text is the slow part
        self.animate(self.hist, self.grid, self.curve, self.marker)
        self.update()

    def current(self) -> Key:
        return (int(self.bits.value), bool(self.per_channel.value), float(self.sparsity.value),
                bool(self.structured.value))

    def shown_weights(self) -> tuple[np.ndarray, np.ndarray, compression.QParams]:
        """(pruned weights, their fake-quantized values, the grid) for the current controls."""
        bits, per_channel, sparsity, structured = self.current()
        mask = (compression.structured_mask(self.w, sparsity) if structured
                else compression.magnitude_mask(self.w, sparsity))
        pruned = self.w * mask
        qp = compression.calibrate(pruned, bits, "symmetric", axis=0 if per_channel else None)
        return pruned, compression.fake_quantize(pruned, qp), qp

    def update(self):
        bits, per_channel, sparsity, structured = key = self.current()
        pruned, quantized, qp = self.shown_weights()
        kept = pruned != 0
        self.error = float(np.sqrt(np.mean((quantized - pruned)[kept] ** 2))) if kept.any() else 0.0
        counts, _ = np.histogram(pruned[kept], self.edges)
        self.hist.set_data(counts)
        scales = np.asarray(qp.scale, dtype=np.float64).reshape(-1)
        alive = np.abs(pruned).max(1) > 0
        scale = float(np.median(scales[alive])) if per_channel and alive.any() else float(scales[0])
        levels = np.arange(qp.qmin, qp.qmax + 1) * scale
        if len(levels) > 32:  # at 6-8 bits the grid is finer than the picture: draw every k-th line
            levels = levels[:: int(np.ceil(len(levels) / 32))]
        self.grid.set_segments([[(v, 0), (v, 1)] for v in levels])
        which = "per channel" if per_channel else "per tensor"
        self.entry = self.table[key]
        self.curve.set_ydata([self.table[(b, per_channel, sparsity, structured)]["accuracy"]
                              for b in self.bit_options])
        self.marker.set_data([bits], [self.entry["accuracy"]])
        extra = "".join([f", {self.entry['kbytes']:.1f} KB" if "kbytes" in self.entry else "",
                         f", {self.entry['p50_ms']:.3f} ms" if "p50_ms" in self.entry else ""])
        self.status.value = (f"<b>{bits} bits</b> {which}, {sparsity:.0%} pruned "
                             f"({'whole rows' if structured else 'single weights'}): RMS error of these weights "
                             f"{self.error:.4f}; validation accuracy {self.entry['accuracy']:.3f}{extra}")
