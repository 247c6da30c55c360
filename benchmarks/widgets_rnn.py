"""Kernel-side update time of the widgets of notebook 07 (target: median <= 50 ms).

Each sample moves one control and times the whole refresh: recompute, update the artists,
render, encode the PNG sent to the browser. Wall time is what a user waits for on this machine;
CPU time is less sensitive to other processes sharing it (on a loaded machine, judge by it and
rerun when the load average is low). On two or more cores GradientThroughTime runs half of its
eigen-solves in a second thread, so its CPU ms (both threads) exceed its wall ms. The sampling widget generates ``length`` characters one
after another (for a char LSTM in NumPy, one small product per character and layer); it is shown
for 100 and 300 characters with a small char LSTM (untrained: the speed does not depend on the weights).
Run: python benchmarks/widgets_rnn.py
"""
import os

import numpy as np
import torch

from nncourse.at_scale.rnn import CharLSTM
from nncourse.text import CharVocab, load_corpus
from nncourse.widgets import GradientThroughTime, LSTMGateViewer, SamplingWidget
from timing import measure_widget_cpu as measure, print_widget_table

NOTEBOOK_TEXT = "The default value of a parameter is evaluated once, when the function is defined."


def main():
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
    rows = []
    gtt = GradientThroughTime(length=60)
    rows.append(("GradientThroughTime: scale (T=60)", *measure(gtt, gtt.scale, np.tile([0.8, 1.0, 1.2], 10))))
    gtt.length.value = 200
    rows.append(("GradientThroughTime: forget bias (T=200)",
                 *measure(gtt, gtt.forget_bias, np.tile([0.0, 1.0, 2.0], 5))))
    rows.append(("GradientThroughTime: scale (T=200)", *measure(gtt, gtt.scale, np.tile([0.8, 1.0, 1.2], 5))))
    rows.append(("GradientThroughTime: length", *measure(gtt, gtt.length, np.tile([20, 60, 100], 5))))
    rows.append(("GradientThroughTime: length 195 .. 100", *measure(gtt, gtt.length, np.arange(195, 95, -5))))

    vocab: CharVocab = load_corpus(quick=True).vocab
    torch.manual_seed(0)
    model = CharLSTM(vocab.size, embedding_dim=64, hidden_size=128, num_layers=1)
    viewer = LSTMGateViewer(model, vocab, text="The default value of a parameter is evaluated once.")
    rows.append(("LSTMGateViewer: unit slider", *measure(viewer, viewer.unit, np.tile([1, 2, 3], 10))))
    rows.append(("LSTMGateViewer: new text", *measure(viewer, viewer.text, ["for x in range(3):", "if a:", "else"] * 3)))
    # the notebook opens the viewer on 48 characters: new texts of that length (each one different)
    long_texts = [NOTEBOOK_TEXT[start:start + 48] for start in range(10)]
    rows.append(("LSTMGateViewer: new text (48 characters)", *measure(viewer, viewer.text, long_texts)))

    sampler = SamplingWidget(model, vocab, prompt="The ", length=100)
    rows.append(("SamplingWidget: temperature (100 chars)",
                 *measure(sampler, sampler.temperature, np.tile([0.5, 1.0, 1.5], 4))))
    sampler.length.value = 300
    rows.append(("SamplingWidget: top-k (300 chars)", *measure(sampler, sampler.top_k, np.tile([5, 10, 0], 3))))

    print_widget_table(rows)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
