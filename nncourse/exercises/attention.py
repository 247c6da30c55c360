"""Exercises of notebook 08 (attention and transformers).

* ``my_causal_mask`` (warm-up): the boolean causal mask; the learner's attention cells then use it.
* ``layernorm_backward`` (substantial): the gradients of LayerNorm, with the paths through the
  mean and the variance; the learner's transformer block backward then uses it, checked against
  PyTorch's autograd.
* ``train_bpe`` (substantial): the byte-pair-encoding training loop (count the pairs weighted by
  the chunks' counts, merge the most frequent everywhere, repeat); the learner's merges then encode
  the validation text and are compared with Hugging Face ``tokenizers``.
* ``attention_flops`` (warm-up): the quadratic cost, counted.

Expected answers come from the package (``nncourse.attention.causal_mask``,
``nncourse.transformer.layernorm_backward``, tested against PyTorch; ``nncourse.bpe``'s
``pair_counts`` and ``merge_pair`` in ``BPETokenizer.train``'s loop, tested against Hugging Face
``tokenizers``); the answers a teacher can
show are in ``nncourse.exercises.solutions.attention``.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from .. import transformer
from ..attention import causal_mask
from ..bpe import merge_pair, pair_counts, pre_tokenize
from . import Exercise
from .solutions import attention as solutions

# --- warm-up: the causal mask ---------------------------------------------------------------------


def _mask_compare(got, want, case):
    got = np.asarray(got)
    (length,) = case
    if got.shape != want.shape:
        return f"your mask has shape {got.shape}, expected {want.shape} (queries x keys)."
    if got.dtype != bool:
        return f"return a boolean array (True = may attend), yours has dtype {got.dtype}."
    if np.array_equal(got, np.tril(want, -1)):
        return "position i must also see itself (the diagonal is True)."
    if np.array_equal(got, ~want):
        return ("your mask is the opposite: True must mean 'may attend' (the convention of "
                "F.scaled_dot_product_attention).")
    if length > 1 and np.array_equal(got, want.T):
        return ("your mask lets query i see the keys *after* it (the upper triangle): that is attending "
                "to the future. Row i is the query, column j the key.")
    if not np.array_equal(got, want):
        i, j = np.argwhere(got != want)[0]
        why = "a key at or before the query may be seen" if j <= i else "a later key is the future"
        return f"query {i} and key {j}: yours says {bool(got[i, j])}, but {why}."
    return None


my_causal_mask = Exercise(
    "my_causal_mask", solution=solutions.my_causal_mask, reference=lambda length: causal_mask(length),
    cases=[(5,), (1,), (2,), (8,)], compare=_mask_compare,  # 5 first: it tells the mistakes apart
    hints=["Row i is the query, column j the key. Query i may see keys j <= i.",
           "So the mask is True on and below the diagonal: NumPy has a function for the lower triangle.",
           "np.tril(np.ones((T, T), dtype=bool))"])


# --- substantial: the LayerNorm backward ----------------------------------------------------------

def _layernorm_cases():
    rng = np.random.default_rng(2016)  # Ba, Kiros & Hinton, "Layer Normalization"
    cases = []
    for shape in ((4, 6), (2, 3, 8), (5, 3)):
        x = rng.normal(1.0, 2.0, size=shape)
        gamma, beta = rng.normal(1.0, 0.5, size=shape[-1]), rng.normal(size=shape[-1])
        _, (x_hat, inv_std, _) = transformer.layernorm_forward(x, gamma, beta)
        cases.append((rng.normal(size=shape), x_hat, inv_std, gamma))
    return cases


def _layernorm_reference(dout, x_hat, inv_std, gamma):
    return transformer.layernorm_backward(dout, transformer.LayerNormCache(x_hat, inv_std, gamma))


def _sums(dout, x_hat):
    features = dout.shape[-1]
    return (dout * x_hat).reshape(-1, features).sum(axis=0), dout.reshape(-1, features).sum(axis=0)


def _constants(dout, x_hat, inv_std, gamma):  # the mean and variance treated as constants
    return (dout * gamma * inv_std, *_sums(dout, x_hat))


def _without_mean_path(dout, x_hat, inv_std, gamma):
    g = dout * gamma
    return (inv_std * (g - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)), *_sums(dout, x_hat))


def _without_variance_path(dout, x_hat, inv_std, gamma):
    g = dout * gamma
    return (inv_std * (g - g.mean(axis=-1, keepdims=True)), *_sums(dout, x_hat))


def _without_gamma(dout, x_hat, inv_std, gamma):
    return (_layernorm_reference(dout, x_hat, inv_std, np.ones_like(gamma))[0], *_sums(dout, x_hat))


def _without_inv_std(dout, x_hat, inv_std, gamma):
    return (_layernorm_reference(dout, x_hat, inv_std, gamma)[0] / inv_std, *_sums(dout, x_hat))


def _describe_layernorm(case):
    dout, x_hat, inv_std, gamma = case
    return f"dout and x_hat of shape {dout.shape}, inv_std {inv_std.shape}, gamma {gamma.shape}"


layernorm_backward = Exercise(
    "layernorm_backward", solution=solutions.layernorm_backward, reference=_layernorm_reference,
    cases=_layernorm_cases, describe=_describe_layernorm, output_names=("dx", "dgamma", "dbeta"), atol=1e-10,
    hints=["Start with the easy two: out = x_hat * gamma + beta at every position, so dbeta and dgamma add "
           "up contributions from every position (sum over all axes but the last); dx_hat = dout * gamma.",
           "x_hat = (x - mean) * inv_std, and x moves the mean and the variance of its own position too. "
           "Differentiate all three paths (x directly, through the mean, through inv_std), or think of "
           "the result: dx_hat with two things removed, then scaled by inv_std.",
           "The path through the mean removes the average of dx_hat over the features; the path through "
           "the variance removes x_hat times the average of dx_hat * x_hat. All means over the last axis.",
           "dx = inv_std * (dx_hat - dx_hat.mean(-1, keepdims=True)\n"
           "                - x_hat * (dx_hat * x_hat).mean(-1, keepdims=True))"],
    mistakes=[(_constants, "you treated the mean and the variance as constants (dx = dout * gamma * inv_std): "
                           "they are computed from x, so x reaches x_hat through them too."),
              (_without_mean_path, "your dx has the path through the variance but not the one through the mean."),
              (_without_variance_path, "your dx has the path through the mean but not the one through the "
                                       "variance (inv_std depends on x too)."),
              (_without_gamma, "your dx forgot gamma: the output is x_hat * gamma, so dx_hat = dout * gamma."),
              (_without_inv_std, "your dx is missing the final factor inv_std (x_hat = (x - mean) * inv_std).")])


# --- warm-up: counting the cost -------------------------------------------------------------------

attention_flops = Exercise(
    "attention_flops", solution=solutions.attention_flops, reference=lambda T, d: 4 * T * T * d,
    cases=[(1, 1), (7, 5), (2, 3), (128, 64), (1024, 64)], atol=0, rtol=0,
    hints=["Q K^T is a (T, d) @ (d, T) product: how many outputs, and how many multiply-adds each?",
           "That is T*T outputs of d multiply-adds: 2*T*T*d operations. weights @ V is (T, T) @ (T, d).",
           "Add the two products: 2*T*T*d + 2*T*T*d."],
    mistakes=[(lambda T, d: 2 * T * T * d, "you counted only one of the two matrix products (or a multiply-add "
                                           "as one operation)."),
              (lambda T, d: 4 * T * d, "your count grows linearly with T: every query meets every key."),
              (lambda T, d: 4 * T * T * d * d, "d appears once: each dot product has d terms.")])


# --- substantial: training byte-pair encoding -----------------------------------------------------

class _Chunks(dict):
    """A test case's chunk table: an ordinary dict to the learner (changing it in place is fine),
    which remembers its original items, so the reference and the nudges work on those."""

    def __init__(self, items):
        super().__init__(items)
        self.original = tuple(self.items())


def _chunks_of(text: str) -> _Chunks:
    """Distinct GPT-2 chunks of ``text`` as byte-id tuples -> how often each occurs (first seen first),
    as notebook 08 builds them for the corpus."""
    return _Chunks((tuple(chunk.encode("utf-8")), n) for chunk, n in Counter(pre_tokenize(text)).items())


def _random_words_text(rng, num_words: int) -> str:
    """Made-up words from a few syllables, Zipf-like frequencies: ties, repeats and runs ('aaa')."""
    syllables = ["ba", "na", "an", "aa", "low", "er", "est", "né", "ü", "th", "e"]
    vocabulary = ["".join(rng.choice(syllables, size=rng.integers(1, 4))) for _ in range(40)]
    weights = 1 / np.arange(1, len(vocabulary) + 1)
    words = rng.choice(vocabulary, size=num_words, p=weights / weights.sum())
    return " ".join(words) + ". 1000000 !!!"


def _bpe_texts() -> list[tuple[str, int]]:
    """The texts of the test cases and how many merges each learns (every step has a pair seen at
    least 3 times, so no stopping rule is needed; each case has ties and runs)."""
    rng = np.random.default_rng(1994)  # Gage, "A new algorithm for data compression"
    sennrich = "low " * 5 + "lower " * 2 + "newest " * 6 + "widest" + " widest" * 2   # Sennrich et al.'s example
    runs = "aaa aaa aaa baaab aaaa banana bananas naan aa " * 2 + "nana ana "           # 'aaa', 'banana'
    return [(sennrich, 10), (runs, 8), (_random_words_text(rng, 300), 40)]


def _bpe_cases():
    return [(_chunks_of(text), num_merges) for text, num_merges in _bpe_texts()]


def _bpe_reference(chunks, num_merges):
    """The package's training (``BPETokenizer.train``'s loop, on the original chunk table)."""
    table = dict(getattr(chunks, "original", chunks.items()))
    merges = {}
    for step in range(num_merges):
        pair, _ = max(pair_counts(table).items(), key=lambda item: item[1])   # the first of the most frequent
        merges[pair] = 256 + step
        table = {tuple(merge_pair(list(ids), pair, 256 + step)): c for ids, c in table.items()}
    return merges


def _merge_variant(ids, pair, new_id, how):
    """One chunk with ``pair`` merged the right way (how="all") or a typical wrong way."""
    ids = list(ids)
    if how == "all":
        return tuple(merge_pair(ids, pair, new_id))
    if how == "right_to_left":   # 'aaa' -> 'a' 'aa'
        return tuple(merge_pair(ids[::-1], pair[::-1], new_id)[::-1])
    if how == "first_only":
        for i in range(len(ids) - 1):
            if (ids[i], ids[i + 1]) == pair:
                return tuple(ids[:i] + [new_id] + ids[i + 2:])
        return tuple(ids)
    out = []
    for i in range(len(ids)):
        starts = i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair
        ends = i > 0 and (ids[i - 1], ids[i]) == pair
        if how == "overlap":      # each overlapping occurrence: 'aaa' -> 'aa' 'aa'
            out += [new_id] if starts else ([] if ends else [ids[i]])
        elif how == "keep_second":  # the new id in place of the first token only: 'ab' -> 'ab' 'b'
            out.append(new_id if starts else ids[i])
    return tuple(out)


def _bpe_variant(*, weighted=True, tie="first", merge="all", recount=True, update=True, keep_order=True):
    """A BPE training loop with one typical mistake switched on (keep_order=False: the chunks that
    changed are rewritten in place, ``chunks[new] = chunks.pop(old)``, which moves them to the end)."""

    def wrong(chunks, num_merges):
        table = dict(getattr(chunks, "original", chunks.items()))
        first_counts = pair_counts(table) if weighted else Counter(p for ids in table for p in zip(ids, ids[1:]))
        merges = {}
        for step in range(num_merges):
            if recount:
                counts = (pair_counts(table) if weighted
                          else Counter(p for ids in table for p in zip(ids, ids[1:])))
            else:
                counts = Counter({p: c for p, c in first_counts.items() if p not in merges})
            best = max(counts.values())
            tied = [p for p, c in counts.items() if c == best]
            pair = {"first": tied[0], "last": tied[-1], "smallest": min(tied), "largest": max(tied)}[tie]
            merges[pair] = 256 + step
            merged = {_merge_variant(ids, pair, 256 + step, merge): c for ids, c in table.items()}
            if not keep_order:
                merged = {**{ids: c for ids, c in merged.items() if ids in table},
                          **{ids: c for ids, c in merged.items() if ids not in table}}
            table = merged if update else table
        return merges

    return wrong


def _as_merge_list(got):
    """The learner's merges as [((a, b), new_id), ...], or a string saying what is wrong with their form."""
    if got is None:
        return "your function returned None: does it end without `return merges`?"
    if not isinstance(got, dict):
        return (f"return the merges as a dict {{(a, b): new_id}} in the order learned (the cells after the "
                f"exercise look pairs up in it); you returned a {type(got).__name__}.")
    for pair, new_id in got.items():
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(new_id, (int, np.integer))
                and all(isinstance(a, (int, np.integer)) for a in pair)):
            return (f"each entry is a pair of token ids and its new id, as in {{(101, 115): 256}}; "
                    f"one of yours is {pair!r}: {new_id!r}.")
    return [((int(a), int(b)), int(new_id)) for (a, b), new_id in got.items()]


def _bpe_describe(case):
    chunks, num_merges = case
    table = dict(getattr(chunks, "original", chunks.items()))
    shown = {bytes(ids).decode("utf-8", errors="replace"): n for ids, n in list(table.items())[:5]}
    more = f" ... ({len(table)} distinct chunks)" if len(table) > 5 else ""
    return f"chunks {shown}{more}, num_merges = {num_merges}"


def _token_words(pair, spelled):
    return " + ".join(repr(spelled[i]) if i in spelled else f"id {i}" for i in pair)


def _bpe_compare(got, want, case):
    chunks, num_merges = case
    mine = _as_merge_list(got)
    if isinstance(mine, str):
        return mine
    expected = list(want.items())
    if mine == expected:
        return None
    for wrong, message in _BPE_MISTAKES:
        if _as_merge_list(wrong(*case)) == mine:
            return message
    if len(mine) != len(expected):
        return f"you returned {len(mine)} merges, but num_merges is {num_merges}."
    ids = [new_id for _, new_id in mine]
    if ids != list(range(256, 256 + len(ids))):
        return (f"the new ids are {ids[:4]}...: a merge gets the next id after the 256 byte values, "
                f"256 for the first merge, 257 for the second, ...")
    pairs = [pair for pair, _ in mine]
    k = next(i for i, (a, b) in enumerate(zip(mine, expected)) if a != b)
    if pairs[k] in pairs[:k]:
        return f"merge {k + 1} joins the same pair as merge {pairs.index(pairs[k]) + 1}: a pair merged away is gone."
    # the chunks as they are before merge k (the same for you and the package: the first k merges agree)
    table, spelled = dict(getattr(chunks, "original", chunks.items())), {i: bytes([i]) for i in range(256)}
    for (a, b), new_id in expected[:k]:
        table = {tuple(merge_pair(list(t), (a, b), new_id)): c for t, c in table.items()}
        spelled[new_id] = spelled[a] + spelled[b]
    spelled = {i: s.decode("utf-8", errors="replace") for i, s in spelled.items()}
    counts = pair_counts(table)
    yours, theirs = pairs[k], expected[k][0]
    where = f"merge {k + 1}" + (f" (after {k} that agree with the package)" if k else "")
    if counts[yours] == counts[theirs]:
        return (f"{where}: {_token_words(yours, spelled)} and {_token_words(theirs, spelled)} occur equally often "
                f"({counts[theirs]} times); on a tie the package takes the pair counted first (the chunks in their "
                f"original order, each read left to right), here {_token_words(theirs, spelled)}.")
    if counts[yours] == 0:
        return (f"{where}: you merged {_token_words(yours, spelled)}, a pair that does not occur in the chunks "
                f"after the merges before it.")
    return (f"{where}: you merged {_token_words(yours, spelled)}, which occurs {counts[yours]} times by then, "
            f"but {_token_words(theirs, spelled)} occurs {counts[theirs]} times.")


_BPE_MISTAKES = [
    (_bpe_variant(weighted=False),
     "you counted each distinct chunk once: a chunk that occurs n times in the text holds its pairs n times."),
    (_bpe_variant(recount=False),
     "your pairs are the most frequent pairs of the text before any merge, in that order: your counts never "
     "see the merged chunks, so a merged token never takes part in a later merge."),
    (_bpe_variant(update=False),
     "you merged the pair but counted the original chunks again: each step must count the merged chunks."),
    (_bpe_variant(merge="first_only"),
     "where a pair occurs twice in one chunk ('banana'), you merged only the first occurrence."),
    (_bpe_variant(merge="overlap"),
     "in a run like 'aaa' you merged both overlapping (a, a) pairs, so the middle byte is used twice; "
     "occurrences do not overlap."),
    (_bpe_variant(merge="right_to_left"),
     "in a run like 'aaa' you merged from the right ('a' + 'aa'); the package scans left to right."),
    (_bpe_variant(merge="keep_second"),
     "after a merge the pair's second token is still there: the new token replaces both."),
    (_bpe_variant(keep_order=False),
     "your merges are right until a tie: you rewrote the chunks that hold the pair in place "
     "(chunks[new] = chunks.pop(old) moves a chunk to the end of the dict), so your chunks are no longer in "
     "their original order, and a tie went to another pair than the package's first counted one."),
]


train_bpe = Exercise(
    "train_bpe", solution=solutions.train_bpe, reference=_bpe_reference, cases=_bpe_cases,
    compare=_bpe_compare, describe=_bpe_describe,
    hints=["Each step: count, pick, merge. Count every adjacent pair of every chunk (zip(ids, ids[1:])), "
           "adding the chunk's count n, not 1: the chunk occurs n times in the text.",
           "Pick the most frequent pair; of equally frequent ones, the one counted first. A Counter keeps "
           "the order in which its keys first appeared, and max(counts, key=counts.get) returns the first "
           "of the largest.",
           "Merge: walk each chunk left to right with an index i; where (ids[i], ids[i + 1]) is the pair, "
           "emit the new id and jump two, else emit ids[i] and step one ('aaa' -> 'aa' 'a'). Put the "
           "merged chunks in a new dict with the same counts: the next step counts those.",
           "The new id of step s is 256 + s; merges[pair] = 256 + s keeps them in order. Loop num_merges "
           "times, then return merges."])
