"""Playground frames per second while playing, and the kernel-side update times of the notebook-04
widgets (Playground, Optimizer race, MomentumPhase).

Targets (issue 5): while playing, a 2x8 network trains and redraws at >= 10 frames/s kernel-side;
a widget update (one control moved) takes <= 50 ms median. A *frame* is what one tick of the Play
widget costs in the kernel: one training epoch (250 points in mini-batches of 10 = 25 steps), the
forward pass over the 50x50 grid for every neuron's heatmap, the blitted render and the PNG
encoding. An *update* moves one control and times the whole refresh (artists, render, PNG).

Run: python benchmarks/playground.py   (--frames 100). On a shared machine, note the load
(``uptime``): the numbers are wall-clock times of this process.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from nncourse.widgets import MomentumPhase, OptimizerRace, Playground
from nncourse.widgets.optimizers import MOMENTUM_BETAS, MOMENTUM_LRS


def frames_per_second(frames: int, **settings) -> tuple[float, float, float, float]:
    """Play ``frames`` ticks; return (frames/s from the median frame, median ms, 90th-percentile ms,
    median CPU ms of this process - close to the wall time on an idle machine)."""
    pg = Playground(**settings)
    for tick in range(1, 6):  # warm-up (caches, first full draw)
        pg.play.value = tick
    pg.frame_seconds.clear()
    cpu = []
    for tick in range(6, 6 + frames):
        start = time.process_time()
        pg.play.value = tick
        cpu.append(1e3 * (time.process_time() - start))
    ms = sorted(1e3 * s for s in pg.frame_seconds)
    median = statistics.median(ms)
    return 1e3 / median, median, ms[int(0.9 * (len(ms) - 1))], statistics.median(cpu)


def update_times(widget, control, values) -> tuple[float, float, int, float]:
    """Median and max wall ms of the refreshes the control changes caused, their number, and the
    median CPU ms per change."""
    widget.update_seconds.clear()
    cpu = []
    for value in values:
        start = time.process_time()
        control.value = value
        cpu.append(1e3 * (time.process_time() - start))
    ms = [1e3 * s for s in widget.update_seconds]
    return statistics.median(ms), max(ms), len(ms), statistics.median(cpu)


def click_times(widget, buttons, repeats) -> tuple[float, float, int, float]:
    widget.update_seconds.clear()
    cpu = []
    for _ in range(repeats):
        for button in buttons:
            start = time.process_time()
            button.click()
            cpu.append(1e3 * (time.process_time() - start))
    ms = [1e3 * s for s in widget.update_seconds]
    return statistics.median(ms), max(ms), len(ms), statistics.median(cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    print(f"load average: {', '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")

    print(f"\n{'Playground while playing':52s} {'frames/s':>9s} {'median ms':>10s} {'p90 ms':>8s} {'CPU ms':>7s}")
    cases = {
        "2x8 tanh, circle, x1 x2 (the target)": dict(hidden=[8, 8]),
        "2x8 relu, spiral, 7 features, Adam": dict(dataset="spiral", hidden=[8, 8], activations=["relu"] * 2,
                                                  features=["x1", "x2", "x1²", "x2²", "x1·x2", "sin x1", "sin x2"],
                                                  optimizer="adam", learning_rate=0.01),
        "6x8 tanh, spiral (the largest network)": dict(dataset="spiral", hidden=[8] * 6),
        "2x8 tanh, blobs, 4 classes": dict(dataset="blobs (multi-class)", classes=4, hidden=[8, 8]),
    }
    for name, settings in cases.items():
        fps, median, p90, cpu = frames_per_second(args.frames, **settings)
        flag = "" if fps >= 10 else "  (below the 10 frames/s target)"
        print(f"{name:52s} {fps:9.1f} {median:10.1f} {p90:8.1f} {cpu:7.1f}{flag}")

    print(f"\n{'widget / control':52s} {'median ms':>9s} {'max ms':>10s} {'n':>8s} {'CPU ms':>7s}")
    rows = []
    pg = Playground(hidden=[8, 8])
    pg.step(20)
    rows.append(("Playground: learning rate (no retraining)", *update_times(pg, pg.lr_control, [0.01, 0.03, 0.1] * 10)))
    rows.append(("Playground: discretize output", *update_times(pg, pg.discretize_control, [True, False] * 15)))
    rows.append(("Playground: show test data", *update_times(pg, pg.test_control, [True, False] * 15)))
    rows.append(("Playground: noise (new data + new network)", *update_times(pg, pg.noise_control, [0, 10, 20] * 5)))
    rows.append(("Playground: + layer / - layer (relayout)",
                 *click_times(pg, [pg.add_layer_button, pg.remove_layer_button], 10)))
    race = OptimizerRace("ravine")
    rows.append(("OptimizerRace: Play tick (one step)", *update_times(race, race.play, list(range(1, 61)))))
    rows.append(("OptimizerRace: learning-rate slider (recompute)",
                 *update_times(race, race.lr_controls[0], [0.1, 0.2, 0.3, 0.4] * 8)))
    rows.append(("OptimizerRace: surface (new contours)",
                 *update_times(race, race.landscape_control, ["rosenbrock", "saddle", "beale", "ravine"] * 3)))
    phase = MomentumPhase(lr=0.05, beta=0.9)  # as notebook 04 builds it (section 2's run on the ravine)
    start = MOMENTUM_LRS.index(0.05)
    lrs = MOMENTUM_LRS[start + 1:] + MOMENTUM_LRS[-2::-1] + MOMENTUM_LRS[1:start + 1]  # up, down, back to 0.05
    rows.append(("MomentumPhase: lr (drag over its steps, back)", *update_times(phase, phase.lr_control, lrs)))
    betas = MOMENTUM_BETAS[::-1] + MOMENTUM_BETAS[1:]
    rows.append(("MomentumPhase: β (drag over its steps, back)", *update_times(phase, phase.beta_control, betas)))
    for name, median, worst, n, cpu in rows:
        flag = "" if median <= 50 else "  (over the 50 ms target)"
        print(f"{name:52s} {median:9.1f} {worst:10.1f} {n:8d} {cpu:7.1f}{flag}")


if __name__ == "__main__":
    main()
