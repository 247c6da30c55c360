"""Timing helpers shared by the benchmark scripts (run them as ``python benchmarks/<name>.py``).

How we time NumPy against PyTorch: each side in **its own block** (after warm-up), never
interleaved call by call. On a 2-core machine, right after a NumPy call OpenBLAS's worker threads
keep spinning for a while, so a PyTorch call made then finds the cores busy and looks slower
than it is; interleaving flatters the NumPy/PyTorch ratio (issue 23 measured 1.9x reported vs
4.4x alone). Blocks are repeated in alternating order (A B, B A, A B, ...) so that a machine whose
speed drifts shows up as blocks that disagree, not as a biased ratio; both the minimum (the
machine's best) and the median are reported. Thread counts are set equal for both libraries and
printed (:func:`set_threads`).
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Timing:
    """Seconds per call of one function: over all timed calls, and the median of each block."""

    min: float
    median: float
    block_medians: list[float]

    @property
    def spread(self) -> float:
        """Largest over smallest block median: near 1 on a steady machine."""
        return max(self.block_medians) / min(self.block_medians)

    def __str__(self) -> str:
        return f"min {self.min * 1e3:.2f} ms, median {self.median * 1e3:.2f} ms"


def time_separately(*fns: Callable[[], object], repeats: int, blocks: int = 4, warmup: int = 3) -> list[Timing]:
    """Time each function in blocks of its own: ``warmup`` untimed calls, then ``repeats`` timed
    calls per block; ``blocks`` rounds, the order of the functions reversed every other round."""
    if repeats < 1 or blocks < 1:
        raise ValueError(f"repeats and blocks must be at least 1, got repeats={repeats}, blocks={blocks}")
    calls: list[list[float]] = [[] for _ in fns]
    per_block: list[list[float]] = [[] for _ in fns]
    for block in range(blocks):
        order = range(len(fns)) if block % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            fn = fns[i]
            for _ in range(warmup):
                fn()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            calls[i] += times
            per_block[i].append(statistics.median(times))
    return [Timing(min(c), statistics.median(c), b) for c, b in zip(calls, per_block)]


def median_seconds(*fns: Callable[[], object], repeats: int, warmup: int = 3) -> list[float]:
    """The median seconds per call of each function, timed separately (:func:`time_separately`)."""
    blocks = 4 if repeats >= 4 else 1  # about ``repeats`` timed calls in all
    return [t.median for t in time_separately(*fns, repeats=repeats // blocks, blocks=blocks, warmup=warmup)]


def set_threads(threads: int | None = None) -> int:
    """Give PyTorch and NumPy's BLAS the same number of threads (default: PyTorch's current
    count), print it, and return it."""
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    threadpool_limits(threads)  # a global limit: stays in force for the rest of the process
    blas = sorted({info["num_threads"] for info in threadpool_info()}) or ["none found"]
    print(f"threads: torch {torch.get_num_threads()}, NumPy's BLAS {', '.join(map(str, blas))}")
    return threads


def measure_widget(widget, control, values) -> tuple[float, float, int]:
    """Set ``control.value`` to each of ``values`` and return the widget's refresh times:
    (median ms, max ms, number of refreshes). Each refresh covers updating the artists,
    rendering and encoding the picture sent to the browser."""
    widget.update_seconds.clear()
    for value in values:
        control.value = value
    ms = [1e3 * s for s in widget.update_seconds]
    return statistics.median(ms), max(ms), len(ms)


def measure_widget_cpu(widget, control, values) -> tuple[float, float, float, int]:
    """:func:`measure_widget` (median and max wall ms, count) and the median CPU ms of a refresh
    (``time.process_time``: on a busy machine wall time counts waiting, CPU time does not)."""
    cpu = []
    refresh = widget.refresh

    def timed_refresh():
        start = time.process_time()
        refresh()
        cpu.append(1e3 * (time.process_time() - start))

    widget.refresh = timed_refresh
    try:
        median, worst, count = measure_widget(widget, control, values)
    finally:
        del widget.refresh
    return median, worst, statistics.median(cpu), count


def print_widget_table(rows, target_ms: float = 50) -> None:
    """Print ``rows`` of (widget / control, median ms, max ms, CPU ms, n), as
    :func:`measure_widget_cpu` returns them after a name, flagging medians over ``target_ms``."""
    width = max(len("widget / control"), *(len(row[0]) for row in rows))
    print(f"{'widget / control':{width}s} {'median ms':>10s} {'max ms':>8s} {'CPU ms':>7s} {'n':>4s}")
    for name, median, worst, cpu, n in rows:
        flag = "" if median <= target_ms else f"  (over the {target_ms:g} ms target)"
        print(f"{name:{width}s} {median:10.1f} {worst:8.1f} {cpu:7.1f} {n:4d}{flag}")
