"""Kernel-side update time of the widgets of notebooks 00 and 01 (target: median <= 50 ms).

Each sample moves one control and times the whole refresh: update the artists, render, encode
the PNG that is sent to the browser. Run: python benchmarks/widgets_00_01.py
"""

import numpy as np

from nncourse.widgets import PerceptronExplorer, WidgetCheck
from timing import measure_widget




def main():
    rows = []
    check = WidgetCheck()
    rows.append(("WidgetCheck: frequency slider", *measure_widget(check, check.frequency, np.tile([1.0, 2.0, 3.0], 20))))
    explorer = PerceptronExplorer("AND")
    rows.append(("PerceptronExplorer: w1 slider (AND)",
                 *measure_widget(explorer, explorer.w1, np.linspace(-2, 2, 60).round(2))))
    explorer.dataset.value = "spiral"
    rows.append(("PerceptronExplorer: b slider (spiral)",
                 *measure_widget(explorer, explorer.b, np.linspace(-1, 1, 60).round(2))))
    print(f"{'widget / control':42s} {'median ms':>10s} {'max ms':>8s} {'n':>4s}")
    for name, median, worst, n in rows:
        flag = "" if median <= 50 else "  (over the 50 ms target)"
        print(f"{name:42s} {median:10.1f} {worst:8.1f} {n:4d}{flag}")


if __name__ == "__main__":
    main()
