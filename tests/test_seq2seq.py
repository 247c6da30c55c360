"""Notebook 07's later sections: embeddings, truncated BPTT, sequence to sequence with attention, greedy/beam search."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nncourse.rnn import Embedding, embedding_backward, embedding_forward
from nncourse.seq2seq import beam_search, cross_attention, greedy_search
from nncourse.sequence_tasks import delayed_echo, reverse_digits

torch.set_num_threads(1)


# --- embeddings ---------------------------------------------------------------------------------

def test_embedding_is_one_hot_times_matrix_and_matches_torch():
    layer = Embedding(7, 3, seed=0)
    ids = np.array([[0, 6, 6], [2, 2, 2]])
    out = layer.forward(ids)
    assert out.shape == (2, 3, 3)
    np.testing.assert_allclose(out, np.eye(7)[ids] @ layer.params["weight"])
    module = layer.to_torch()
    torch_out = module(torch.from_numpy(ids))
    np.testing.assert_allclose(out, torch_out.detach().numpy())

    dout = np.random.default_rng(1).standard_normal(out.shape)
    assert layer.backward(dout) is None  # integer ids have no gradient
    (torch_out * torch.from_numpy(dout)).sum().backward()
    np.testing.assert_allclose(layer.grads["weight"], module.weight.grad.numpy())
    # repeated ids sum: row 2 got three gradients, rows never used got none
    np.testing.assert_allclose(layer.grads["weight"][2], dout[1].sum(axis=0))
    assert not layer.grads["weight"][[1, 3, 4, 5]].any()


def test_embedding_kernels_are_a_scatter_add():
    weight = np.arange(12.0).reshape(4, 3)
    out, cache = embedding_forward(np.array([1, 1, 3]), weight)
    np.testing.assert_array_equal(out, weight[[1, 1, 3]])
    dweight = embedding_backward(np.ones((3, 3)), cache)
    np.testing.assert_array_equal(dweight[:, 0], [0, 2, 0, 1])


def test_embedding_rejects_bad_ids_and_backward_first():
    layer = Embedding(5, 2)
    with pytest.raises(ValueError, match="0 .. 4"):
        layer.forward(np.array([0, 5]))
    with pytest.raises(ValueError, match="integer ids"):
        layer.forward(np.array([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="before forward"):
        Embedding(5, 2).backward(np.zeros((1, 2)))
    layer.forward(np.array([[1, 2]]))
    with pytest.raises(ValueError, match="shape of the forward output"):
        layer.backward(np.zeros((2, 2)))


# --- tasks ---------------------------------------------------------------------------------------

def test_delayed_echo_targets_and_errors():
    x, y = delayed_echo(3, 20, 4, num_symbols=5, seed=0)
    assert x.shape == y.shape == (3, 20) and x.dtype == y.dtype == np.int64
    assert (y[:, :4] == -1).all() and (y[:, 4:] == x[:, :-4]).all()
    assert set(np.unique(x)) <= set(range(5))
    np.testing.assert_array_equal(delayed_echo(3, 20, 4, seed=7)[0], delayed_echo(3, 20, 4, seed=7)[0])
    with pytest.raises(ValueError, match="lag"):
        delayed_echo(2, 5, 5)
    with pytest.raises(ValueError, match="num_symbols"):
        delayed_echo(2, 5, 1, num_symbols=1)


def test_reverse_digits_and_errors():
    source, target = reverse_digits(4, 6, seed=0)
    assert source.shape == target.shape == (4, 6)
    np.testing.assert_array_equal(target, source[:, ::-1])
    assert source.min() >= 0 and source.max() <= 9
    with pytest.raises(ValueError, match="length"):
        reverse_digits(4, 0)
    with pytest.raises(ValueError, match="num_digits"):
        reverse_digits(4, 3, num_digits=1)


# --- the attention step --------------------------------------------------------------------------

def test_cross_attention_matches_torch_and_rows_sum_to_one():
    rng = np.random.default_rng(0)
    q, kv = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 7, 8))
    context, weights = cross_attention(q, kv)
    assert context.shape == (2, 5, 8) and weights.shape == (2, 5, 7)
    np.testing.assert_allclose(weights.sum(-1), 1.0)
    expected = F.scaled_dot_product_attention(torch.from_numpy(q), torch.from_numpy(kv), torch.from_numpy(kv))
    np.testing.assert_allclose(context, expected.numpy(), atol=1e-12)
    # stable for huge scores
    assert np.isfinite(cross_attention(1e4 * q, kv)[0]).all()


def test_cross_attention_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="share"):
        cross_attention(np.zeros((5, 8)), np.zeros((7, 4)))
    with pytest.raises(ValueError, match="share"):
        cross_attention(np.zeros((2, 5, 8)), np.zeros((3, 7, 8)))


# --- greedy and beam search on a known model -----------------------------------------------------

A, B, EOS, BOS = 0, 1, 2, 3


def markov_step(table):
    """A step function whose next-token log-probabilities depend only on the last token."""
    log_table = np.log(table)

    def step(tokens, state):
        return log_table[np.asarray(tokens)], state
    return step


def test_beam_finds_the_sequence_greedy_misses():
    table = np.full((4, 3), 1e-9)
    table[BOS] = [0.6, 0.4, 1e-9]       # greedy takes A ...
    table[A] = [0.3, 0.3, 0.4]          # ... then the best it can do is A EOS: 0.24
    table[B] = [0.05, 0.05, 0.9]        # B EOS: 0.36
    table /= table.sum(axis=1, keepdims=True)
    step = markov_step(table)
    state = np.zeros(1)
    greedy_tokens, greedy_lp = greedy_search(step, state, bos=BOS, eos=EOS, max_length=5)
    beam_tokens, beam_lp = beam_search(step, state, bos=BOS, eos=EOS, beam_width=2, max_length=5)
    assert greedy_tokens == [A] and math.isclose(greedy_lp, math.log(0.6 * 0.4), rel_tol=1e-6)
    assert beam_tokens == [B] and math.isclose(beam_lp, math.log(0.4 * 0.9), rel_tol=1e-6)
    # width 1 is greedy
    assert beam_search(step, state, bos=BOS, eos=EOS, beam_width=1, max_length=5) == (greedy_tokens, greedy_lp)


@pytest.mark.parametrize("seed", range(5))
def test_wide_beam_is_exhaustive_search(seed):
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.ones(3), size=4)   # rows: A, B, EOS (unused), BOS
    step = markov_step(table)
    max_length = 4
    best = -np.inf
    for length in range(1, max_length + 1):     # every sequence of up to max_length tokens
        for seq in itertools.product([A, B, EOS], repeat=length):
            if EOS in seq[:-1]:
                continue
            if seq[-1] != EOS and length < max_length:
                continue                        # unfinished sequences count only at max_length
            lp, prev = 0.0, BOS
            for token in seq:
                lp += math.log(table[prev, token])
                prev = token
            best = max(best, lp)
    _, beam_lp = beam_search(step, np.zeros(1), bos=BOS, eos=EOS, beam_width=50, max_length=max_length)
    assert math.isclose(beam_lp, best, rel_tol=1e-9)
    _, greedy_lp = greedy_search(step, np.zeros(1), bos=BOS, eos=EOS, max_length=max_length)
    assert beam_lp >= greedy_lp - 1e-12


def test_search_argument_errors():
    step = markov_step(np.full((4, 3), 1 / 3))
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(step, np.zeros(1), bos=BOS, eos=EOS, beam_width=0, max_length=3)
    with pytest.raises(ValueError, match="max_length"):
        greedy_search(step, np.zeros(1), bos=BOS, eos=EOS, max_length=0)


# --- the PyTorch models ----------------------------------------------------------------------------

def test_seq2seq_shapes_attention_and_errors():
    from nncourse.at_scale.seq2seq import Seq2Seq, teacher_forcing_pair

    torch.manual_seed(0)
    source, target = reverse_digits(3, 5, seed=0)
    decoder_input, labels = teacher_forcing_pair(target, bos=10, eos=11)
    assert decoder_input[:, 0].eq(10).all() and labels[:, -1].eq(11).all()
    assert torch.equal(decoder_input[:, 1:], labels[:, :-1])
    for attention in (False, True):
        model = Seq2Seq(hidden_size=16, attention=attention)
        logits = model(torch.from_numpy(source), decoder_input)
        assert logits.shape == (3, 6, 12)
        if attention:
            assert model.last_attention.shape == (3, 6, 5)
            torch.testing.assert_close(model.last_attention.sum(-1), torch.ones(3, 6))
            # the model's attention is nncourse.seq2seq.cross_attention of its own states
            with torch.no_grad():
                enc, first = model.encode(torch.from_numpy(source))
                dec, _ = model.decoder(model.embedding(decoder_input), first)
            _, weights = cross_attention(dec.double().numpy(), enc.double().numpy())
            np.testing.assert_allclose(weights, model.last_attention.detach().numpy(), atol=1e-5)
        else:
            assert model.last_attention is None
    with pytest.raises(ValueError, match="0 .. 11"):
        model(torch.tensor([[12]]), decoder_input[:1])
    with pytest.raises(ValueError, match="int64"):
        model(torch.zeros(2, 3), decoder_input[:2])


def test_attention_model_learns_short_reversals_and_decoders_agree():
    from nncourse.at_scale.seq2seq import (Seq2Seq, beam_decode, exact_match, greedy_decode, step_function,
                                           train_reversal)

    torch.manual_seed(0)
    model = Seq2Seq(hidden_size=32, attention=True)
    history = train_reversal(model, lengths=(2, 4), steps=400, batch_size=32, lr=1e-2, seed=0)
    assert np.mean(history.losses[-20:]) < 0.3 * np.mean(history.losses[:20])
    source, target = reverse_digits(100, 4, seed=99)
    predicted, logprob = greedy_decode(model, source)
    assert exact_match(predicted, target, eos=model.eos).mean() > 0.6  # 0.77-0.89 over seeds 0-2
    for i in range(5):  # the one-sequence step function gives the batched greedy answer
        step, state = step_function(model, source[i])
        tokens, lp = greedy_search(step, state, bos=model.bos, eos=model.eos, max_length=5)
        assert tokens == [t for t in predicted[i].tolist() if t != model.eos]
        assert math.isclose(lp, logprob[i], abs_tol=1e-4)
        assert beam_decode(model, source[i], beam_width=3)[1] >= lp - 1e-4


def test_exact_match_needs_the_end_token():
    from nncourse.at_scale.seq2seq import exact_match

    target = np.array([[1, 2], [3, 4], [5, 6]])
    predicted = np.array([[1, 2, 11], [3, 4, 4], [5, 7, 11]])
    np.testing.assert_array_equal(exact_match(predicted, target, eos=11), [True, False, False])
    assert not exact_match(predicted[:, :2], target, eos=11).any()


def test_train_reversal_rejects_bad_lengths():
    from nncourse.at_scale.seq2seq import Seq2Seq, train_reversal

    with pytest.raises(ValueError, match="lengths"):
        train_reversal(Seq2Seq(hidden_size=8), lengths=(5, 3), steps=1)


def test_truncated_bptt_learns_inside_the_window_only():
    from nncourse.at_scale.rnn import EchoLSTM, train_truncated_bptt

    accuracy = {}
    for lag in (2, 8):
        x, y = delayed_echo(32, 5 * 150, lag, seed=0)
        torch.manual_seed(0)
        model = EchoLSTM(num_symbols=4, hidden_size=16)
        losses = train_truncated_bptt(model, x, y, window=5)
        assert len(losses) == 150
        x_test, y_test = delayed_echo(50, 100, lag, seed=1)
        with torch.no_grad():
            predicted = model(torch.from_numpy(x_test))[0].argmax(-1).numpy()
        accuracy[lag] = (predicted == y_test)[:, lag:].mean()
    assert accuracy[2] > 0.9, accuracy   # inside the 5-step window
    assert accuracy[8] < 0.35, accuracy  # beyond it: no gradient links cause and target


def test_truncated_bptt_detaches_the_state():
    """The gradient of a window's loss does not reach the previous window's parameters' use:
    with the carried state detached, the loss gradient equals that of a run starting from a
    constant state with the same values."""
    from nncourse.at_scale.rnn import EchoLSTM

    torch.manual_seed(0)
    model = EchoLSTM(hidden_size=8)
    x, y = (torch.from_numpy(a) for a in delayed_echo(2, 10, 1, seed=0))
    _, state = model(x[:, :5])
    state = tuple(s.detach() for s in state)
    logits, _ = model(x[:, 5:], state)
    loss = F.cross_entropy(logits.flatten(0, 1), y[:, 5:].flatten())
    grads = torch.autograd.grad(loss, list(model.parameters()))
    logits2, _ = model(x[:, 5:], tuple(s.clone() for s in state))
    grads2 = torch.autograd.grad(F.cross_entropy(logits2.flatten(0, 1), y[:, 5:].flatten()), list(model.parameters()))
    for g, g2 in zip(grads, grads2):
        torch.testing.assert_close(g, g2)


def test_embedding_gradcheck():
    """The embedding layer's gradient against finite differences, through a loss on its output."""
    layer = Embedding(6, 4, seed=0)
    ids = np.array([[1, 1, 5], [0, 3, 1]])
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((2, 3, 4))

    def loss(table):
        return float((table[ids] * weights).sum())

    layer.forward(ids)
    layer.backward(weights)
    numeric = np.zeros_like(layer.params["weight"])
    table = layer.params["weight"].copy()
    for index in np.ndindex(table.shape):
        plus, minus = table.copy(), table.copy()
        plus[index] += 1e-5
        minus[index] -= 1e-5
        numeric[index] = (loss(plus) - loss(minus)) / 2e-5
    np.testing.assert_allclose(layer.grads["weight"], numeric, atol=1e-7)
