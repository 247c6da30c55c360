"""Kernel-side update time of the widgets of notebooks 02 and 03 (target: median <= 50 ms).

Each sample moves one control (or presses one button) and times the whole refresh: recompute,
update the artists, render, encode the PNG that is sent to the browser. The machine's load is
printed too: on a shared machine, rerun when it is quiet (the CPU-time column is less sensitive to
other processes than the wall time). Run: python benchmarks/widgets_02_03.py
"""
import os
import statistics
import time

import numpy as np

from nncourse.widgets import ActivationExplorer, BackpropStepper, SignalPropagation, TrainingReplay
from timing import print_widget_table


def measure(widget, change, values):
    """Apply ``change(value)`` for each value; return the median and max wall time of a refresh (ms),
    the median CPU time of a change (ms: what a quiet machine would need) and the count."""
    widget.update_seconds.clear()
    cpu = []
    for value in values:
        start = time.process_time()
        change(value)
        cpu.append(1e3 * (time.process_time() - start))
    ms = [1e3 * s for s in widget.update_seconds]
    return statistics.median(ms), max(ms), statistics.median(cpu), len(ms)


def setter(control):
    def change(value):
        control.value = value
    return change


def main():
    rows = []
    explorer = ActivationExplorer(["sigmoid", "tanh", "relu", "gelu"])
    rows.append(("ActivationExplorer: input mean (4 activations)",
                 *measure(explorer, setter(explorer.mean), np.tile(np.linspace(-3, 3, 13).round(1), 4))))
    rows.append(("ActivationExplorer: input spread",
                 *measure(explorer, setter(explorer.spread), np.tile(np.linspace(0.5, 3, 11).round(1), 4))))
    rows.append(("ActivationExplorer: change the selection",
                 *measure(explorer, setter(explorer.choice), [("relu",), ("relu", "gelu"), ("sigmoid", "tanh", "elu")] * 8)))

    signal = SignalPropagation(depth=20, width=64, activation="sigmoid", init="naive", scale=0.01)
    drag = np.round(10.0 ** np.arange(-2, 0.01, 0.1), 6)  # the slider's own steps, as when dragging it
    rows.append(("SignalPropagation: drag scale (depth 20, width 64)",
                 *measure(signal, setter(signal.scale), np.concatenate([drag, drag[::-1]]))))
    rows.append(("SignalPropagation: activation",
                 *measure(signal, setter(signal.activation), ["tanh", "relu", "gelu", "sigmoid"] * 6)))
    rows.append(("SignalPropagation: drag depth 10 -> 50",
                 *measure(signal, setter(signal.depth), list(range(10, 51, 2)))))
    signal.width.value = 128
    rows.append(("SignalPropagation: drag scale (depth 50, width 128)",
                 *measure(signal, setter(signal.scale), np.concatenate([drag, drag[::-1]]))))

    stepper = BackpropStepper("sigmoid")
    rows.append(("BackpropStepper: Forward / Backward buttons",
                 *measure(stepper, lambda _: stepper.forward_step() or stepper.backward_step(), range(16))))
    stepper.show_all()
    rows.append(("BackpropStepper: edit a weight (all shown)",
                 *measure(stepper, setter(stepper.fields["w11"]), np.tile(np.linspace(-1, 1, 11).round(2), 3))))

    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    replay = TrainingReplay(X, np.array([0, 1, 1, 0]))
    for epoch in range(0, 1001, 25):
        replay.record(epoch, lambda P, e=epoch: 1 / (1 + np.exp(-(e / 200) * (P[:, 0] - P[:, 1]) ** 2)), 1 / (1 + epoch))
    replay.update()
    rows.append(("TrainingReplay: epoch slider (41 snapshots)",
                 *measure(replay, setter(replay.epoch), replay.epochs[::-1])))

    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print_widget_table(rows)


if __name__ == "__main__":
    main()
