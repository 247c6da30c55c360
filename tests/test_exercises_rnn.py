"""Notebook 07's exercises: each accepts its answer and equivalent ones, and names typical mistakes."""
import itertools

import numpy as np
import pytest
import torch

from nncourse import RNN
from nncourse.exercises import rnn as ex
from nncourse.exercises.solutions import rnn as solutions
from nncourse.rnn import embedding_backward, lstm_step_forward


def _not_attempted(*args):
    raise NotImplementedError


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# -- rnn_bptt --------------------------------------------------------------------------------------
def test_bptt_answer_equals_the_package_and_torch_autograd():
    N, T, D, H = 3, 7, 2, 4
    rng = np.random.default_rng(0)
    layer = RNN(D, H, seed=1)
    x, h0, R = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, T, H))
    hs = layer.forward(x, state=h0)
    layer.backward(R)
    dW_ih, dW_hh, db, dh0 = solutions.rnn_bptt(x, h0, hs, layer.params["weight_hh_l0"], R)
    module = layer.to_torch()
    h0_t = torch.from_numpy(h0[None].copy()).requires_grad_(True)
    out, _ = module(torch.from_numpy(x), h0_t)
    (out * torch.from_numpy(R)).sum().backward()
    for mine, package, autograd in [(dW_ih, layer.grads["weight_ih_l0"], module.weight_ih_l0.grad),
                                    (dW_hh, layer.grads["weight_hh_l0"], module.weight_hh_l0.grad),
                                    (db, layer.grads["bias_hh_l0"], module.bias_hh_l0.grad),
                                    (dh0, layer.dinitial_state, h0_t.grad[0])]:
        np.testing.assert_allclose(mine, package, atol=1e-12)
        np.testing.assert_allclose(mine, autograd.numpy(), atol=1e-12)


def test_bptt_accepts_the_answer_and_equivalent_forms(capsys):
    def with_step_kernel(x, h0, hs, W_hh, dhs):  # the package's step backward, summed over time
        from nncourse.rnn import rnn_step_backward

        N, T, H = hs.shape
        grads, dh = [0.0, 0.0, 0.0], np.zeros_like(h0)
        for t in reversed(range(T)):
            h_prev = h0 if t == 0 else hs[:, t - 1]
            cache = (x[:, t], h_prev, hs[:, t], np.zeros((H, x.shape[2])), W_hh)
            _, dh, *g = rnn_step_backward(dhs[:, t] + dh, cache)
            grads = [a + b for a, b in zip(grads, g)]
        return (*grads, dh)

    def all_dz_first(x, h0, hs, W_hh, dhs):  # the layer's way: the loop for dz only, products after
        N, T, H = hs.shape
        dz, dh = np.empty_like(hs), np.zeros_like(h0)
        for t in reversed(range(T)):
            dz[:, t] = (dhs[:, t] + dh) * (1 - hs[:, t] ** 2)
            dh = dz[:, t] @ W_hh
        h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
        return (np.einsum("nth,ntd->hd", dz, x), np.einsum("nth,ntk->hk", dz, h_prev), dz.sum(axis=(0, 1)),
                [row for row in dh])  # a list of rows is fine too

    for answer in (solutions.rnn_bptt, with_step_kernel, all_dz_first):
        assert ex.rnn_bptt.check(answer) == True
        assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, words", [
    (dict(accumulate=False), "one step's share only"),
    (dict(tanh=False), "skips the tanh"),
    (dict(carry=False), "arriving from step t + 1"),
    (dict(transpose=True), "through W_hh[j, k]"),
    (dict(h_now=True), "*previous* state"),
])
def test_bptt_names_each_typical_mistake(capsys, mistake, words):
    assert ex.rnn_bptt.check(ex._bptt_variant(**mistake)) == False
    out = capsys.readouterr().out
    assert words in out and "rnn_bptt.solution()" in out and "dz @ W_hh" not in out  # a nudge, not the fix


def test_bptt_names_shape_and_tuple_mistakes(capsys):
    assert not ex.rnn_bptt.check(lambda x, h0, hs, W_hh, dhs: solutions.rnn_bptt(x, h0, hs, W_hh, dhs)[:3])
    assert "return 4 values (dW_ih, dW_hh, db, dh0)" in capsys.readouterr().out
    assert not ex.rnn_bptt.check(lambda *a: (lambda g: (g[0].T, *g[1:]))(solutions.rnn_bptt(*a)))
    assert "'dW_ih' result has shape" in capsys.readouterr().out
    assert not ex.rnn_bptt.check(_not_attempted)
    assert "not attempted" in capsys.readouterr().out


def test_bptt_use_hands_back_the_learners_function_only_when_right(capsys):
    assert ex.rnn_bptt.use(solutions.rnn_bptt) is solutions.rnn_bptt
    assert ex.rnn_bptt.use(_not_attempted) is solutions.rnn_bptt
    assert "Using the course's rnn_bptt" in capsys.readouterr().out


# -- lstm_step -------------------------------------------------------------------------------------
def test_lstm_step_accepts_equivalent_answers(capsys):
    def exp_sigmoid(x, h_prev, c_prev, W_ih, W_hh, b):
        H = h_prev.shape[1]
        z = x @ W_ih.T + h_prev @ W_hh.T + b
        i, f, g, o = _sigmoid(z[:, :H]), _sigmoid(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), _sigmoid(z[:, 3 * H:])
        c = f * c_prev + i * g
        return [o * np.tanh(c), c]

    def package(*args):
        h, c, _ = lstm_step_forward(*args)
        return h, c

    for answer in (solutions.lstm_step, exp_sigmoid, package):
        assert ex.lstm_step.check(answer) == True
        assert "✓" in capsys.readouterr().out


def test_lstm_step_equals_torch():
    cell = torch.nn.LSTMCell(3, 2, dtype=torch.float64)
    W_ih, W_hh, b_ih, b_hh = (p.detach().numpy() for p in cell.parameters())
    x, h0, c0 = (np.random.default_rng(3).standard_normal(s) for s in [(4, 3), (4, 2), (4, 2)])
    h, c = solutions.lstm_step(x, h0, c0, W_ih, W_hh, b_ih + b_hh)
    h_t, c_t = cell(*(torch.from_numpy(a) for a in (x,)), (torch.from_numpy(h0), torch.from_numpy(c0)))
    np.testing.assert_allclose(h, h_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c, c_t.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("order", [p for p in itertools.permutations("ifgo") if p != tuple("ifgo")])
def test_lstm_step_names_every_wrong_gate_order(capsys, order):
    assert ex.lstm_step.check(ex._lstm_with_order(order)) == False
    out = capsys.readouterr().out
    assert f"in the order {', '.join(order)}" in out and "i, f, g, o" in out


def test_lstm_step_other_mistakes(capsys):
    assert not ex.lstm_step.check(ex._lstm_without_tanh_c)
    assert "squashed cell state" in capsys.readouterr().out
    assert not ex.lstm_step.check(lambda *a: solutions.lstm_step(*a)[0])
    assert "return 2 values as a tuple (h, c)" in capsys.readouterr().out
    assert not ex.lstm_step.check(lambda *a: a[99])
    assert "IndexError" in capsys.readouterr().out


# -- warm-ups --------------------------------------------------------------------------------------
def test_parameter_count_agrees_with_torch_and_names_mistakes(capsys):
    for d, h in [(3, 5), (64, 128)]:
        assert solutions.lstm_parameter_count(d, h) == sum(p.numel() for p in torch.nn.LSTM(d, h).parameters())
    assert ex.lstm_parameter_count.check(solutions.lstm_parameter_count)
    assert ex.lstm_parameter_count.check(lambda d, h: 4 * (h * d + h * h + 2 * h))
    capsys.readouterr()
    for wrong, words in [(lambda d, h: 4 * h * (d + h + 1), "two (bias_ih and bias_hh)"),
                         (lambda d, h: 4 * h * (d + h), "left out the biases"),
                         (lambda d, h: h * (d + h + 2), "one gate's worth"),
                         (lambda d, h: 4 * h * (d + 2), "recurrent weights")]:
        assert ex.lstm_parameter_count.check(wrong) == False
        assert words in capsys.readouterr().out


def test_cell_state_carry(capsys):
    assert ex.cell_state_carry.check(lambda f: np.prod(f, axis=0))
    assert ex.cell_state_carry.check(lambda f: np.exp(np.log(f).sum(axis=0)))  # the same product in logs
    capsys.readouterr()
    for wrong, words in [(lambda f: np.prod(f), "shape ()"),
                         (lambda f: f.sum(axis=0), "multiplies"),
                         (lambda f: f[-1], "one step's factor"),
                         (lambda f: f.mean(axis=0) ** len(f), "average gate")]:
        assert ex.cell_state_carry.check(wrong) == False
        assert words in capsys.readouterr().out


def test_cases_are_fixed():
    for exercise in (ex.rnn_bptt, ex.lstm_step, ex.cell_state_carry, ex.embedding_backward):
        first, second = exercise.cases(), exercise.cases()
        for a, b in zip(first, second):
            for u, v in zip(a, b):
                np.testing.assert_array_equal(u, v)


# -- embedding_backward ----------------------------------------------------------------------------
def test_embedding_backward_answer_equals_the_package_and_torch():
    for dout, ids, num_embeddings in ex.embedding_backward.cases():
        mine = solutions.embedding_backward(dout, ids, num_embeddings)
        np.testing.assert_array_equal(mine, embedding_backward(dout, (ids, (num_embeddings, dout.shape[-1]))))
        weight = torch.zeros(num_embeddings, dout.shape[-1], dtype=torch.float64, requires_grad=True)
        (torch.nn.functional.embedding(torch.from_numpy(ids), weight) * torch.from_numpy(dout)).sum().backward()
        np.testing.assert_allclose(mine, weight.grad.numpy(), atol=1e-12)


def test_embedding_backward_cases_have_repeats_unused_rows_and_several_shapes():
    cases = ex.embedding_backward.cases()
    assert np.unique(cases[0][1]).size == cases[0][1].size             # the first: every id once
    assert all(np.bincount(ids.ravel()).max() > 1 for _, ids, _ in cases[1:])
    assert any(np.unique(ids).size < v for _, ids, v in cases)          # some row nobody looked up
    assert {ids.ndim for _, ids, _ in cases} == {1, 2, 3}


def test_embedding_backward_accepts_equivalent_answers(capsys):
    def one_hot_product(dout, ids, num_embeddings):
        E = dout.shape[-1]
        return np.eye(num_embeddings)[ids].reshape(-1, num_embeddings).T @ dout.reshape(-1, E)

    def loop(dout, ids, num_embeddings):
        dW = np.zeros((num_embeddings, dout.shape[-1]))
        for k, g in zip(ids.ravel(), dout.reshape(-1, dout.shape[-1])):
            dW[k] += g
        return dW.tolist()  # a nested list is fine too

    def bincount(dout, ids, num_embeddings):
        flat = dout.reshape(-1, dout.shape[-1])
        return np.stack([np.bincount(ids.ravel(), weights=flat[:, e], minlength=num_embeddings)
                         for e in range(flat.shape[1])], axis=1)

    for answer in (solutions.embedding_backward, one_hot_product, loop, bincount):
        assert ex.embedding_backward.check(answer) == True
        assert "✓ embedding_backward: correct on all 4 test cases." in capsys.readouterr().out


def _assign(dout, ids, num_embeddings):
    dW = np.zeros((num_embeddings, dout.shape[-1]))
    dW[ids] = dout
    return dW


def _from_ones(dout, ids, num_embeddings):
    dW = np.ones((num_embeddings, dout.shape[-1]))
    np.add.at(dW, ids, dout)
    return dW


@pytest.mark.parametrize("wrong, words", [
    (ex._fancy_index_add, "id 1 appears 2 times in ids, so row 1 must add up the gradients of all 2 positions"),
    (_assign, "yours holds only one of them"),
    (lambda d, i, v: solutions.embedding_backward(d, i, v).T, "shape (4, 8), (E, num_embeddings)"),
    (lambda d, i, v: d.reshape(-1, d.shape[-1]), "shape (6, 4), one row per position"),
    (lambda d, i, v: d, "shape (2, 3, 4), one row per position"),
    (_from_ones, "row 4 of your dW is not zero, but id 4 is never looked up"),
    (ex._mean_per_id, "the mean of its id's gradients"),
    (lambda d, i, v: -solutions.embedding_backward(d, i, v), "wrong sign"),
    (lambda d, i, v: solutions.embedding_backward(d, i, v)[:-1], "shape (7, 4), expected (8, 4)"),
    (lambda d, i, v: np.add.at(np.zeros((v, d.shape[-1])), i, d), "returned None: does it end without `return dW`?"),
    (_not_attempted, "not attempted"),
])
def test_embedding_backward_names_typical_mistakes(capsys, wrong, words):
    assert ex.embedding_backward.check(wrong) == False
    out = capsys.readouterr().out
    assert words in out and "embedding_backward.solution()" in out and "np.add.at" not in out, out


def test_embedding_backward_repeated_id_mistake_fails_on_the_repeats_case(capsys):
    ex.embedding_backward.check(ex._fancy_index_add)
    out = capsys.readouterr().out
    assert "test case 2 of 4: dout (2, 4, 5), ids [[3, 1, 4, 1], [5, 9, 2, 6]], num_embeddings = 12" in out


def test_embedding_backward_hints_and_use(capsys):
    exercise = ex.embedding_backward
    exercise.hints_shown = 0
    exercise.hint()
    assert "Hint 1/3" in capsys.readouterr().out
    exercise.hint()
    exercise.hint()
    assert "np.add.at" in capsys.readouterr().out   # the last hint gives it
    exercise.hints_shown = 0
    assert exercise.use(solutions.embedding_backward) is solutions.embedding_backward
    assert exercise.use(ex._fancy_index_add) is solutions.embedding_backward
    assert "Using the course's embedding_backward" in capsys.readouterr().out
