"""Character corpus, vocabulary, windows, LM loss and sampling (nncourse.text, nncourse.at_scale.rnn)."""
import hashlib
import http.server
import math
import socket
import threading
from functools import partial

import numpy as np
import pytest
import torch

from nncourse import data, fit
from nncourse.at_scale.rnn import CharLSTM
from nncourse.text import (
    SHAKESPEARE_SHA256, CharVocab, Corpus, context_limit, evaluate_nats_per_char, generate, lm_loss,
    load_corpus, make_corpus, next_char_probs, python_docs_text, unigram_nats_per_char, windows,
)


# --- vocabulary ---------------------------------------------------------------------------------


def test_vocab_round_trip_and_sorted_ids():
    vocab = CharVocab("hello world")
    assert vocab.chars == sorted(set("hello world")) and vocab.size == len(vocab) == 8
    ids = vocab.encode("world hello")
    assert ids.dtype == np.int64 and ids.shape == (11,)
    assert vocab.decode(ids) == "world hello"
    assert vocab.encode(" ")[0] == 0  # space sorts first
    assert vocab.decode(torch.tensor([0, 1])) == " d"


def test_vocab_errors_name_the_problem():
    vocab = CharVocab("abc")
    with pytest.raises(ValueError, match=r"not in the vocabulary: 'x', 'z'"):
        vocab.encode("abzx")
    with pytest.raises(TypeError, match="takes a str"):
        vocab.encode(["a"])
    with pytest.raises(ValueError, match=r"\[0, 2\].*from 0 to 3"):
        vocab.decode([0, 3])
    with pytest.raises(TypeError, match="integer ids"):
        vocab.decode(np.array([0.5]))
    with pytest.raises(ValueError, match="1-D"):
        vocab.decode(np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="empty"):
        CharVocab("")


# --- corpora ------------------------------------------------------------------------------------


def test_quick_corpus_is_python_docs_split_90_10():
    corpus = load_corpus(quick=True)
    assert isinstance(corpus, Corpus) and "Python" in corpus.name
    assert len(corpus.text) > 100_000
    assert corpus.train_ids.dtype == corpus.val_ids.dtype == np.int64
    assert len(corpus.train_ids) + len(corpus.val_ids) == len(corpus.text)
    assert abs(len(corpus.val_ids) / len(corpus.text) - 0.1) < 1e-3
    # contiguous split: the ids decode back to the text, train first
    assert corpus.vocab.decode(corpus.train_ids[:500]) == corpus.text[:500]
    assert corpus.vocab.decode(corpus.val_ids[-500:]) == corpus.text[-500:]
    assert "assert" in corpus.text and "statement" in corpus.text  # real English documentation
    assert load_corpus(quick=True).text == corpus.text  # deterministic


def test_python_docs_text_is_deterministic():
    assert python_docs_text() == python_docs_text()


def test_python_without_pydoc_data_falls_back_to_docstrings(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pydoc_data.topics", None)  # importing it now raises ImportError
    name, text = python_docs_text()
    assert "docstrings" in name and len(text) > 10_000
    corpus = load_corpus(quick=True)
    assert corpus.source == "standard-library docstrings" and corpus.text == text


def test_make_corpus_checks_its_input():
    with pytest.raises(ValueError, match="val_fraction"):
        make_corpus("x", "a" * 100, val_fraction=1.5)
    with pytest.raises(ValueError, match="at least 20"):
        make_corpus("x", "short")
    with pytest.raises(TypeError, match="str"):
        make_corpus("x", b"bytes" * 10)


@pytest.fixture
def served_file(tmp_path):
    """A loopback HTTP server serving tmp_path/www; yields (url of shakespeare.txt, its text)."""
    www = tmp_path / "www"
    www.mkdir()
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 20
    (www / "shakespeare.txt").write_text(text, encoding="utf-8")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/shakespeare.txt", text
    server.shutdown()
    server.server_close()


def test_full_corpus_downloads_through_the_helper(served_file, tmp_path):
    url, text = served_file
    sha = hashlib.sha256(text.encode()).hexdigest()
    cache = tmp_path / "cache"
    corpus = load_corpus(quick=False, urls=url, sha256=sha, directory=cache)
    assert corpus.name.startswith("Tiny Shakespeare") and corpus.text == text
    assert (cache / "tinyshakespeare.txt").exists()
    # second call: served from the cache even with a dead URL
    again = load_corpus(quick=False, urls="http://127.0.0.1:9/none.txt", sha256=sha, directory=cache)
    assert again.text == text


def test_full_corpus_rejects_a_wrong_checksum(served_file, tmp_path):
    url, _ = served_file
    with pytest.raises(data.ChecksumError, match="expected"):
        load_corpus(quick=False, urls=url, sha256=SHAKESPEARE_SHA256, directory=tmp_path / "cache")
    assert not (tmp_path / "cache" / "tinyshakespeare.txt").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_full_corpus_falls_back_offline_with_a_note(tmp_path, capsys):
    corpus = load_corpus(quick=False, urls=f"http://127.0.0.1:{_closed_port()}/input.txt",
                         directory=tmp_path / "cache")
    assert "Python" in corpus.name
    out = capsys.readouterr().out
    assert "Could not get Tiny Shakespeare" in out and "bundled documentation" in out


# --- windows and loss ---------------------------------------------------------------------------


def test_windows_targets_are_the_next_characters():
    ids = np.arange(23)
    X, Y = windows(ids, 5)
    assert X.shape == Y.shape == (4, 5) and X.dtype == Y.dtype == np.int64
    np.testing.assert_array_equal(X[1], [5, 6, 7, 8, 9])
    np.testing.assert_array_equal(Y, X + 1)
    X2, Y2 = windows(ids, 5, stride=1)
    assert len(X2) == 23 - 5
    np.testing.assert_array_equal(Y2[-1], [18, 19, 20, 21, 22])
    X3, _ = windows(ids, 5, stride=1, max_windows=6, seed=3)
    assert X3.shape == (6, 5) and np.all(np.diff(X3[:, 0]) > 0)  # a sorted subset
    np.testing.assert_array_equal(X3, windows(ids, 5, stride=1, max_windows=6, seed=3)[0])
    assert not np.array_equal(X3, windows(ids, 5, stride=1, max_windows=6, seed=4)[0])


def test_windows_errors():
    with pytest.raises(ValueError, match="at least block_size \\+ 1 = 11"):
        windows(np.arange(10), 10)
    with pytest.raises(ValueError, match="1-D array of integer ids"):
        windows(np.zeros((3, 4), dtype=int), 2)
    with pytest.raises(ValueError, match="1-D array of integer ids"):
        windows(np.linspace(0, 1, 30), 2)
    with pytest.raises(ValueError, match="block_size must be a positive integer"):
        windows(np.arange(10), 0)


def test_lm_loss_matches_the_definition():
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.standard_normal((3, 4, 7)))
    targets = torch.from_numpy(rng.integers(0, 7, (3, 4)))
    log_probs = logits.log_softmax(-1).numpy()
    expected = -np.mean(np.take_along_axis(log_probs, targets.numpy()[..., None], -1))
    assert abs(float(lm_loss(logits, targets)) - expected) < 1e-6
    with pytest.raises(ValueError, match="3-D"):
        lm_loss(logits[0], targets[0])
    with pytest.raises(ValueError, match=r"\(batch, time\) = \(3, 4\)"):
        lm_loss(logits, targets[:, :3])


class FixedLogits(torch.nn.Module):
    """Ignores the context: the same logits (V,) at every position (for exact sampling tests)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.as_tensor(logits, dtype=torch.float32))

    def forward(self, x):
        return self.logits.expand(*x.shape, -1)  # (B, T, V)


class NextId(torch.nn.Module):
    """Predicts id + 1 (mod V) with a margin, optionally with a fixed block size it enforces."""

    def __init__(self, vocab_size, block_size=None):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(10.0))
        self.vocab_size = vocab_size
        if block_size is not None:
            self.block_size = block_size

    def forward(self, x):
        if getattr(self, "block_size", None) is not None:
            assert x.shape[1] <= self.block_size, "context longer than the block size"
        return self.scale * torch.nn.functional.one_hot((x + 1) % self.vocab_size, self.vocab_size).float()


def test_uniform_model_scores_ln_vocab_size():
    X, Y = windows(np.arange(300) % 11, 8)
    nats = evaluate_nats_per_char(FixedLogits(np.zeros(11)), (X, Y), batch_size=7)
    assert abs(nats - math.log(11)) < 1e-6


def test_next_char_probs_temperature_and_top_k():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    np.testing.assert_allclose(next_char_probs(logits, 1.0).numpy(), torch.softmax(logits, 0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(next_char_probs(logits, 0.5).numpy(), torch.softmax(logits / 0.5, 0).numpy(),
                               rtol=1e-6)
    np.testing.assert_array_equal(next_char_probs(logits, 0.0).numpy(), [1, 0, 0, 0])
    top2 = next_char_probs(logits, 1.0, top_k=2).numpy()
    np.testing.assert_allclose(top2, [math.e / (math.e + 1), 1 / (math.e + 1), 0, 0], rtol=1e-6)
    assert next_char_probs(logits, 100.0).numpy().max() < 0.26  # hot: nearly uniform
    with pytest.raises(ValueError, match="temperature"):
        next_char_probs(logits, -1.0)
    with pytest.raises(ValueError, match="top_k.*1 to the vocabulary size 4"):
        next_char_probs(logits, 1.0, top_k=5)


def test_generate_follows_the_model_and_the_seed():
    vocab = CharVocab("abcdefgh")
    model = NextId(vocab.size)
    assert generate(model, vocab, "a", 9, temperature=0) == "abcdefghab"
    assert generate(model, vocab, "c", 3, top_k=1, temperature=5.0) == "cdef"
    assert generate(model, vocab, "abc", 0) == "abc"
    flat = FixedLogits(np.zeros(vocab.size))
    one = generate(flat, vocab, "a", 200, seed=1)
    assert one == generate(flat, vocab, "a", 200, seed=1) != generate(flat, vocab, "a", 200, seed=2)
    counts = np.bincount(vocab.encode(one[1:]), minlength=vocab.size)
    assert counts.min() > 5  # uniform logits: every character appears
    assert len(set(generate(flat, vocab, "a", 100, top_k=1)[1:])) == 1  # ties: exactly k survive


def test_generate_samples_with_the_right_frequencies():
    vocab = CharVocab("ab")
    model = FixedLogits([math.log(3.0), 0.0])  # p(a) = 3/4
    text = generate(model, vocab, "a", 4000, seed=0)
    assert abs(text[1:].count("a") / 4000 - 0.75) < 0.03
    cold = generate(model, vocab, "a", 4000, seed=0, temperature=0.5)  # p(a) = 9/10
    assert abs(cold[1:].count("a") / 4000 - 0.9) < 0.02


def test_generate_crops_to_the_block_size():
    vocab = CharVocab("abcdefgh")
    model = NextId(vocab.size, block_size=4)
    assert context_limit(model) == 4
    assert generate(model, vocab, "abcdefg", 5, temperature=0) == "abcdefghabcd"


def test_generate_with_state_equals_rereading_the_text():
    vocab = CharVocab("the cat sat on a mat")
    model = CharLSTM(vocab.size, embedding_dim=8, hidden_size=16, num_layers=2)
    with_state = generate(model, vocab, "the ", 40, seed=3)
    model.supports_state = False  # instance attribute: forces the re-read path
    assert generate(model, vocab, "the ", 40, seed=3) == with_state
    assert model.training  # mode restored
    torch.set_num_threads(2)
    generate(model, vocab, "the ", 3)
    assert torch.get_num_threads() == 2  # thread setting restored


def test_generate_errors():
    vocab = CharVocab("ab")
    model = FixedLogits([0.0, 0.0])
    with pytest.raises(ValueError, match="non-empty"):
        generate(model, vocab, "", 5)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        generate(model, vocab, "abc", 5)
    with pytest.raises(ValueError, match="length"):
        generate(model, vocab, "a", -1)
    with pytest.raises(ValueError, match=r"logits \(batch, time, 3\)"):
        generate(model, CharVocab("abc"), "a", 2)


def test_char_lstm_learns_a_repeating_text_with_fit():
    corpus = make_corpus("abc", "abcd" * 500)
    X, Y = windows(corpus.train_ids, 16, stride=4)
    Xv, Yv = windows(corpus.val_ids, 16, stride=4)
    torch.manual_seed(0)
    model = CharLSTM(corpus.vocab.size, embedding_dim=8, hidden_size=32, num_layers=1)
    assert model(torch.as_tensor(X[:2])).shape == (2, 16, 4)
    before = evaluate_nats_per_char(model, (Xv, Yv))
    history = fit(model, (X, Y), (Xv, Yv), epochs=6, lr=0.02, loss_fn=lm_loss, metrics={}, batch_size=32,
                  progress=False, verbose=False)
    after = evaluate_nats_per_char(model, (Xv, Yv))
    assert before > 1.0 and after < 0.05 and abs(history.val_loss[-1] - after) < 1e-4
    assert generate(model, corpus.vocab, "ab", 10, temperature=0) == "abcdabcdabcd"
    with pytest.raises(ValueError, match="int64"):
        model(torch.zeros(2, 3))


def test_unigram_baseline():
    # train: "a" 3 times, "b" once -> add-one: p(a) = 4/7, p(b) = 2/7, p(c) = 1/7
    nats = unigram_nats_per_char([0, 0, 0, 1], [0, 1, 2], 3)
    assert abs(nats - -(np.log(4 / 7) + np.log(2 / 7) + np.log(1 / 7)) / 3) < 1e-12
    corpus = load_corpus(quick=True)
    baseline = unigram_nats_per_char(corpus.train_ids, corpus.val_ids, corpus.vocab.size)
    assert 2.5 < baseline < math.log(corpus.vocab.size)  # English letters are far from uniform
    with pytest.raises(ValueError, match=r"ids in \[0, 2\]"):
        unigram_nats_per_char([0, 3], [0], 3)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        unigram_nats_per_char([], [0], 3)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_char_lstm_one_step_path_equals_nn_lstm(num_layers):
    """Sampling steps go through the fused torch.lstm_cell: same logits and state as nn.LSTM."""
    torch.manual_seed(num_layers)
    model = CharLSTM(11, embedding_dim=6, hidden_size=8, num_layers=num_layers).eval()
    x = torch.randint(0, 11, (3, 1))
    with torch.no_grad():
        for state in (None, (torch.randn(num_layers, 3, 8), torch.randn(num_layers, 3, 8))):
            fast, (h, c) = model(x, state=state, return_state=True)
            hidden, (h_ref, c_ref) = model.lstm(model.embedding(x), state)
            torch.testing.assert_close(fast, model.head(hidden), atol=1e-6, rtol=1e-6)
            torch.testing.assert_close(h, h_ref, atol=1e-6, rtol=1e-6)
            torch.testing.assert_close(c, c_ref, atol=1e-6, rtol=1e-6)
    # with gradients on (training), the sequence kernel runs: autograd sees nn.LSTM as before
    logits = model(x)
    assert logits.requires_grad
