"""Timing helpers shared by the benchmark scripts (run them as ``python benchmarks/<name>.py``)."""
from __future__ import annotations

import statistics
import time


def median_seconds(*fns, repeats: int, warmup: int = 3) -> list[float]:
    """Median wall time of each function, called in turn (interleaved) so that a busy machine
    slows all of them alike and the ratio between them stays meaningful."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(bucket) for bucket in times]


def measure_widget(widget, control, values) -> tuple[float, float, int]:
    """Set ``control.value`` to each of ``values`` and return the widget's refresh times:
    (median ms, max ms, number of refreshes). Each refresh covers updating the artists,
    rendering and encoding the picture sent to the browser."""
    widget.update_seconds.clear()
    for value in values:
        control.value = value
    ms = [1e3 * s for s in widget.update_seconds]
    return statistics.median(ms), max(ms), len(ms)
