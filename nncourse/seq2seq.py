"""Sequence to sequence from scratch: the cross-attention step and the decoding searches (notebook 07).

An encoder reads the source into states ``K = V`` (S, H); a decoder produces the output one
token at a time with states ``Q`` (T, H). Cross-attention lets every decoder state look at all
encoder states (Bahdanau, Cho and Bengio 2014; here Luong et al.'s 2015 dot-product score,
scaled by 1/sqrt(H) as in Vaswani et al. 2017)::

    scores  = Q K^T / sqrt(H)        (T, S)
    weights = softmax(scores)        each row sums to 1 over the source positions
    context = weights V              (T, H)

Decoding turns a model's next-token log-probabilities into a sequence. Both searches take a
``step(tokens (k,), state (k, ...)) -> (log_probs (k, V), new_state (k, ...))`` function, so they
work with any model (the PyTorch one of :mod:`nncourse.at_scale.seq2seq` provides it):

* :func:`greedy_search` takes the most likely token at every step;
* :func:`beam_search` keeps the ``beam_width`` most likely prefixes (by the sum of their
  log-probabilities) and returns the most likely finished sequence. With width 1 it is greedy.

No module-level torch import: this is the NumPy side.
"""
from __future__ import annotations

import numpy as np

from .attention import scaled_dot_product_attention
from .validation import as_array, check_positive_int


def cross_attention(queries, keys_values):
    """Scaled dot-product attention of decoder states over encoder states.

    queries (..., T, H), keys_values (..., S, H) -> context (..., T, H), weights (..., T, S).
    """
    queries = as_array(queries, "queries")
    keys_values = as_array(keys_values, "keys_values")
    if queries.ndim < 2 or keys_values.ndim != queries.ndim or queries.shape[-1] != keys_values.shape[-1] \
            or queries.shape[:-2] != keys_values.shape[:-2]:
        raise ValueError(f"queries (..., T, H) and keys_values (..., S, H) must share their leading "
                         f"dimensions and H, got {queries.shape} and {keys_values.shape}")
    # the encoder states are both keys and values: notebook 08's attention with q = decoder states
    return scaled_dot_product_attention(queries, keys_values, keys_values)


def _check_search(beam_width, max_length):
    return check_positive_int(beam_width, "beam_width"), check_positive_int(max_length, "max_length")


def greedy_search(step, state, *, bos: int, eos: int, max_length: int) -> tuple[list[int], float]:
    """Feed back the most likely token until ``eos`` or ``max_length`` tokens.

    Returns (tokens without ``eos``, the log-probability of the sequence, ``eos`` included).
    """
    max_length = check_positive_int(max_length, "max_length")
    state = np.asarray(state)[None] if np.ndim(state) == 1 else np.asarray(state)
    token, tokens, logprob = bos, [], 0.0
    for _ in range(max_length):
        log_probs, state = step(np.array([token]), state)
        token = int(np.argmax(log_probs[0]))
        logprob += float(log_probs[0, token])
        if token == eos:
            break
        tokens.append(token)
    return tokens, logprob


def beam_search(step, state, *, bos: int, eos: int, beam_width: int, max_length: int) -> tuple[list[int], float]:
    """Keep the ``beam_width`` most likely prefixes; return the most likely finished sequence.

    ``state``: the decoder's start state for one sequence (H,) (or (1, H)). Each step extends
    every live prefix by every token, scores them by the summed log-probability and keeps the
    best ``beam_width``; a prefix that ends in ``eos`` is finished and leaves the beam. The search
    stops when the best live prefix can no longer beat the best finished sequence (log-probabilities
    only fall) or after ``max_length`` tokens. No length normalisation: fine when, as in digit
    reversal, every candidate answer has the same length.

    Returns (tokens without ``eos``, log-probability of the sequence with ``eos``); a sequence
    that never ended is returned with the log-probability it reached.
    """
    beam_width, max_length = _check_search(beam_width, max_length)
    states = np.asarray(state)[None] if np.ndim(state) == 1 else np.asarray(state)
    prefixes, scores = [[]], np.zeros(1)               # live prefixes and their log-probabilities
    finished: list[tuple[float, list[int]]] = []
    for _ in range(max_length):
        last = np.array([p[-1] if p else bos for p in prefixes])
        log_probs, states = step(last, states)          # (k, V), (k, ...)
        candidates = (scores[:, None] + log_probs).ravel()          # every prefix x every token
        order = np.argsort(-candidates, kind="stable")[:beam_width]
        vocab = log_probs.shape[1]
        keep_prefixes, keep_rows, keep_scores = [], [], []
        for flat in order:
            row, token = divmod(int(flat), vocab)
            if token == eos:
                finished.append((float(candidates[flat]), prefixes[row]))
            else:
                keep_prefixes.append(prefixes[row] + [token])
                keep_rows.append(row)
                keep_scores.append(candidates[flat])
        best_finished = max((f[0] for f in finished), default=-np.inf)
        if not keep_prefixes or max(keep_scores) <= best_finished:
            break
        prefixes, scores, states = keep_prefixes, np.array(keep_scores), states[keep_rows]
    else:
        finished.extend(zip(scores.tolist(), prefixes))  # ran out of length: keep the unfinished ones
    score, tokens = max(finished, key=lambda f: f[0])
    return tokens, score
