"""Kernel-side update time of the notebook 13 widgets (target: <= 50 ms median per update).

FairnessDials regenerates 2,000 synthetic applicants and retrains two logistic regressions on
every change, so its time is dominated by the NumPy training loop; ThresholdTuner only
re-thresholds fixed scores. Each update includes rendering the PNG that is sent to the browser.
Run: ``python benchmarks/fairness_widgets.py`` (``--repeats 30``). Besides wall time, the CPU time
of the process is printed: on a shared, busy machine it is closer to what a learner's idle laptop
would see (the work is single-threaded NumPy and matplotlib).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from nncourse import fairness_data, mitigation
from nncourse.widgets.fairness import FairnessDials, ThresholdTuner


def summarize(name, seconds, cpu_seconds):
    ms, cpu_ms = np.array(seconds) * 1000, np.array(cpu_seconds) * 1000
    print(f"{name:38s} median {statistics.median(ms):6.1f} ms   p90 {np.percentile(ms, 90):6.1f} ms   "
          f"CPU median {statistics.median(cpu_ms):6.1f} ms   (n={len(ms)})")


def timed(widget, actions):
    """Run each action (which triggers one refresh) and return (wall seconds, CPU seconds) per refresh."""
    widget.update_seconds.clear()
    cpu = []
    for action in actions:
        start = time.process_time()
        action()
        cpu.append(time.process_time() - start)
    return list(widget.update_seconds), cpu


def main(repeats: int) -> None:
    start = time.perf_counter()
    dials = FairnessDials(n=4000)  # as notebook 13 builds it
    print(f"FairnessDials built in {1000 * (time.perf_counter() - start):.0f} ms")
    values = [0.0, 0.3, 0.6]
    summarize("FairnessDials: move a data dial", *timed(
        dials, [lambda i=i: setattr(dials.label_bias, "value", values[i % 3]) for i in range(repeats)]))
    summarize("FairnessDials: toggle the group column", *timed(
        dials, [lambda i=i: setattr(dials.sees_group, "value", bool(i % 2)) for i in range(repeats)]))

    d = fairness_data.loan_data(n=4000, label_bias=0.4, proxy_strength=0.8)
    scores = mitigation.train_classifier(d.X_train, d.y_train).predict_proba(d.X_test)
    tuner = ThresholdTuner(scores, d.y_test, sensitive_features=d.A_test)
    summarize("ThresholdTuner: drag a threshold", *timed(
        tuner, [lambda v=v: setattr(tuner.sliders[0], "value", float(v)) for v in np.linspace(0.2, 0.8, repeats)]))
    summarize("ThresholdTuner: equalise button", *timed(
        tuner, [lambda i=i: tuner.equalize("selection_rate" if i % 2 else "tpr") for i in range(repeats)]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    main(parser.parse_args().repeats)
