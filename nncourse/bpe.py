"""Byte-pair encoding from scratch (taught in notebook 08): train merges on a text, encode, decode.

A tokenizer turns text into the integer ids a language model reads. Characters give short
vocabularies but long sequences; byte-pair encoding (Sennrich et al. 2016, after Gage 1994; the
byte-level variant of GPT-2, Radford et al. 2019) starts from the 256 byte values and repeatedly
*merges the most frequent adjacent pair* into a new token::

    ids = utf8_bytes(text)                      every id in 0..255
    repeat num_merges times:
        (a, b) = most frequent adjacent pair    counted over the whole training text
        new    = 256 + merge number
        replace every (a, b) in ids by new

Frequent words end up as one token, rare ones as a few pieces, and *any* text can still be
encoded (at worst byte by byte). As GPT-2 does, the text is first split into chunks (a word with
its leading space, a number, a run of punctuation, a run of white space) and merges never cross a
chunk boundary, so "dog." and "dog!" share the token for "dog". Training then works on the
distinct chunks weighted by how often they occur, which is why it is fast enough in pure Python.

Encoding a new text replays the merges in the order they were learned (GPT-2's rule: in each
chunk, always merge the pair that was learned earliest). Decoding concatenates the bytes of the
tokens. Hugging Face ``tokenizers`` (``models.BPE`` + ``pre_tokenizers.ByteLevel``) implements the
same algorithm in Rust; notebook 08 trains both on the same text and compares them.
"""
from __future__ import annotations

import re
from collections import Counter

from .validation import check_positive_int

# GPT-2's split pattern (Radford et al. 2019) written for Python's ``re``: ``[^\W\d_]`` is "a letter"
# (GPT-2 uses \p{L}), ``\d`` a digit. Contractions, a word with its leading space, a number, a run of
# other symbols (``_`` included), white space (the last space of a run stays with the next word).
# Every character is matched by one branch, so the chunks join back to the text.
SPLIT_PATTERN = re.compile(r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def pre_tokenize(text: str) -> list[str]:
    """Split ``text`` into GPT-2 style chunks; ``"".join(pre_tokenize(t)) == t``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return SPLIT_PATTERN.findall(text)


def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` (left to right, not overlapping) by ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def pair_counts(chunks: dict[tuple[int, ...], int]) -> Counter:
    """How often each adjacent pair occurs, over chunks (token-id tuples) weighted by their counts."""
    counts = Counter()
    for ids, n in chunks.items():
        for pair in zip(ids, ids[1:]):
            counts[pair] += n
    return counts


def byte_level_symbols() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte (``" "`` -> ``"Ġ"``, ``"\\n"`` -> ``"Ċ"``), as Hugging
    Face's ``ByteLevel`` pre-tokenizer writes tokens: printable Latin-1 bytes stand for themselves,
    the others are shifted to characters from U+0100 on."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + n) for n, b in enumerate(others)}}


class BPETokenizer:
    """A byte-level BPE tokenizer: ``BPETokenizer.train(text, num_merges)``, then ``encode``/``decode``.

    Attributes: ``merges`` - the learned pairs in order, ``{(a, b): new_id}`` (new ids 256, 257,
    ...); ``vocab`` - ``{id: bytes}`` for all ``256 + len(merges)`` tokens. ``encode(text) ->
    list[int]``, ``decode(ids) -> str``; ``decode(encode(t)) == t`` for every str ``t``.
    """

    def __init__(self, merges: dict[tuple[int, int], int] | None = None):
        self.merges: dict[tuple[int, int], int] = dict(merges or {})
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for (a, b), new_id in self.merges.items():   # insertion order = learning order
            if a not in self.vocab or b not in self.vocab:
                raise ValueError(f"merge {(a, b)} -> {new_id} uses an id not defined before it")
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        self._chunk_ids: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def train(cls, text: str, num_merges: int) -> "BPETokenizer":
        """Learn ``num_merges`` merges on ``text``; stops early when no pair occurs twice.

        Ties between equally frequent pairs go to the pair seen first in the text.
        """
        num_merges = check_positive_int(num_merges, "num_merges")
        counts = Counter(pre_tokenize(text))
        chunks = {tuple(chunk.encode("utf-8")): n for chunk, n in counts.items()}  # distinct chunks -> count
        merges: dict[tuple[int, int], int] = {}
        for step in range(num_merges):
            pairs = pair_counts(chunks)
            if not pairs:
                break
            pair, n = max(pairs.items(), key=lambda item: item[1])   # first of the most frequent
            if n < 2:
                break
            new_id = 256 + step
            merges[pair] = new_id
            chunks = {tuple(merge_pair(list(ids), pair, new_id)): c for ids, c in chunks.items()}
        return cls(merges)

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            # the pair learned earliest among those present; pairs never learned rank last
            pair = min(zip(ids, ids[1:]), key=lambda p: self.merges.get(p, float("inf")))
            if pair not in self.merges:
                break
            ids = merge_pair(ids, pair, self.merges[pair])
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (chunk by chunk, replaying the merges in learning order)."""
        ids: list[int] = []
        for chunk in pre_tokenize(text):
            if chunk not in self._chunk_ids:   # words repeat: encode each distinct chunk once
                self._chunk_ids[chunk] = self._encode_chunk(chunk)
            ids.extend(self._chunk_ids[chunk])
        return ids

    def decode(self, ids) -> str:
        """The text of token ids (invalid UTF-8, e.g. half a character, becomes U+FFFD)."""
        try:
            data = b"".join(self.vocab[int(i)] for i in ids)
        except KeyError as err:
            raise ValueError(f"token id {err.args[0]} is not in the vocabulary (0..{self.vocab_size - 1})") from None
        return data.decode("utf-8", errors="replace")

    def tokens(self, text: str) -> list[str]:
        """The pieces ``text`` is cut into, as strings (for looking at)."""
        return [self.vocab[i].decode("utf-8", errors="replace") for i in self.encode(text)]

    def byte_level_tokens(self) -> list[str]:
        """The learned tokens (one per merge, in order) in GPT-2's byte-level spelling, as Hugging
        Face ``tokenizers`` lists them (``" the"`` -> ``"Ġthe"``)."""
        symbols = byte_level_symbols()
        return ["".join(symbols[b] for b in self.vocab[i]) for i in self.merges.values()]

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)})"


__all__ = ["SPLIT_PATTERN", "pre_tokenize", "merge_pair", "pair_counts", "byte_level_symbols", "BPETokenizer"]
