"""Kernel-side update time of the widgets of notebook 08 (target: median <= 50 ms).

Each sample moves one control and times the whole refresh: update the artists, render, encode
the PNG sent to the browser. Wall time is what a user waits for on this machine; CPU time is less
sensitive to other processes sharing it (on a loaded machine, judge by it and rerun when the load
average is low). The explorer runs on an untrained 4-layer, 4-head GPT (the timing does not
depend on the weights). The text box and the sizes of the positional-encoding widget update on
release (``continuous_update=False``); they re-run the model or change the axes' ranges.
Run: python benchmarks/widgets_attention.py
"""
import os

import numpy as np
import torch

from nncourse.text import CharVocab
from nncourse.at_scale.gpt import GPT, GPTConfig
from nncourse.widgets.attention import AttentionExplorer, PositionalEncodingWidget, gpt_attention
from timing import measure_widget_cpu as measure, print_widget_table


def main():
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
    text = "To be, or not to be, that is the question:"
    vocab = CharVocab(text + "abcdefghijklmnopqrstuvwxyz")
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=64, n_layer=4, n_head=4, n_embd=64, dropout=0.0))
    explorer = AttentionExplorer(gpt_attention(model, vocab), text)
    pe = PositionalEncodingWidget()
    rows = [
        ("AttentionExplorer: query slider", *measure(explorer, explorer.query, np.tile(np.arange(0, 40, 2), 3))),
        ("AttentionExplorer: head menu", *measure(explorer, explorer.head, np.tile([0, 1, 2, 3], 8))),
        ("AttentionExplorer: layer menu", *measure(explorer, explorer.layer, np.tile([0, 1, 2, 3], 8))),
        ("AttentionExplorer: causal box", *measure(explorer, explorer.causal, [False, True] * 5)),
        ("AttentionExplorer: new text", *measure(explorer, explorer.text, ["to be or not", text] * 5)),
        ("AttentionExplorer: new text (each different)",
         *measure(explorer, explorer.text, [text[:40 - k] for k in range(10)])),
        ("PositionalEncoding: position slider", *measure(pe, pe.position, np.tile(np.arange(0, 100, 5), 3))),
        ("PositionalEncoding: d_model slider", *measure(pe, pe.d_model, [32, 64, 128, 256] * 3)),
        ("PositionalEncoding: max length slider", *measure(pe, pe.max_len, [50, 100, 200, 256] * 3)),
    ]
    print_widget_table(rows)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
