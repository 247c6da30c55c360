"""The exercises of notebook 08: each checker accepts the answer and equivalent ones, and rejects
typical wrong answers with the message meant for them."""
from collections import Counter

import numpy as np
import pytest
import torch

from nncourse.bpe import BPETokenizer, merge_pair, pair_counts, pre_tokenize
from nncourse.exercises import attention as ex
from nncourse.exercises.solutions import attention as solutions
from exercise_support import not_attempted, verdict as _verdict


# --- my_causal_mask -------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    solutions.my_causal_mask,
    lambda T: np.arange(T)[:, None] >= np.arange(T)[None, :],
    lambda T: ~np.triu(np.ones((T, T), dtype=bool), k=1),
])
def test_causal_mask_accepts_equivalent_answers(answer):
    assert _verdict(ex.my_causal_mask, answer) == (True, "✓ my_causal_mask: correct on all 4 test cases.")


@pytest.mark.parametrize("wrong, words", [
    (lambda T: np.triu(np.ones((T, T), dtype=bool)), "attending to the future"),
    (lambda T: np.triu(np.ones((T, T), dtype=bool), k=1), "the opposite"),
    (lambda T: np.tril(np.ones((T, T), dtype=bool), k=-1), "must also see itself"),
    (lambda T: np.tril(np.ones((T, T))), "boolean"),
    (lambda T: np.tril(np.ones((T, T + 1), dtype=bool)), "shape"),
    (not_attempted, "not attempted"),
])
def test_causal_mask_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.my_causal_mask, wrong)
    assert not passed and words in message and "np.tril" not in message  # a nudge, not the fix


# --- layernorm_backward ---------------------------------------------------------------------------

def _explicit_paths(dout, x_hat, inv_std, gamma):
    """A correct answer written as the three chain-rule paths (x directly, through mean and variance)."""
    E = x_hat.shape[-1]
    dx_hat = dout * gamma
    dvar = (dx_hat * x_hat).sum(-1, keepdims=True) * -0.5 * inv_std**2   # d/dvar of (x-mean)*(var+eps)^-1/2
    dmean = -(dx_hat * inv_std).sum(-1, keepdims=True)                   # (x - mean) summed: 0 from dvar
    xc = x_hat / inv_std                                                 # x - mean
    dx = dx_hat * inv_std + dvar * 2 * xc / E + dmean / E
    return dx, (dout * x_hat).reshape(-1, E).sum(0), dout.reshape(-1, E).sum(0)


def test_layernorm_backward_accepts_the_answer_and_the_three_paths():
    assert _verdict(ex.layernorm_backward, solutions.layernorm_backward)[0]
    assert _verdict(ex.layernorm_backward, _explicit_paths)[0]


def test_layernorm_reference_is_pytorchs_autograd():
    for dout, x_hat, inv_std, gamma in ex.layernorm_backward.cases():
        x = x_hat / inv_std  # x - mean: an input whose LayerNorm has exactly this x_hat and inv_std
        xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(gamma, requires_grad=True)
        bt = torch.zeros(gamma.shape, dtype=torch.float64, requires_grad=True)
        torch.nn.functional.layer_norm(xt, gamma.shape, gt, bt, eps=1e-5).backward(torch.from_numpy(dout))
        dx, dgamma, dbeta = solutions.layernorm_backward(dout, x_hat, inv_std, gamma)
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-9)
        np.testing.assert_allclose(dgamma, gt.grad.numpy(), atol=1e-9)
        np.testing.assert_allclose(dbeta, bt.grad.numpy(), atol=1e-9)


def _not_summed(dout, x_hat, inv_std, gamma):
    dx, _, dbeta = solutions.layernorm_backward(dout, x_hat, inv_std, gamma)
    return dx, dout * x_hat, dbeta


def _flipped_sign(dout, x_hat, inv_std, gamma):
    dx, dgamma, dbeta = solutions.layernorm_backward(dout, x_hat, inv_std, gamma)
    return -dx, dgamma, dbeta


@pytest.mark.parametrize("wrong, words", [
    (ex._constants, "treated the mean and the variance as constants"),
    (ex._without_mean_path, "not the one through the mean"),
    (ex._without_variance_path, "not the one through the variance"),
    (ex._without_gamma, "forgot gamma"),
    (ex._without_inv_std, "missing the final factor inv_std"),
    (_not_summed, "'dgamma' result has shape (4, 6), expected (6,)"),
    (_flipped_sign, "'dx' result has the wrong sign"),
    (lambda dout, x_hat, inv_std, gamma: solutions.layernorm_backward(dout, x_hat, inv_std, gamma)[:2], "return 3"),
    (not_attempted, "not attempted"),
])
def test_layernorm_backward_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.layernorm_backward, wrong)
    assert not passed and words in message, message
    assert ".mean(-1, keepdims=True) - x_hat" not in message  # the nudge does not give the formula


def test_layernorm_backward_hints_come_one_at_a_time(capsys):
    exercise = ex.layernorm_backward
    exercise.hints_shown = 0
    exercise.hint()
    first = capsys.readouterr().out
    assert "Hint 1/4" in first and "inv_std * (" not in first
    for _ in range(3):
        exercise.hint()
    assert "Hint 4/4" in capsys.readouterr().out
    exercise.hints_shown = 0


def test_use_gives_the_learners_function_once_it_passes(capsys):
    assert ex.layernorm_backward.use(_explicit_paths) is _explicit_paths
    assert ex.layernorm_backward.use(not_attempted) is solutions.layernorm_backward
    assert "Using the course's layernorm_backward" in capsys.readouterr().out


# --- attention_flops ------------------------------------------------------------------------------

def test_attention_flops_accepts_equivalent_answers():
    for answer in (solutions.attention_flops, lambda T, d: 4 * T**2 * d, lambda T, d: 2 * (2 * T * T * d)):
        assert _verdict(ex.attention_flops, answer)[0]


@pytest.mark.parametrize("wrong, words", [
    (lambda T, d: 2 * T * T * d, "only one of the two matrix products"),
    (lambda T, d: 4 * T * d, "linearly with T"),
    (lambda T, d: 4 * T * T * d * d, "d appears once"),
    (lambda T, d: 3 * T * T * d, "constant factor"),
])
def test_attention_flops_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.attention_flops, wrong)
    assert not passed and words in message, message


# --- train_bpe ------------------------------------------------------------------------------------

def test_train_bpe_reference_is_the_packages_tokenizer():
    """The check's expected merges are BPETokenizer.train's on each test text, and every case runs
    its full number of merges (no stopping rule needed) with ties among the candidates."""
    for (text, num_merges), (chunks, m) in zip(ex._bpe_texts(), ex.train_bpe.cases()):
        want = ex._bpe_reference(chunks, m)
        assert m == num_merges and len(want) == num_merges
        assert want == BPETokenizer.train(text, num_merges).merges


def _bpe_in_place(chunks, num_merges):
    """A correct answer that rewrites the chunks dict in place and picks with most_common."""
    merges = {}
    for step in range(num_merges):
        counts = Counter()
        for ids, n in chunks.items():
            for pair in zip(ids, ids[1:]):
                counts[pair] += n
        pair = counts.most_common(1)[0][0]
        merges[pair] = 256 + step
        for ids in list(chunks):
            chunks[tuple(merge_pair(list(ids), pair, 256 + step))] = chunks.pop(ids)
    return merges


def _bpe_numpy_ids(chunks, num_merges):
    """A correct answer that stops early like the package and keys its merges by NumPy integers."""
    merges, table = {}, dict(chunks)
    for step in range(num_merges):
        pair, n = max(pair_counts(table).items(), key=lambda item: item[1])
        if n < 2:
            break
        merges[(np.int64(pair[0]), np.int64(pair[1]))] = np.int64(256 + step)
        table = {tuple(merge_pair(list(ids), pair, 256 + step)): c for ids, c in table.items()}
    return merges


@pytest.mark.parametrize("answer", [solutions.train_bpe, _bpe_in_place, _bpe_numpy_ids])
def test_train_bpe_accepts_equivalent_answers(answer):
    assert _verdict(ex.train_bpe, answer) == (True, "✓ train_bpe: correct on all 3 test cases.")


def test_train_bpe_solution_learns_the_packages_merges_on_a_real_text():
    text = ("The cat sat on the mat. The cat ate the rat; the rat had sat on the mat before the cat. " * 3
            + "Byte pair encoding merges the most frequent pair of adjacent tokens, again and again.")
    chunks = {tuple(chunk.encode("utf-8")): n for chunk, n in Counter(pre_tokenize(text)).items()}
    assert solutions.train_bpe(chunks, 25) == BPETokenizer.train(text, 25).merges


@pytest.mark.parametrize("mistake, words", [
    (dict(weighted=False), "counted each distinct chunk once"),
    (dict(recount=False), "your counts never see the merged chunks"),
    (dict(update=False), "counted the original chunks again"),
    (dict(merge="first_only"), "merged only the first occurrence"),
    (dict(merge="overlap"), "both overlapping (a, a) pairs"),
    (dict(merge="right_to_left"), "merged from the right"),
    (dict(merge="keep_second"), "second token is still there"),
    (dict(keep_order=False), "no longer in their original order"),
])
def test_train_bpe_names_each_typical_mistake(mistake, words):
    passed, message = _verdict(ex.train_bpe, ex._bpe_variant(**mistake))
    assert not passed and words in message, message
    assert "train_bpe.solution()" in message and "counts.get" not in message   # a nudge, not the fix


def _bpe_in_place_changed_only(chunks, num_merges):
    """Correct merging, but only the chunks holding the pair are rewritten in place (moved to the end)."""
    merges = {}
    for step in range(num_merges):
        counts = pair_counts(chunks)
        pair = max(counts, key=counts.get)
        merges[pair] = 256 + step
        for ids in list(chunks):
            if pair in zip(ids, ids[1:]):
                chunks[tuple(merge_pair(list(ids), pair, 256 + step))] = chunks.pop(ids)
    return merges


def _bpe_recounts_the_original_chunks(chunks, num_merges):
    """Counts every step, but the chunks it counts are never the merged ones (a merged pair is skipped)."""
    merges = {}
    for step in range(num_merges):
        counts = pair_counts(chunks)
        for pair in merges:
            del counts[pair]
        pair = max(counts, key=counts.get)
        merges[pair] = 256 + step
        merged = {tuple(merge_pair(list(ids), pair, 256 + step)): n for ids, n in chunks.items()}  # never used
    return merges


@pytest.mark.parametrize("answer, words", [
    (_bpe_in_place_changed_only, "merges are right until a tie: you rewrote the chunks that hold the pair in place"),
    (_bpe_recounts_the_original_chunks, "your counts never see the merged chunks"),
])
def test_train_bpe_names_mistakes_written_as_a_learner_would(answer, words):
    passed, message = _verdict(ex.train_bpe, answer)
    assert not passed and words in message, message


@pytest.mark.parametrize("tie", ["last", "smallest", "largest"])
def test_train_bpe_names_a_different_tie_break_and_the_pairs(tie):
    passed, message = _verdict(ex.train_bpe, ex._bpe_variant(tie=tie))
    assert not passed and "occur equally often" in message and "the pair counted first" in message, message


def test_train_bpe_tie_message_names_the_tied_pairs_and_their_count():
    # Sennrich's example: 'es' and 'st' both occur 9 times (newest x6, widest x3); 'es' is counted first
    passed, message = _verdict(ex.train_bpe, ex._bpe_variant(tie="last"))
    assert "merge 1: 's' + 't' and 'e' + 's' occur equally often (9 times)" in message, message
    assert "test case 1 of 3" in message


def _rarest_pair_third(chunks, num_merges):
    merges, table = {}, dict(chunks)
    for step in range(num_merges):
        ranked = sorted(pair_counts(table).items(), key=lambda item: -item[1])
        pair = ranked[0][0] if step < 2 else ranked[-1][0]     # right twice, then the rarest pair
        merges[pair] = 256 + step
        table = {tuple(merge_pair(list(ids), pair, 256 + step)): c for ids, c in table.items()}
    return merges


def test_train_bpe_generic_nudges():
    passed, message = _verdict(ex.train_bpe, _rarest_pair_third)
    assert not passed and ("merge 3 (after 2 that agree with the package): you merged 'e' + 'r', which occurs "
                           "2 times by then, but 'l' + 'o' occurs 7 times.") in message, message

    absent = lambda c, m: {**dict(list(ex._bpe_reference(c, m).items())[:1]), (1, 2): 257,
                           **{p: i for p, i in list(ex._bpe_reference(c, m).items())[2:]}}
    passed, message = _verdict(ex.train_bpe, absent)
    assert not passed and "does not occur in the chunks" in message, message

    too_many = lambda c, m: {**ex._bpe_reference(c, m), (0, 0): 255}
    assert "you returned 11 merges, but num_merges is 10." in _verdict(ex.train_bpe, too_many)[1]
    shifted = lambda c, m: {p: i + 1 for p, i in ex._bpe_reference(c, m).items()}
    assert "the new ids are [257, 258, 259, 260]" in _verdict(ex.train_bpe, shifted)[1]


@pytest.mark.parametrize("wrong, words", [
    (lambda c, m: list(ex._bpe_reference(c, m)), "return the merges as a dict"),
    (lambda c, m: {(str(a), b): i for (a, b), i in ex._bpe_reference(c, m).items()},
     "one of yours is ('101', 115): 256"),
    (lambda c, m: {(a,): i for (a, b), i in ex._bpe_reference(c, m).items()}, "pair of token ids"),
    (lambda c, m: c[None], "your code raised KeyError"),
    (lambda c, m: None, "returned None: does it end without `return merges`?"),
    (not_attempted, "not attempted"),
])
def test_train_bpe_names_form_mistakes(wrong, words):
    passed, message = _verdict(ex.train_bpe, wrong)
    assert not passed and words in message, message


def test_train_bpe_case_description_shows_the_chunks_as_text():
    chunks, num_merges = ex.train_bpe.cases()[0]
    assert ex._bpe_describe((chunks, num_merges)) == ("chunks {'low': 1, ' low': 4, ' lower': 2, ' newest': 6, "
                                                      "' widest': 3}, num_merges = 10")


def test_train_bpe_cases_are_fixed_and_use_gives_the_learners_merges(capsys):
    assert [(dict(c), m) for c, m in ex.train_bpe.cases()] == [(dict(c), m) for c, m in ex.train_bpe.cases()]
    assert ex.train_bpe.use(_bpe_in_place) is _bpe_in_place
    assert ex.train_bpe.use(ex._bpe_variant(weighted=False)) is solutions.train_bpe
    assert "Using the course's train_bpe" in capsys.readouterr().out


def test_train_bpe_hints_stage_the_answer(capsys):
    exercise = ex.train_bpe
    exercise.hints_shown = 0
    exercise.hint()
    first = capsys.readouterr().out
    assert "Hint 1/4" in first and "not 1" in first and "max(" not in first
    for _ in range(3):
        exercise.hint()
    out = capsys.readouterr().out
    assert "Hint 4/4" in out and "solution()" in out
    exercise.hints_shown = 0
