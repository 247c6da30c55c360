"""Kernel-side update time of the notebook 08 widgets (target: <= 50 ms median per update).

FairnessDials regenerates 2,000 synthetic applicants and retrains two logistic regressions on
every change, so its time is dominated by the NumPy training loop; ThresholdTuner only
re-thresholds fixed scores. Each update includes rendering the PNG that is sent to the browser.
Run: ``python benchmarks/fairness_widgets.py`` (``--repeats 30``).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from nncourse import bias_data, mitigation
from nncourse.widgets.fairness import FairnessDials, ThresholdTuner


def summarize(name, seconds):
    ms = np.array(seconds) * 1000
    print(f"{name:38s} median {statistics.median(ms):6.1f} ms   p90 {np.percentile(ms, 90):6.1f} ms   "
          f"(n={len(ms)})")


def main(repeats: int) -> None:
    start = time.perf_counter()
    dials = FairnessDials()
    print(f"FairnessDials built in {1000 * (time.perf_counter() - start):.0f} ms")
    dials.update_seconds.clear()
    for i in range(repeats):
        dials.label_bias.value = [0.0, 0.3, 0.6][i % 3]
    summarize("FairnessDials: move a data dial", dials.update_seconds)
    dials.update_seconds.clear()
    for i in range(repeats):
        dials.sees_group.value = bool(i % 2)
    summarize("FairnessDials: toggle the group column", dials.update_seconds)

    d = bias_data.loan_data(n=4000, label_bias=0.4, proxy_strength=0.8)
    scores = mitigation.train_classifier(d.X_train, d.y_train).predict_proba(d.X_test)
    tuner = ThresholdTuner(scores, d.y_test, sensitive_features=d.A_test)
    tuner.update_seconds.clear()
    for value in np.linspace(0.2, 0.8, repeats):
        tuner.sliders[0].value = float(value)
    summarize("ThresholdTuner: drag a threshold", tuner.update_seconds)
    tuner.update_seconds.clear()
    for i in range(repeats):
        tuner.equalize("selection_rate" if i % 2 else "tpr")
    summarize("ThresholdTuner: equalise button", tuner.update_seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    main(parser.parse_args().repeats)
