"""The sampling widget, driven headless: controls change the distribution shown and the sample."""
import html
import math
import re

import numpy as np
import pytest
import torch

from nncourse.at_scale.rnn import CharLSTM
from nncourse.text import CharVocab, generate, next_char_probs
from nncourse.widgets.sampling import SHOWN, LSTMStepper, SamplingWidget, char_label, draw, sampling_probs

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
    assert "Temperature 0," in widget.status.value and "abc" in widget.ax.title.get_text()
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
    assert "top-k 3 → 3 of 11 characters possible" in widget.status.value


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
    assert widget.stepper is not None and len(widget.sample) == 22 and widget.sample.startswith("ab")
    assert math.isclose(widget.probs.sum(), 1.0, rel_tol=1e-5)


def lstm_model(num_layers, seed=0):
    torch.manual_seed(seed)
    return CharLSTM(VOCAB.size, embedding_dim=6, hidden_size=16, num_layers=num_layers)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.6, 3), (1.7, None), (0.0, None)])
def test_lstm_stepper_gives_torchs_probabilities_at_every_step(num_layers, temperature, top_k):
    model = lstm_model(num_layers).eval()
    stepper = LSTMStepper(model)
    text = VOCAB.encode("abc h$\nhg")
    with torch.no_grad():
        logits, (h, c) = model(torch.as_tensor(text[None, :2]), return_state=True)
        state = [s[:, 0].numpy().copy() for s in (h, c)]  # 2 x (L, H)
        for char_id in text[2:]:
            logits, (h, c) = model(torch.as_tensor([[char_id]]), state=(h, c), return_state=True)
            ours = stepper.step(int(char_id), *state)
            np.testing.assert_allclose(ours, logits[0, -1].numpy(), atol=1e-5)
            np.testing.assert_allclose(state[0], h[:, 0].numpy(), atol=1e-5)
            np.testing.assert_allclose(state[1], c[:, 0].numpy(), atol=1e-5)
            np.testing.assert_allclose(sampling_probs(ours, temperature, top_k),
                                       next_char_probs(logits[0, -1], temperature, top_k).numpy(), atol=1e-5)


def test_lstm_widget_samples_from_the_models_distribution():
    model = lstm_model(2).eval()
    widget = SamplingWidget(model, VOCAB, prompt="ab", length=40, temperature=0.9, top_k=3)
    ids = VOCAB.encode(widget.sample)
    with torch.no_grad():
        logits = model(torch.as_tensor(ids[None]))[0]  # (T, V): the whole sample read by torch
    for t in range(1, len(ids) - 1):  # every sampled character is among torch's top 3 at its step
        probs = next_char_probs(logits[t], 0.9, 3).numpy()
        assert probs[ids[t + 1]] > 0, (t, probs)
    np.testing.assert_allclose(widget.probs, next_char_probs(logits[1], 0.9, 3).numpy(), atol=1e-5)
    first = widget.sample
    widget.seed.value = 1
    assert widget.sample != first
    widget.seed.value = 0
    assert widget.sample == first  # same seed, same text
    widget.temperature.value = 0.0
    greedy = VOCAB.encode(widget.sample)
    with torch.no_grad():
        logits = model(torch.as_tensor(greedy[None]))[0]
    assert np.array_equal(greedy[2:], logits[1:-1].argmax(-1).numpy())


def test_lstm_widget_follows_a_training_step():
    model = lstm_model(1)
    widget = SamplingWidget(model, VOCAB, prompt="ab", length=30, temperature=1.0)
    before = widget.sample
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))  # in place, as an optimizer step is
    widget.seed.value = 0
    widget.length.value = 31
    fresh = SamplingWidget(model, VOCAB, prompt="ab", length=31, temperature=1.0)
    assert widget.sample == fresh.sample and widget.sample[:32] != before[:32]
    np.testing.assert_allclose(widget.probs, fresh.probs)


def test_draw_matches_the_probabilities_and_never_picks_a_zero():
    probs = np.array([0.5, 0.0, 0.2, 0.3, 0.0])
    counts = np.bincount([draw(probs, u) for u in np.random.default_rng(0).random(20000)], minlength=5)
    assert counts[1] == counts[4] == 0
    np.testing.assert_allclose(counts / 20000, probs, atol=0.015)  # 4.5 standard errors
    # a uniform number whose product with the total rounds up to the total: not the last (zero) entry
    assert draw(probs, 1.0) == 3


def test_slider_labels_are_wide_enough_and_not_shared(widget):
    sliders = [widget.temperature, widget.top_k, widget.length]
    # "temperature" was cut to "temperat..." at the default 80px label width in JupyterLab
    assert all(s.style.description_width == "95px" for s in sliders)
    assert len({id(s.layout) for s in sliders}) == len({id(s.style) for s in sliders}) == 3
