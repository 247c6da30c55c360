"""Character-level text for language models: corpus, vocabulary, training windows, loss, sampling.

Taught in notebook 07 (an LSTM language model) and reused by notebook 08 (a small GPT).

* :func:`load_corpus` gives a :class:`Corpus`: Tiny Shakespeare (Karpathy's char-rnn data,
  ~1.1 M characters, public domain) in full mode, fetched once through
  :func:`nncourse.data.download` with a pinned SHA-256; in quick mode, or when offline, the
  English documentation text that every Python install carries (``pydoc_data.topics``,
  ~0.45 M characters), so no download is ever needed.
* :class:`CharVocab` maps characters to integer ids and back.
* :func:`windows` cuts a stream of ids into ``(X, Y)`` pairs of shape (N, T) where ``Y`` is
  ``X`` shifted by one character: the targets of next-character prediction.
* :func:`lm_loss` is the cross-entropy of logits (B, T, V) against targets (B, T), in nats per
  character; it plugs into ``nncourse.fit(..., loss_fn=lm_loss, metrics={})``.
* :func:`generate` samples text from any PyTorch model mapping ids (B, T) to logits (B, T, V),
  with temperature and top-k.

Nothing here imports torch until a function needs it, so ``import nncourse`` stays fast.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .validation import check_positive_int

SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------


class CharVocab:
    """The characters of a text, sorted, each with an integer id (0 .. size - 1).

    ``encode("to be") -> array([id_t, id_o, ...], dtype=int64)`` and ``decode(ids) -> str``.
    A character that is not in the vocabulary is an error (a model has no row for it).
    """

    def __init__(self, chars):
        chars = sorted(set(chars))
        if not chars:
            raise ValueError("a vocabulary needs at least one character, got an empty text")
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise TypeError("CharVocab takes a string (or an iterable of single characters)")
        self.chars: list[str] = chars
        self.index: dict[str, int] = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        return cls(text)

    @property
    def size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char) -> bool:
        return char in self.index

    def encode(self, text: str) -> np.ndarray:
        """str of length T -> ids (T,) int64; raises ``ValueError`` naming any unknown character."""
        if not isinstance(text, str):
            raise TypeError(f"encode takes a str, got {type(text).__name__}")
        try:
            return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError:
            unknown = sorted({c for c in text if c not in self.index})
            raise ValueError(f"{len(unknown)} character(s) not in the vocabulary: "
                             f"{', '.join(repr(c) for c in unknown[:10])}; the vocabulary has "
                             f"{self.size} characters (see vocab.chars)") from None

    def decode(self, ids) -> str:
        """ids (T,) of ints in [0, size) (list, array or tensor) -> str of length T."""
        if hasattr(ids, "detach"):
            ids = ids.detach().cpu().numpy()
        ids = np.asarray(ids)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"decode takes integer ids, got an array of dtype {ids.dtype}")
        if ids.ndim != 1:
            raise ValueError(f"decode takes a 1-D sequence of ids, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"ids must lie in [0, {self.size - 1}] for this vocabulary, got values "
                             f"from {ids.min()} to {ids.max()}")
        return "".join(self.chars[i] for i in ids.tolist())

    def __repr__(self) -> str:
        shown = "".join(self.chars[:40]).encode("unicode_escape").decode()
        return f"CharVocab(size={self.size}, chars={shown!r}{'...' if self.size > 40 else ''})"


# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------


@dataclass
class Corpus:
    """A text, its vocabulary, and the text as ids split 90/10 into train and validation.

    The split is contiguous (the first 90 % trains, the last 10 % validates), so validation
    text is text the model has never seen, not shuffled neighbours of training windows.
    """

    name: str
    text: str
    vocab: CharVocab
    train_ids: np.ndarray  # (N_train,) int64
    val_ids: np.ndarray    # (N_val,) int64
    source: str = ""

    def __repr__(self) -> str:
        return (f"Corpus({self.name!r}: {len(self.text):,} characters, {self.vocab.size} distinct; "
                f"{len(self.train_ids):,} train / {len(self.val_ids):,} validation)")


def make_corpus(name: str, text: str, *, val_fraction: float = 0.1, source: str = "") -> Corpus:
    """Build a :class:`Corpus` from any text (the vocabulary covers the whole text)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction!r}")
    if len(text) < 20:
        raise ValueError(f"text must have at least 20 characters to split into train and validation, "
                         f"got {len(text)}")
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    split = int(round(len(ids) * (1 - val_fraction)))
    return Corpus(name, text, vocab, ids[:split], ids[split:], source)


def python_docs_text() -> tuple[str, str]:
    """(name, text): the English documentation shipped with Python (``pydoc_data.topics``).

    These are the pages ``help("assert")`` and friends print: ~0.45 M characters of English
    prose with code examples, present in every CPython install. Topics are joined in sorted
    order so the text is the same on every run of the same Python version.
    """
    import sys

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        from pydoc_data.topics import topics
    except ImportError:  # a stripped-down Python: fall back to the standard library's docstrings
        import collections
        import json
        import pathlib
        import textwrap

        modules = [collections, json, pathlib, textwrap, math]
        objects = modules + [obj for m in modules for obj in vars(m).values() if callable(obj)]
        docs = [obj.__doc__.strip() for obj in objects if isinstance(getattr(obj, "__doc__", None), str)]
        return f"Python {version} standard-library docstrings", "\n\n".join(d for d in docs if d)
    return f"Python {version} documentation topics (pydoc_data)", "\n\n".join(topics[k].strip() for k in sorted(topics))


def load_corpus(quick: bool, *, urls: str | list[str] = SHAKESPEARE_URL, sha256: str = SHAKESPEARE_SHA256,
                directory: Path | str | None = None, val_fraction: float = 0.1) -> Corpus:
    """The text a language-model notebook trains on (notebooks 07 and 08).

    quick=True: Python's bundled documentation text (no download). quick=False: Tiny
    Shakespeare, downloaded once (checksum verified, cached under ``nncourse.data.cache_dir()``);
    when the machine is offline it falls back to the bundled text and prints a note saying so.
    A file whose checksum does not match is an error, never silently used.
    """
    from . import data

    if not quick:
        try:
            path = data.download(urls, sha256, "tinyshakespeare.txt", directory=directory)
        except data.DownloadError as err:
            print(f"Could not get Tiny Shakespeare ({str(err).splitlines()[0]}); "
                  "using Python's bundled documentation text instead.")
        else:
            text = Path(path).read_text(encoding="utf-8")
            return make_corpus("Tiny Shakespeare (char-rnn)", text, val_fraction=val_fraction,
                               source=urls if isinstance(urls, str) else urls[0])
    name, text = python_docs_text()
    source = "pydoc_data.topics" if "pydoc_data" in name else "standard-library docstrings"
    return make_corpus(name, text, val_fraction=val_fraction, source=source)


# --------------------------------------------------------------------------------------------
# Training windows and the loss
# --------------------------------------------------------------------------------------------


def windows(ids, block_size: int, *, stride: int | None = None, max_windows: int | None = None,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cut a 1-D stream of ids into inputs X (N, T) and next-character targets Y (N, T).

    ``Y[n, t] = X[n, t + 1]`` for t < T - 1, and ``Y[n, T - 1]`` is the character after the
    window, so every position has a target. Windows start every ``stride`` characters
    (default ``block_size``: no overlap); ``max_windows`` keeps a seeded random subset (in text
    order) - quick mode uses it to train on a slice of the corpus.
    """
    block_size = check_positive_int(block_size, "block_size")
    stride = block_size if stride is None else check_positive_int(stride, "stride")
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be a 1-D array of integer ids, got shape {ids.shape} and dtype {ids.dtype}")
    if len(ids) < block_size + 1:
        raise ValueError(f"ids must hold at least block_size + 1 = {block_size + 1} ids to make one "
                         f"window with its targets, got {len(ids)}")
    starts = np.arange(0, len(ids) - block_size, stride)
    if max_windows is not None:
        max_windows = check_positive_int(max_windows, "max_windows")
        if max_windows < len(starts):
            starts = np.sort(np.random.default_rng(seed).choice(starts, max_windows, replace=False))
    chunks = np.lib.stride_tricks.sliding_window_view(ids.astype(np.int64, copy=False), block_size + 1)[starts]
    return chunks[:, :-1].copy(), chunks[:, 1:].copy()  # (N, T) each


def lm_loss(logits, targets):
    """Mean cross-entropy (nats per character) of logits (B, T, V) against targets (B, T).

    The shape PyTorch's ``F.cross_entropy`` wants is (B*T, V) vs (B*T,); this flattens the
    two so that a language model's natural (B, T, V) output can be passed straight to ``fit``.
    Computed in float32 even when the logits come from a bfloat16 autocast region.
    """
    import torch.nn.functional as F

    if logits.ndim != 3:
        raise ValueError(f"logits must be 3-D (batch, time, vocab), got shape {tuple(logits.shape)}")
    if tuple(targets.shape) != tuple(logits.shape[:2]):
        raise ValueError(f"targets must have shape (batch, time) = {tuple(logits.shape[:2])} to match the "
                         f"logits {tuple(logits.shape)}, got {tuple(targets.shape)}")
    vocab_size = logits.shape[-1]
    return F.cross_entropy(logits.float().reshape(-1, vocab_size), targets.reshape(-1))  # (B*T, V) vs (B*T,)


def evaluate_nats_per_char(model, data, *, batch_size: int = 256, device=None) -> float:
    """Mean cross-entropy of ``model`` on ``data = (X, Y)`` (N, T) in nats per character.

    Divide by ln 2 for bits per character. A model that guesses uniformly over V characters
    scores ln V; predicting the data perfectly scores 0.
    """
    import torch

    from .at_scale.training import _check_pair

    check_positive_int(batch_size, "batch_size")
    device = device or next(model.parameters()).device
    X, Y = _check_pair(data, "data", device)
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            xb, yb = X[i : i + batch_size], Y[i : i + batch_size]
            total += float(lm_loss(model(xb), yb)) * yb.numel()
    model.train(was_training)
    return total / Y.numel()


def unigram_nats_per_char(train_ids, val_ids, vocab_size: int) -> float:
    """The baseline a language model must beat: cross-entropy (nats/char) on ``val_ids`` of the
    character frequencies counted in ``train_ids`` (add-one smoothed), i.e. a model that knows
    which characters are common but ignores all context."""
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    train_ids, val_ids = np.asarray(train_ids), np.asarray(val_ids)
    for name, ids in (("train_ids", train_ids), ("val_ids", val_ids)):
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or not len(ids):
            raise ValueError(f"{name} must be a non-empty 1-D array of integer ids, got shape {ids.shape}")
        if ids.min() < 0 or ids.max() >= vocab_size:
            raise ValueError(f"{name} must hold ids in [0, {vocab_size - 1}], got values up to {ids.max()}")
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    log_probs = np.log(counts / counts.sum())  # (V,)
    return float(-log_probs[val_ids].mean())


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


def next_char_probs(logits, temperature: float = 1.0, top_k: int | None = None):
    """Logits (..., V) -> the sampling distribution (..., V) after temperature and top-k.

    ``softmax(logits / temperature)``: temperature < 1 sharpens the distribution, > 1 flattens
    it, and temperature = 0 means greedy (all mass on the arg-max). With ``top_k`` only the k
    most likely characters keep probability; the rest get exactly zero. Works on torch tensors.
    """
    import torch

    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy), got {temperature!r}")
    vocab_size = logits.shape[-1]
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= vocab_size:
            raise ValueError(f"top_k must be None or an integer from 1 to the vocabulary size {vocab_size}, "
                             f"got {top_k!r}")
    logits = logits.float()
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(dim=-1), vocab_size).float()
    logits = logits / temperature
    if top_k is not None and top_k < vocab_size:
        # exactly k survive, even when several characters tie with the k-th largest logit
        keep = torch.topk(logits, top_k, dim=-1).indices  # (..., k)
        masked = torch.full_like(logits, float("-inf"))
        logits = masked.scatter(-1, keep, logits.gather(-1, keep))
    return torch.softmax(logits, dim=-1)


def context_limit(model) -> int | None:
    """The longest context ``model`` accepts: ``model.block_size`` or ``model.config.block_size``
    (a GPT's fixed block size), else None (a recurrent model reads any length)."""
    for owner in (model, getattr(model, "config", None)):
        limit = getattr(owner, "block_size", None)
        if limit is not None:
            return int(limit)
    return None


def generate(model, vocab: CharVocab, prompt: str, length: int, *, temperature: float = 1.0,
             top_k: int | None = None, seed: int = 0, device=None) -> str:
    """Continue ``prompt`` by ``length`` sampled characters; returns prompt + continuation.

    ``model`` is any torch module mapping ids (B, T) int64 to logits (B, T, V):

    * If it has ``block_size`` (or ``config.block_size``), only the last ``block_size``
      characters are fed each step (a GPT's positional table has that many rows).
    * If it sets ``supports_state = True`` and accepts ``model(x, state=, return_state=True)
      -> (logits, state)`` (as :class:`nncourse.at_scale.rnn.CharLSTM` does), the prompt is read
      once and each new character costs one recurrent step instead of re-reading the text.

    Sampling draws from a CPU ``torch.Generator`` seeded with ``seed``, so the same seed gives
    the same text on any device. On the CPU it runs single-threaded (the previous setting is
    restored): one character of a small model is too little work to split over threads, and
    on a busy machine threads waiting for each other at every step made sampling 10x slower.
    """
    import torch

    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt must be a non-empty str (the model needs a first character), got {prompt!r}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"length must be an integer >= 0, got {length!r}")
    ids = vocab.encode(prompt).tolist()
    device = torch.device(device) if device is not None else next(model.parameters()).device
    limit = context_limit(model)
    stateful = bool(getattr(model, "supports_state", False))
    generator = torch.Generator(device="cpu").manual_seed(seed)

    was_training = model.training
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    model.eval()
    try:
        with torch.no_grad():
            state = None
            feed = ids if limit is None else ids[-limit:]
            for _ in range(length):
                x = torch.tensor([feed], dtype=torch.long, device=device)  # (1, T)
                if stateful:
                    logits, state = model(x, state=state, return_state=True)
                else:
                    logits = model(x)
                if logits.ndim != 3 or logits.shape[-1] != vocab.size:
                    raise ValueError(f"the model must return logits (batch, time, {vocab.size}), "
                                     f"got shape {tuple(logits.shape)}")
                probs = next_char_probs(logits[0, -1].cpu(), temperature, top_k)  # (V,)
                next_id = int(torch.multinomial(probs, 1, generator=generator))
                ids.append(next_id)
                if stateful:
                    feed = [next_id]
                else:
                    feed = ids if limit is None else ids[-limit:]
    finally:
        model.train(was_training)
        torch.set_num_threads(threads)
    return vocab.decode(np.array(ids, dtype=np.int64))
