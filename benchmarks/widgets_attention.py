"""Kernel-side update time of the widgets of notebook 08 (target: median <= 50 ms).

Each sample moves one control and times the whole refresh: update the artists, render, encode
the PNG sent to the browser. The explorer runs on an untrained 4-layer, 4-head GPT (the timing
does not depend on the weights). Controls that change the text, the mask or the matrix sizes
rerun the model or resize the axes and redraw the whole figure; they update on release
(``continuous_update=False``), so they are reported separately. Run: python benchmarks/widgets_attention.py
"""

import numpy as np

from nncourse.text import CharVocab
from nncourse.at_scale.gpt import GPT, GPTConfig
from nncourse.widgets.attention import AttentionExplorer, PositionalEncodingWidget, gpt_attention
from timing import measure_widget




def main():
    text = "To be, or not to be, that is the question:"
    vocab = CharVocab(text + "abcdefghijklmnopqrstuvwxyz")
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=64, n_layer=4, n_head=4, n_embd=64, dropout=0.0))
    explorer = AttentionExplorer(gpt_attention(model, vocab), text)
    pe = PositionalEncodingWidget()
    rows = [
        ("AttentionExplorer: query slider", *measure_widget(explorer, explorer.query, np.tile(np.arange(0, 40, 2), 3))),
        ("AttentionExplorer: head menu", *measure_widget(explorer, explorer.head, np.tile([0, 1, 2, 3], 8))),
        ("AttentionExplorer: layer menu", *measure_widget(explorer, explorer.layer, np.tile([0, 1, 2, 3], 8))),
        ("PositionalEncoding: position slider", *measure_widget(pe, pe.position, np.tile(np.arange(0, 100, 5), 3))),
        ("on release: explorer causal box", *measure_widget(explorer, explorer.causal, [False, True] * 5)),
        ("on release: explorer new text", *measure_widget(explorer, explorer.text, ["to be or not", text] * 5)),
        ("on release: PE d_model slider", *measure_widget(pe, pe.d_model, [32, 64, 128, 256] * 3)),
    ]
    print(f"{'widget / control':40s} {'median ms':>10s} {'max ms':>8s} {'n':>4s}")
    for name, median, worst, n in rows:
        flag = "" if median <= 50 or name.startswith("on release") else "  (over the 50 ms target)"
        print(f"{name:40s} {median:10.1f} {worst:8.1f} {n:4d}{flag}")


if __name__ == "__main__":
    main()
