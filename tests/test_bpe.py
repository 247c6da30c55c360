"""Byte-pair encoding from scratch (nncourse.bpe): pre-tokenisation, merges, round trips, and the same
merges and token counts as Hugging Face tokenizers' BPE trained on the same text."""
import json

import pytest

from nncourse.bpe import BPETokenizer, byte_level_symbols, merge_pair, pair_counts, pre_tokenize

TEXT = ("The cat sat on the mat. The cat ate the rat; the rat ran! Then the cat sat again, "
        "and the mat was flat - 3 cats, 12 rats and snake_case_names.\n\n    indented   spaces\n") * 20


def test_pre_tokenize_joins_back_and_keeps_leading_spaces():
    for text in (TEXT, "naïve café 北京 — ok?!  __x__ 3.14", "\t\n  a", ""):
        assert "".join(pre_tokenize(text)) == text
    assert pre_tokenize("the cat's hat, 42") == ["the", " cat", "'s", " hat", ",", " 42"]
    with pytest.raises(TypeError, match="text must be a str"):
        pre_tokenize(b"bytes")


def test_merge_pair_left_to_right_without_overlap():
    assert merge_pair([1, 1, 1, 2, 1, 1], (1, 1), 9) == [9, 1, 2, 9]
    assert merge_pair([1, 2, 3], (2, 3), 7) == [1, 7]
    assert pair_counts({(1, 2, 1, 2): 3, (2, 1): 1}) == {(1, 2): 6, (2, 1): 4}


def test_training_merges_the_most_frequent_pair_first():
    tok = BPETokenizer.train("ab ab ab cd", 1)
    assert tok.merges == {(ord("a"), ord("b")): 256}
    assert tok.vocab[256] == b"ab" and tok.vocab_size == 257
    tok = BPETokenizer.train(TEXT, 40)
    assert tok.vocab_size == 256 + 40
    assert b" the" in tok.vocab.values() and b" cat" in tok.vocab.values()
    # stops when no pair repeats
    assert len(BPETokenizer.train("abc", 10).merges) == 0


@pytest.mark.parametrize("text", [TEXT[:300], "naïve café 北京 — ok?!", "zzzz unseen wörds 😀", ""])
def test_round_trip_and_compression(text):
    tok = BPETokenizer.train(TEXT, 60)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert len(tok.encode(TEXT)) < len(TEXT.encode("utf-8")) / 2.5   # trained on it: far fewer tokens than bytes


def test_encode_replays_merges_in_learning_order():
    tok = BPETokenizer({(97, 98): 256, (256, 99): 257, (98, 99): 258})
    assert tok.encode("abc") == [257]             # ab first, then ab+c (bc was learned later)
    assert tok.tokens("abcbc") == ["abc", "bc"]


def test_errors():
    tok = BPETokenizer.train(TEXT, 5)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.decode([0, 9999])
    with pytest.raises(ValueError, match="num_merges"):
        BPETokenizer.train(TEXT, 0)
    with pytest.raises(ValueError, match="uses an id not defined"):
        BPETokenizer({(300, 1): 256})


def test_same_merges_and_lengths_as_hugging_face_tokenizers():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    text = TEXT + "Attention is all you need. " * 7 + "Byte pair encoding merges pairs. " * 5
    ours = BPETokenizer.train(text, 30)
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.train_from_iterator([text], trainers.BpeTrainer(vocab_size=256 + 30, show_progress=False,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    symbols = byte_level_symbols()
    assert len(set(symbols.values())) == 256 and set(symbols.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    assert symbols[ord(" ")] == "Ġ" and symbols[ord("\n")] == "Ċ"
    hf_merges = json.loads(hf.to_str())["model"]["merges"]
    hf_tokens = ["".join(m if isinstance(m, list) else m.split(" ")) for m in hf_merges]
    ours_tokens = ours.byte_level_tokens()
    assert ours_tokens[:2] == hf_tokens[:2]                               # the first merges (no ties there)
    assert len(set(ours_tokens) & set(hf_tokens)) >= 0.8 * len(ours_tokens)  # later ties may be broken differently
    probe = "The cat sat on the flat mat again; attention merges pairs."
    assert abs(len(ours.encode(probe)) - len(hf.encode(probe).ids)) <= 2
    assert hf.decode(hf.encode(probe).ids) == probe == ours.decode(ours.encode(probe))

