"""The sampling widget, driven headless: controls change the distribution shown and the sample."""
import html
import math
import re

import numpy as np
import pytest
import torch

from nncourse.at_scale.rnn import CharLSTM
from nncourse.text import CharVocab, generate
from nncourse.widgets.sampling import SHOWN, SamplingWidget, char_label

VOCAB = CharVocab("abcdefgh $\n")


class Bigram(torch.nn.Module):
    """Logits of the next id depend only on the current one: a fixed random table (V, V)."""

    def __init__(self, vocab_size, seed=0, block_size=None):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.table = torch.nn.Parameter(2 * torch.randn(vocab_size, vocab_size, generator=generator))
        if block_size is not None:
            self.block_size = block_size

    def forward(self, x):
        if hasattr(self, "block_size"):
            assert x.shape[1] <= self.block_size
        return self.table[x]  # (B, T, V)


@pytest.fixture
def widget():
    return SamplingWidget(Bigram(VOCAB.size), VOCAB, prompt="abc", length=50, temperature=1.0, top_k=0)


def test_initial_state_shows_the_model_distribution(widget):
    model = widget.model
    expected = torch.softmax(model.table[VOCAB.index["c"]], 0).detach().numpy()
    np.testing.assert_allclose(widget.probs, expected, rtol=1e-5)
    heights = np.array([bar.get_height() for bar in widget.bars])
    np.testing.assert_allclose(np.sort(heights[: VOCAB.size])[::-1], np.sort(expected)[::-1], rtol=1e-5)
    assert np.all(heights[VOCAB.size:] == 0) and len(widget.bars) == SHOWN
    assert widget.sample == generate(model, VOCAB, "abc", 50, temperature=1.0, seed=0)
    assert widget.sample.startswith("abc") and len(widget.sample) == 53
    png = widget.to_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_sample_is_shown_as_text_under_the_picture(widget):
    # The prompt in bold, then the continuation, in an HTML box displayed under the picture.
    assert widget.below is widget.sample_box
    shown = html.unescape(re.sub(r"<[^>]+>", "", widget.sample_box.value))
    assert shown.endswith(widget.sample) and "50 sampled characters (seed 0)" in shown
    assert "<b>abc</b>" in widget.sample_box.value
    widget.length.value = 20
    assert html.unescape(re.sub(r"<[^>]+>", "", widget.sample_box.value)).endswith(widget.sample)
    box = widget.sample_box
    widget.close()
    assert box.comm is None  # closed with the widget


def test_temperature_sharpens_and_flattens(widget):
    base = widget.probs.copy()
    widget.temperature.value = 0.5
    assert widget.probs.max() > base.max()
    np.testing.assert_allclose(widget.probs, base**2 / np.sum(base**2), rtol=1e-4)  # softmax(2 z)
    widget.temperature.value = 2.0
    assert widget.probs.max() < base.max()
    widget.temperature.value = 0.0
    assert widget.probs.max() == 1.0
    greedy = widget.sample
    widget.seed.value = 7
    assert widget.sample == greedy  # greedy ignores the seed
    assert "temperature 0" in widget.ax.title.get_text()
    assert len(widget.update_seconds) == 4


def test_top_k_keeps_exactly_k_characters(widget):
    widget.top_k.value = 3
    assert np.count_nonzero(widget.probs) == 3
    table = widget.model.table.detach().numpy()
    ids = VOCAB.encode(widget.sample)
    for current, following in zip(ids[2:], ids[3:]):  # a bigram: each step only from its row's top 3
        assert following in np.argsort(-table[current])[:3]
    heights = sorted((bar.get_height() for bar in widget.bars), reverse=True)
    assert heights[2] > 0 and heights[3] == 0
    assert "3 of 11 characters possible" in widget.ax.title.get_text()


def test_seed_and_new_sample_button(widget):
    first = widget.sample
    widget.new_button.click()
    assert widget.seed.value == 1 and widget.sample != first
    assert widget.sample == generate(widget.model, VOCAB, "abc", 50, seed=1)
    widget.seed.value = 0
    assert widget.sample == first


def test_prompt_and_length(widget):
    widget.prompt.value = "h$\n"
    expected = torch.softmax(widget.model.table[VOCAB.index["\n"]], 0).detach().numpy()
    np.testing.assert_allclose(widget.probs, expected, rtol=1e-5)
    assert widget.sample.startswith("h$\n")
    labels = [t.get_text() for t in widget.ax.get_xticklabels()]
    assert set(labels[: VOCAB.size]) == {char_label(c) for c in VOCAB.chars}
    assert "\\n" in labels and "␣" in labels
    widget.length.value = 120
    assert len(widget.sample) == 123
    widget.to_png()  # '$' must not start mathtext


def test_bad_prompt_is_a_message_not_a_crash(widget):
    before = widget.sample
    widget.prompt.value = "xyz"
    status = html.unescape(widget.status.value)
    assert "Not in this model's vocabulary: 'x', 'y', 'z'" in status
    assert widget.sample == before
    widget.prompt.value = ""
    assert "at least one character" in widget.status.value
    widget.prompt.value = "ab"
    assert widget.sample.startswith("ab") and "Sampled" in widget.status.value


def test_constructor_errors():
    with pytest.raises(TypeError, match="CharVocab"):
        SamplingWidget(Bigram(3), "abc")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        SamplingWidget(Bigram(VOCAB.size), VOCAB, prompt="xyz")


def test_fixed_block_size_model_and_lstm():
    gpt_like = SamplingWidget(Bigram(VOCAB.size, block_size=4), VOCAB, prompt="abcdefgh", length=30)
    assert len(gpt_like.sample) == 38
    lstm = CharLSTM(VOCAB.size, embedding_dim=4, hidden_size=8, num_layers=1)
    widget = SamplingWidget(lstm, VOCAB, prompt="ab", length=20, temperature=0.7)
    assert widget.sample == generate(lstm, VOCAB, "ab", 20, temperature=0.7, seed=0)
    assert math.isclose(widget.probs.sum(), 1.0, rel_tol=1e-5)


def test_slider_labels_are_wide_enough_and_not_shared(widget):
    sliders = [widget.temperature, widget.top_k, widget.length]
    # "temperature" was cut to "temperat..." at the default 80px label width in JupyterLab
    assert all(s.style.description_width == "95px" for s in sliders)
    assert len({id(s.layout) for s in sliders}) == len({id(s.style) for s in sliders}) == 3
