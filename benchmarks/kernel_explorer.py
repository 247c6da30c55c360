"""Kernel-side update time of notebook 06's Kernel explorer (target: median <= 50 ms).

Each sample moves one control and times the whole refresh: the convolution, updating the
artists, rendering, and encoding the PNG sent to the browser. Every control except the image
choice only redraws the animated artists over a cached background (the axis limits are fixed
per image).
Run: python benchmarks/kernel_explorer.py
"""

import numpy as np

from nncourse.widgets.cnn import IMAGES, KERNELS, KernelExplorer
from timing import measure_widget




def main():
    w = KernelExplorer()
    rows = [
        ("centre weight (photo)", *measure_widget(w, w.weights[4], np.tile(np.linspace(-2, 2, 20).round(2), 3))),
        ("preset (photo)", *measure_widget(w, w.preset, list(KERNELS) * 4)),
        ("selected output column (photo)", *measure_widget(w, w.col, list(range(0, 60)))),
        ("stride (photo)", *measure_widget(w, w.stride, [1, 2, 3] * 10)),
        ("padding (photo)", *measure_widget(w, w.padding, [0, 1, 2, 3] * 8)),
    ]
    w.image.value = IMAGES[1]
    rows.append(("centre weight (digit)", *measure_widget(w, w.weights[4], np.tile(np.linspace(-2, 2, 20).round(2), 3))))
    print(f"{'KernelExplorer control':36s} {'median ms':>10s} {'max ms':>8s} {'n':>4s}")
    for name, median, worst, n in rows:
        flag = "" if median <= 50 else "  (over the 50 ms target)"
        print(f"{name:36s} {median:10.1f} {worst:8.1f} {n:4d}{flag}")


if __name__ == "__main__":
    main()
