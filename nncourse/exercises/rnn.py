"""Exercises of notebook 07 (recurrent networks and the LSTM).

* ``rnn_bptt`` (substantial): backpropagation through time; it then trains a character model.
* ``lstm_step``: one LSTM step, PyTorch's gate order; the LSTM cells after it use it.
* ``embedding_backward``: the embedding's gradient, a scatter-add over the ids (a repeated id sums);
  it then trains a bigram model, beside the buffered ``dW[ids] += dout`` that stalls.
* ``lstm_parameter_count``, ``cell_state_carry`` (warm-ups).

The expected answers come from the answers in ``nncourse.exercises.solutions.rnn``, which the
tests check against ``nncourse.rnn`` (the course's tested kernels) and PyTorch.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..rnn import rnn_step_forward
from . import Exercise
from .solutions import rnn as solutions


# -- the substantial one: backpropagation through time ---------------------------------------------
def _bptt_cases():
    rng = np.random.default_rng(1990)  # Elman's year
    cases = []
    for N, T, D, H in [(2, 4, 2, 3), (1, 7, 3, 4), (3, 10, 4, 5)]:
        x, h0 = rng.standard_normal((N, T, D)), 0.5 * rng.standard_normal((N, H))
        W_ih, W_hh, b = rng.normal(0, 0.6, (H, D)), rng.normal(0, 0.6, (H, H)), rng.normal(0, 0.3, H)
        hs, h = np.empty((N, T, H)), h0
        for t in range(T):
            h, _ = rnn_step_forward(x[:, t], h, W_ih, W_hh, b)
            hs[:, t] = h
        cases.append((x, h0, hs, W_hh, rng.standard_normal((N, T, H))))
    return cases


def _bptt_variant(*, accumulate=True, tanh=True, carry=True, transpose=False, h_now=False):
    """A BPTT with one typical mistake switched on."""

    def wrong(x, h0, hs, W_hh, dhs):
        N, T, H = hs.shape
        dW_ih, dW_hh, db = np.zeros((H, x.shape[2])), np.zeros((H, H)), np.zeros(H)
        dh_next = np.zeros_like(h0)
        for t in reversed(range(T)):
            h_prev = hs[:, t] if h_now else (hs[:, t - 1] if t > 0 else h0)
            dh = dhs[:, t] + dh_next if carry else dhs[:, t]
            dz = dh * (1 - hs[:, t] ** 2) if tanh else dh
            if accumulate:
                dW_ih, dW_hh, db = dW_ih + dz.T @ x[:, t], dW_hh + dz.T @ h_prev, db + dz.sum(axis=0)
            else:
                dW_ih, dW_hh, db = dz.T @ x[:, t], dz.T @ h_prev, dz.sum(axis=0)
            dh_next = dz @ (W_hh.T if transpose else W_hh)
        return dW_ih, dW_hh, db, dh_next

    return wrong


rnn_bptt = Exercise(
    "rnn_bptt", solution=solutions.rnn_bptt, cases=_bptt_cases, output_names=("dW_ih", "dW_hh", "db", "dh0"),
    hints=["Walk backwards, t = T-1 down to 0. The gradient reaching h_t has two sources: the output at "
           "step t (dhs[:, t]) and step t + 1, which used h_t as its h_prev.",
           "At each step, first go back through the tanh: h_t = tanh(z_t), so dz = dh * (1 - h_t**2). The "
           "same W_ih, W_hh and b serve every step: start their gradients at zero and add each step's share "
           "(dz.T @ x_t, dz.T @ h_{t-1}, dz summed over the batch).",
           "What step t sends back to h_{t-1} is dz @ W_hh; keep it for the next iteration. h_{t-1} is "
           "hs[:, t-1], and h0 when t = 0; what step 0 sends back is dh0."],
    mistakes=[(_bptt_variant(accumulate=False),
               "your weight gradients hold one step's share only: the same weights act at every step, so "
               "their gradient collects a share from each step."),
              (_bptt_variant(tanh=False),
               "the gradient skips the tanh: between h_t and the weights it must pass through the tanh's "
               "derivative."),
              (_bptt_variant(carry=False),
               "each step gets only the gradient of its own output: the gradient arriving from step t + 1 "
               "(which used h_t) is missing."),
              (_bptt_variant(transpose=True),
               "the gradient sent back to h_{t-1} goes through W_hh the wrong way round: the forward uses "
               "h_{t-1} @ W_hh.T - write one element out: h_t[n, j] depends on h_{t-1}[n, k] through "
               "W_hh[j, k]."),
              (_bptt_variant(h_now=True),
               "dW_hh pairs step t's gradient with h_t; W_hh multiplied the *previous* state.")])


# -- warm-ups --------------------------------------------------------------------------------------
GATES = ("i", "f", "g", "o")


def _lstm_step_cases():
    rng = np.random.default_rng(1997)  # Hochreiter & Schmidhuber
    cases = []
    for N, D, H in [(2, 3, 4), (1, 1, 1), (5, 2, 3)]:
        cases.append((rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H)),
                      rng.normal(size=(4 * H, D)), rng.normal(size=(4 * H, H)), rng.normal(size=4 * H)))
    return cases


def _lstm_with_order(order):
    """An LSTM step that reads the four blocks as ``order`` (e.g. ("f", "i", "g", "o"))."""

    def wrong(x, h_prev, c_prev, W_ih, W_hh, b):
        blocks = dict(zip(order, np.split(x @ W_ih.T + h_prev @ W_hh.T + b, 4, axis=1)))
        sig = lambda z: 0.5 * (1 + np.tanh(0.5 * z))  # noqa: E731
        c = sig(blocks["f"]) * c_prev + sig(blocks["i"]) * np.tanh(blocks["g"])
        return sig(blocks["o"]) * np.tanh(c), c

    return wrong


def _lstm_without_tanh_c(x, h_prev, c_prev, W_ih, W_hh, b):
    _, c = solutions.lstm_step(x, h_prev, c_prev, W_ih, W_hh, b)
    o = np.split(x @ W_ih.T + h_prev @ W_hh.T + b, 4, axis=1)[3]
    return 0.5 * (1 + np.tanh(0.5 * o)) * c, c  # h = o * c: the tanh of c left out


lstm_step = Exercise(
    "lstm_step", solution=solutions.lstm_step, cases=_lstm_step_cases, output_names=("h", "c"),
    hints=["One affine map gives all four gates at once: x @ W_ih.T + h_prev @ W_hh.T + b is (N, 4H). "
           "np.split(..., 4, axis=1) cuts it into four (N, H) blocks.",
           "The blocks come in PyTorch's order i, f, g, o; sigmoid for the three gates, tanh for the "
           "candidate g.",
           "c = f * c_prev + i * g, then h = o * tanh(c). Return (h, c)."],
    mistakes=[(_lstm_with_order(order),
               f"you read the four blocks in the order {', '.join(order)}; PyTorch stacks them as i, f, g, o.")
              for order in itertools.permutations(GATES) if order != GATES]
    + [(_lstm_without_tanh_c, "c is right, but h is not: the output gate multiplies a squashed cell state.")])


def _count_cases():
    return [(3, 5), (64, 128), (100, 1), (1, 100), (1, 1)]


lstm_parameter_count = Exercise(
    "lstm_parameter_count", solution=solutions.lstm_parameter_count, cases=_count_cases,
    hints=["Four gates, each with its own weights; count one gate, then multiply.",
           "One gate: a matrix for the input (hidden x input), one for the previous hidden state "
           "(hidden x hidden) and - in PyTorch - two bias vectors of length hidden."],
    mistakes=[(lambda d, h: 4 * h * (d + h + 1), "you counted one bias vector per gate; PyTorch keeps two "
                                                 "(bias_ih and bias_hh)."),
              (lambda d, h: 4 * h * (d + h), "you left out the biases."),
              (lambda d, h: h * (d + h + 2), "that is one gate's worth of parameters."),
              (lambda d, h: 4 * h * (d + 2), "you left out the recurrent weights (hidden x hidden per gate).")])


def _carry_cases():
    rng = np.random.default_rng(2000)  # Gers, Schmidhuber & Cummins: the forget gate
    return [(np.full((3, 2), 0.5),), (rng.uniform(0.8, 1.0, size=(50, 4)),), (rng.uniform(size=(7, 3)),)]


cell_state_carry = Exercise(
    "cell_state_carry", solution=solutions.cell_state_carry, cases=_carry_cases,
    hints=["Along c_t = f_t * c_{t-1} + ..., how does c_t change when c_{t-1} changes a little?",
           "Each step multiplies the gradient by that step's f_t, separately for each unit; chain T steps."],
    mistakes=[(lambda f: f.sum(axis=0), "you added the forget gates; the chain rule multiplies the factors of "
                                        "consecutive steps."),
              (lambda f: f[-1], "that is one step's factor; the gradient crosses every step back to c_0."),
              (lambda f: f.mean(axis=0) ** len(f), "an average gate to the power T is not the product of the "
                                                   "actual gates.")],
    rtol=1e-6)


# -- the embedding backward: a scatter-add ---------------------------------------------------------
def _embedding_cases():
    rng = np.random.default_rng(2003)  # Bengio et al., "A neural probabilistic language model"
    distinct = np.array([[0, 2, 5], [7, 1, 3]])           # (N, T) = (2, 3), every id once
    pi = np.array([[3, 1, 4, 1], [5, 9, 2, 6]])           # notebook 07's ids: 1 twice
    stream = rng.integers(0, 6, size=12)                  # (T,) = (12,): ids 0..5 of 7, many repeats, 6 unused
    cube = rng.integers(0, 4, size=(2, 2, 3))             # (N, T, K): any shape of ids
    return [(rng.standard_normal((2, 3, 4)), distinct, 8),
            (rng.standard_normal((2, 4, 5)), pi, 12),
            (rng.standard_normal((12, 3)), stream, 7),
            (rng.standard_normal((2, 2, 3, 2)), cube, 4)]


def _fancy_index_add(dout, ids, num_embeddings):
    """The classic bug: fancy-index += is buffered, so a repeated id's row keeps one gradient."""
    dW = np.zeros((num_embeddings, dout.shape[-1]))
    dW[ids] += dout
    return dW


def _mean_per_id(dout, ids, num_embeddings):
    counts = np.bincount(np.ravel(ids), minlength=num_embeddings)
    return solutions.embedding_backward(dout, ids, num_embeddings) / np.maximum(counts, 1)[:, None]


def _embedding_compare(got, want, case):
    dout, ids, num_embeddings = case
    if got is None:
        return ("your function returned None: does it end without `return dW`? (An update in place, such as "
                "dW[k] += g, returns nothing.)")
    try:
        got_arr = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        got_arr = None
    if got_arr is not None and got_arr.shape != want.shape:
        E = want.shape[1]
        if got_arr.shape == want.shape[::-1]:
            return (f"your dW has shape {got_arr.shape}, (E, num_embeddings); it has the table's shape "
                    f"{want.shape}: one row per id.")
        if got_arr.shape in {(ids.size, E), ids.shape + (E,)}:
            return (f"your dW has shape {got_arr.shape}, one row per position; it needs one row per id of the "
                    f"vocabulary, {want.shape}: the gradients of the positions that share an id add up in its row.")
    elif got_arr is not None and not np.allclose(got_arr, want, atol=1e-8, rtol=1e-6):
        counts = np.bincount(np.ravel(ids), minlength=num_embeddings)
        if np.allclose(got_arr, _fancy_index_add(dout, ids, num_embeddings), atol=1e-8, rtol=1e-6):
            k = int(np.argmax(counts))
            return (f"id {k} appears {counts[k]} times in ids, so row {k} must add up the gradients of all "
                    f"{counts[k]} positions that looked it up; yours holds only one of them (with repeated "
                    f"indices, dW[ids] += dout or dW[ids] = dout writes each row once: NumPy buffers it).")
        unused = np.flatnonzero((counts == 0) & (np.abs(got_arr).max(axis=1) > 1e-12))
        if unused.size:
            k = int(unused[0])
            return (f"row {k} of your dW is not zero, but id {k} is never looked up here: a row nobody looked up "
                    f"gets no gradient. Does dW start from zeros?")
    return embedding_backward.default_compare(got, want, case)   # a shape, the named mistake, sign, scale


def _describe_embedding(case):
    dout, ids, num_embeddings = case
    shown = " ".join(np.array2string(ids, separator=", ").split()) if ids.size <= 12 else f"of shape {ids.shape}"
    return f"dout {dout.shape}, ids {shown}, num_embeddings = {num_embeddings}"


embedding_backward = Exercise(
    "embedding_backward", solution=solutions.embedding_backward, cases=_embedding_cases,
    compare=_embedding_compare, describe=_describe_embedding,
    hints=["dW has the table's shape (num_embeddings, E). Position p looked up row ids[p], so its gradient "
           "dout[p] belongs in row ids[p]; rows nobody looked up get zero.",
           "An id that appears at several positions gets the sum of all their gradients. A loop over the "
           "positions does it: flatten ids to (P,) and dout to (P, E), then dW[ids[p]] += dout[p].",
           "In one line: np.add.at(dW, ids, dout) adds without buffering, so repeated ids accumulate "
           "(dW[ids] += dout does not)."],
    mistakes=[(_mean_per_id, "each row holds the mean of its id's gradients; an id looked up at several "
                             "positions gets their sum.")])
