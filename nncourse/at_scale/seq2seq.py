"""Sequence to sequence in PyTorch: a GRU encoder-decoder, with or without dot-product attention (notebook 07).

The encoder reads the source and its last state starts the decoder (Sutskever, Vinyals and Le
2014; Cho et al. 2014). With ``attention=True`` every decoder state also looks at all encoder
states - scaled dot-product cross-attention after the decoder step, Luong, Pham and Manning's
(2015) dot-product form of Bahdanau, Cho and Bengio's (2014) idea, scaled by 1/sqrt(H) as in
Vaswani et al. (2017) - and the head sees ``[state, context]``::

    encoder states  K = V  (B, S, H)         decoder states  Q  (B, T, H)
    weights = softmax(Q K^T / sqrt(H))       (B, T, S)   each row sums to 1 over the source
    context = weights V                      (B, T, H)
    logits  = head([Q, context])             (B, T, vocab)

Token ids: the digits ``0 .. num_digits - 1``, then ``bos`` and ``eos``. Training feeds the
decoder ``[bos, y_1 .. y_T]`` and asks for ``[y_1 .. y_T, eos]`` (teacher forcing); decoding
feeds back its own outputs one step at a time (:meth:`Seq2Seq.step`), greedily
(:func:`greedy_decode`) or with :func:`nncourse.seq2seq.beam_search` (:func:`beam_decode`).

The NumPy attention step is :func:`nncourse.seq2seq.cross_attention`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..text import lm_loss
from ..validation import check_positive_int
from .training import seed_everything


class Seq2Seq(nn.Module):
    """GRU encoder-decoder over one shared vocabulary: source (B, S), decoder input (B, T) -> logits (B, T, V).

    ``forward`` also stores the attention weights (B, T, S) of its last call in
    ``self.last_attention`` (None without attention).
    """

    def __init__(self, num_digits: int = 10, *, embedding_dim: int = 32, hidden_size: int = 128,
                 attention: bool = True):
        super().__init__()
        self.num_digits = check_positive_int(num_digits, "num_digits")
        self.bos, self.eos = num_digits, num_digits + 1
        self.vocab_size = num_digits + 2
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.attention = bool(attention)
        self.embedding = nn.Embedding(self.vocab_size, check_positive_int(embedding_dim, "embedding_dim"))
        self.encoder = nn.GRU(embedding_dim, hidden_size, batch_first=True)
        self.decoder = nn.GRU(embedding_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(2 * hidden_size if attention else hidden_size, self.vocab_size)
        self.last_attention = None

    def _check_ids(self, ids, name):
        if ids.ndim != 2 or ids.dtype != torch.long:
            raise ValueError(f"{name} must be token ids of shape (batch, time) and dtype int64, got shape "
                             f"{tuple(ids.shape)} and dtype {ids.dtype}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size):
            raise ValueError(f"{name} must hold ids in 0 .. {self.vocab_size - 1}, got "
                             f"{int(ids.min())} .. {int(ids.max())}")

    def encode(self, source):
        """source (B, S) -> encoder states (B, S, H) and the decoder's first state (1, B, H)."""
        self._check_ids(source, "source")
        states, last = self.encoder(self.embedding(source))  # (B, S, H), (1, B, H)
        return states, last

    def decode(self, decoder_input, encoder_states, state):
        """decoder_input (B, T) -> logits (B, T, V), the new state (1, B, H), attention (B, T, S) or None."""
        queries, state = self.decoder(self.embedding(decoder_input), state)  # (B, T, H)
        if not self.attention:
            return self.head(queries), state, None
        scores = queries @ encoder_states.transpose(1, 2) / math.sqrt(self.hidden_size)  # (B, T, S)
        weights = scores.softmax(dim=-1)
        context = weights @ encoder_states                                             # (B, T, H)
        return self.head(torch.cat([queries, context], dim=-1)), state, weights

    def forward(self, source, decoder_input):
        self._check_ids(decoder_input, "decoder_input")
        encoder_states, state = self.encode(source)
        logits, _, self.last_attention = self.decode(decoder_input, encoder_states, state)
        return logits


def teacher_forcing_pair(target, bos: int, eos: int):
    """target (B, T) -> decoder input ``[bos, y_1 .. y_T]`` and labels ``[y_1 .. y_T, eos]``, both (B, T + 1)."""
    target = torch.as_tensor(target, dtype=torch.long)
    column = torch.full((target.shape[0], 1), bos, dtype=torch.long)
    return torch.cat([column, target], dim=1), torch.cat([target, column.fill_(eos)], dim=1)


@dataclass
class Seq2SeqHistory:
    """What :func:`train_reversal` recorded: the loss of every step and the lengths trained on."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_reversal(model: Seq2Seq, *, lengths: tuple[int, int] = (3, 12), steps: int = 1000,
                   batch_size: int = 64, lr: float = 3e-3, clip: float = 1.0, seed: int = 0) -> Seq2SeqHistory:
    """Train on fresh batches of :func:`nncourse.sequence_tasks.reverse_digits` with teacher forcing.

    Each batch has one length drawn uniformly from ``lengths`` (inclusive), so no padding is needed.
    Adam, cross-entropy over every output position (the end token included), the gradient's global
    norm clipped at ``clip``.
    """
    from ..sequence_tasks import reverse_digits

    steps = check_positive_int(steps, "steps")
    low, high = lengths
    if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high):
        raise ValueError(f"lengths must be (shortest, longest) with 1 <= shortest <= longest, got {lengths!r}")
    seed_everything(seed)
    rng = np.random.default_rng(seed + 1000)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = Seq2SeqHistory()
    start = time.perf_counter()
    model.train()
    for _ in range(steps):
        source, target = reverse_digits(batch_size, int(rng.integers(low, high + 1)),
                                        num_digits=model.num_digits, seed=rng)
        decoder_input, labels = teacher_forcing_pair(target, model.bos, model.eos)
        logits = model(torch.from_numpy(source), decoder_input)
        loss = lm_loss(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        history.losses.append(loss.item())
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def greedy_decode(model: Seq2Seq, source, max_length: int | None = None):
    """Feed back the most likely token until ``eos`` (batched): source (B, S) ->
    tokens (B, L) int64 padded with ``eos`` after the end, and each sequence's log-probability (B,)
    (the end token included)."""
    source = torch.as_tensor(source, dtype=torch.long)
    max_length = source.shape[1] + 1 if max_length is None else check_positive_int(max_length, "max_length")
    encoder_states, state = model.encode(source)
    token = torch.full((source.shape[0], 1), model.bos, dtype=torch.long)
    done = torch.zeros(source.shape[0], dtype=torch.bool)
    logprob = torch.zeros(source.shape[0], dtype=torch.float64)
    tokens = []
    for _ in range(max_length):
        logits, state, _ = model.decode(token, encoder_states, state)
        logp = logits[:, -1].double().log_softmax(-1)   # (B, V)
        best = logp.argmax(-1)
        logprob += torch.where(done, 0.0, logp.gather(1, best[:, None])[:, 0])
        best = torch.where(done, model.eos, best)
        tokens.append(best)
        done |= best == model.eos
        token = best[:, None]
        if done.all():
            break
    return torch.stack(tokens, 1).numpy(), logprob.numpy()


def step_function(model: Seq2Seq, source_row):
    """A ``step(tokens (k,), state) -> (log-probabilities (k, V), new state)`` for one source sequence
    (S,), as :func:`nncourse.seq2seq.beam_search` wants it, and the decoder's start state (H,).
    The state of k hypotheses is a NumPy array (k, H); log-probabilities are float64."""
    source = torch.as_tensor(np.asarray(source_row), dtype=torch.long)[None]
    with torch.no_grad():
        encoder_states, first = model.encode(source)     # (1, S, H), (1, 1, H)

    @torch.no_grad()
    def step(tokens, state):
        k = len(tokens)
        logits, new_state, _ = model.decode(torch.as_tensor(np.asarray(tokens), dtype=torch.long)[:, None],
                                            encoder_states.expand(k, -1, -1),
                                            torch.from_numpy(np.ascontiguousarray(state))[None])
        return logits[:, -1].double().log_softmax(-1).numpy(), new_state[0].numpy()

    return step, first[0, 0].numpy()


def beam_decode(model: Seq2Seq, source_row, beam_width: int, max_length: int | None = None):
    """:func:`nncourse.seq2seq.beam_search` on one source (S,) -> (tokens without the end token, log-probability)."""
    from ..seq2seq import beam_search

    step, state = step_function(model, source_row)
    max_length = len(source_row) + 1 if max_length is None else max_length
    return beam_search(step, state, bos=model.bos, eos=model.eos, beam_width=beam_width, max_length=max_length)


def exact_match(predicted, target, eos: int) -> np.ndarray:
    """predicted (B, L) from :func:`greedy_decode`, target (B, T) -> (B,) bool: the output up to the
    end token is exactly the target (and the end token comes right after it)."""
    predicted, target = np.asarray(predicted), np.asarray(target)
    length = target.shape[1]
    if predicted.shape[1] <= length:
        return np.zeros(len(target), dtype=bool)
    return (predicted[:, :length] == target).all(axis=1) & (predicted[:, length] == eos)
