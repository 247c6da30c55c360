"""Recurrent networks from scratch: the Elman RNN and the LSTM, one step and a whole sequence (notebook 07).

One step first, because that is the idea:

* :func:`rnn_step_forward`: ``h_t = tanh(x_t W_ih^T + h_{t-1} W_hh^T + b)``
* :func:`lstm_step_forward`: four gates from the same affine map, in PyTorch's order i, f, g, o::

      i, f, o = sigmoid(.), g = tanh(.)      (input gate, forget gate, output gate, candidate)
      c_t = f * c_{t-1} + i * g              (the cell state: a sum, not a squashing)
      h_t = o * tanh(c_t)

  each beside its ``*_backward``, which inverts it one step back in time.

Then the layers :class:`RNN`, :class:`LSTM` (and :class:`GRU`) run the step over a batch-first sequence
x (N, T, D) -> hidden states (N, T, H) and backpropagate through time (BPTT). They follow the
layer protocol of :mod:`nncourse.layers`, with parameters named and laid out like
``torch.nn.RNN`` / ``torch.nn.LSTM`` (``weight_ih_l0`` (G*H, D), ``weight_hh_l0`` (G*H, H),
``bias_ih_l0``, ``bias_hh_l0`` (G*H,), G = 1 for the RNN, 4 for the LSTM, 3 for the GRU), so
``to_torch()`` is a ``batch_first=True`` module with the same weights and outputs.

Characters and words enter as integer ids: :class:`Embedding` (with the kernels
:func:`embedding_forward` / :func:`embedding_backward`) turns them into vectors - a row lookup,
the same numbers as a one-hot vector times the matrix, and a scatter-add backwards.

Speed: only ``h_{t-1} W_hh^T`` must wait for the previous step. That is the one thing a
recurrent network cannot parallelise over time - and why transformers (notebook 08) replaced it
for long texts. Everything else can be batched: the RNN and the GRU do the input projection of
all T steps as one matrix product before the loop and the weight gradients as one product after
it. The LSTM runs :func:`lstm_sequence_forward` / :func:`lstm_sequence_backward`, the step
kernels' arithmetic arranged for speed (the comment above them says how; tests check them
against a loop of the step kernels and against PyTorch).
"""
from __future__ import annotations

import functools
import math
import os
import threading

import numpy as np

from .activations import sigmoid
from .layers import Layer, _torch_dtype, load_into_torch
from .validation import as_array, check_last_dim, check_positive_int


# --------------------------------------------------------------------------------------------
# One step: pure kernels, written like the math (cs231n's ``*_forward -> (out, cache)`` pattern)
# --------------------------------------------------------------------------------------------
# Weights as in PyTorch: W_ih (G*H, D), W_hh (G*H, H); one bias b (G*H,) - PyTorch keeps two,
# bias_ih + bias_hh, whose sum is all the math needs and whose gradients are both db.


def rnn_step_forward(x, h_prev, W_ih, W_hh, b):
    """h = tanh(x W_ih^T + h_prev W_hh^T + b). x (N, D), h_prev (N, H) -> h (N, H), cache."""
    h = np.tanh(x @ W_ih.T + h_prev @ W_hh.T + b)
    return h, (x, h_prev, h, W_ih, W_hh)


def rnn_step_backward(dh, cache):
    """dh (N, H), the gradient reaching h -> dx, dh_prev, dW_ih, dW_hh, db.

    ``dz = dh * (1 - h^2)`` is the gradient at the input of the tanh; every other gradient is a
    matrix product with it. ``dh_prev = dz W_hh``: this product, repeated T times, is what
    vanishes or explodes.
    """
    x, h_prev, h, W_ih, W_hh = cache
    dz = dh * (1.0 - h**2)
    return dz @ W_ih, dz @ W_hh, dz.T @ x, dz.T @ h_prev, dz.sum(axis=0)


def lstm_step_forward(x, h_prev, c_prev, W_ih, W_hh, b):
    """One LSTM step. x (N, D), h_prev, c_prev (N, H) -> h, c (N, H), cache.

    The four row blocks of W_ih (4H, D), W_hh (4H, H) and b (4H,) are, in PyTorch's order, the
    input gate i, forget gate f, candidate g and output gate o.
    """
    i, f, g, o = np.split(x @ W_ih.T + h_prev @ W_hh.T + b, 4, axis=1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (x, h_prev, c_prev, i, f, g, o, c, W_ih, W_hh)


def lstm_step_backward(dh, dc, cache):
    """dh (N, H): gradient reaching h_t; dc (N, H): gradient reaching c_t from step t + 1.

    Returns dx, dh_prev, dc_prev, dW_ih, dW_hh, db. Note ``dc_prev = dc * f``: the cell state
    passes its gradient back multiplied only by the forget gate - no weight matrix, no squashing
    derivative - which is why an LSTM can carry a signal over many steps.
    """
    x, h_prev, c_prev, i, f, g, o, c, W_ih, W_hh = cache
    tanh_c = np.tanh(c)
    dc = dc + dh * o * (1.0 - tanh_c**2)  # c_t reaches the loss directly and through h_t
    dgates = np.concatenate([
        dc * g * i * (1.0 - i),       # input gate (sigmoid' = i (1 - i))
        dc * c_prev * f * (1.0 - f),  # forget gate
        dc * i * (1.0 - g**2),        # candidate (tanh' = 1 - g^2)
        dh * tanh_c * o * (1.0 - o),  # output gate
    ], axis=1)  # (N, 4H)
    return (dgates @ W_ih, dgates @ W_hh, dc * f, dgates.T @ x, dgates.T @ h_prev,
            dgates.sum(axis=0))


# --------------------------------------------------------------------------------------------
# The LSTM over a whole sequence, fast: what the LSTM layer runs
# --------------------------------------------------------------------------------------------
# The same arithmetic as lstm_step_forward / lstm_step_backward in a loop over t (tests/test_rnn.py
# checks the two against each other and against torch.nn.LSTM), arranged for speed. Inside the
# loop NumPy costs about a microsecond per call plus the work, and a call on a strided slice (one
# gate's H columns of an (N, 4H) array) two or more times as much as on a contiguous one. So:
#
# * column layout, as in the math (z = W h + ...): a step's gates are one (4H, N) array, a column
#   per sequence of the batch, and each gate is a contiguous (H, N) block of it;
# * one matrix product per step, z_t = [W_hh W_ih b] [h_{t-1}; x_t; 1]: the input projection and
#   the bias ride along with the recurrence (the x_t and 1 rows are filled in before the loop);
# * gate blocks reordered o, i, f, g: the three sigmoids are one contiguous slab, and so are the
#   three blocks that the cell-state gradient multiplies (i, f, g);
# * one exp for all four gates: sigmoid(z) = 1 / (1 + e^-z) and tanh(z) = 2 sigmoid(2z) - 1, with the
#   rows of o, i, f scaled by -1 and those of g by -2 beforehand (exact: powers of two). An exp
#   costs about half a tanh;
# * backward: the local derivatives of all steps at once before the loop; every weight gradient in one
#   product (4H, T*N) @ (T*N, H + D + 1), and dx in another - on two cores in eight such products, one
#   per eighth of the steps, the later ones' on the second core while the loop (which runs from the
#   last step back) goes on with the earlier steps: they need nothing but the finished dz. Only the
#   first eighth's products are left after the loop;
# * arrays written in place into buffers kept between calls (``work``), rather than fresh arrays of
#   a few MB on every call, which the operating system may have to map (page fault by page fault)
#   anew each time;
# * on two cores, a large batch runs as two halves side by side, each in its own thread on one BLAS
#   thread (NumPy releases the GIL in its products and ufuncs), as the convolution does. A small one
#   does not: its many small calls spend about as much time handing the GIL back and forth as the
#   second core saves.

_FAST_GATES = [3, 0, 1, 2]  # the fast kernels' gate blocks o, i, f, g, as indices into PyTorch's i, f, g, o
_PYTORCH_GATES = [1, 2, 3, 0]  # and back


def _gate_blocks(m, H, order):
    """The four (H, ...) row blocks of m (4H, ...) in the given order."""
    return m.reshape(4, H, *m.shape[1:])[order].reshape(m.shape)


@functools.cache
def _blas_controller():
    """threadpoolctl's handle on the loaded BLAS libraries (finding them takes milliseconds: once)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread():
    """A context in which NumPy's BLAS uses one thread, for the loops over time: a product as small as
    one step's, (4H, H + D + 1) x (H + D + 1, N), finishes before a second thread would have helped,
    and on a busy machine waiting for that thread can cost ten times the product."""
    return _blas_controller().limit(limits=1, user_api="blas")


@functools.cache
def _background_thread():
    """One thread beside the caller's, made on first use, for work split in two (the convolution's and
    the LSTM's halves, the LSTM backward's weight products, the gradient-through-time widget's
    eigen-solves): NumPy releases the GIL in its products,
    copies and LAPACK calls, so on two cores the two halves run at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="nncourse")


def _on_background_thread() -> bool:
    return threading.current_thread().name.startswith("nncourse")  # _background_thread's prefix


def _second_core_free() -> bool:
    """Can the caller hand work to :func:`_background_thread` and have it run at the same time? Two or
    more cores, and not called from that thread itself (it would wait for itself forever)."""
    return (os.cpu_count() or 1) >= 2 and not _on_background_thread()


def _split_in_two(N: int, threads, *, large: bool) -> bool:
    """Run a batch of N as two halves side by side, each in its own thread on one BLAS thread (the fast
    convolution and LSTM kernels)? ``threads``: 1 or 2, or None: two where :func:`_second_core_free`
    and the batch is ``large`` enough; never from the background thread itself."""
    if threads not in (None, 1, 2):
        raise ValueError(f"threads must be None, 1 or 2, got {threads!r}")
    if threads is None:
        return _second_core_free() and N >= 4 and large
    return threads == 2 and N >= 2 and not _on_background_thread()


def _buffer(work, name, shape, dtype):
    """``work[name]``, (re)allocated when its shape or dtype changed."""
    buf = work.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = work[name] = np.empty(shape, dtype)
    return buf


def _two_halves(N: int, H: int, threads) -> bool:
    """Run the LSTM's batch as two halves side by side (:func:`_split_in_two`)? With ``threads=None``,
    only a batch whose steps' calls are large enough to pay for handing the GIL between the threads."""
    return _split_in_two(N, threads, large=N * H >= 2 ** 13)


def lstm_sequence_forward(x, h0, c0, W_ih, W_hh, b, work=None, threads=None):
    """:func:`lstm_step_forward` for t = 1..T, fast (notebook 07).

    x (N, T, D), h0 and c0 (N, H), W_ih (4H, D), W_hh (4H, H), b (4H,) (gate blocks in PyTorch's
    order i, f, g, o), all of one float dtype -> hs (N, T, H) (a new array), cache.
    ``work``: a dict of buffers that this call fills and the next call overwrites (the cache and
    the backward use them, so backward must come before the next forward on the same ``work``; a
    stale cache raises RuntimeError). ``threads``: see :func:`_two_halves` - with two, each half of
    the batch runs in its own thread on one BLAS thread, and backward does the same.
    """
    work = {} if work is None else work
    N, T, _ = x.shape
    H = h0.shape[1]
    if not _two_halves(N, H, threads):
        return _forward(x, h0, c0, W_ih, W_hh, b, work)
    halves = work.setdefault("halves", ({}, {}))
    half = N // 2
    hs = np.empty((N, T, H), x.dtype)  # each half writes its sequences
    with _one_blas_thread():
        first = _background_thread().submit(_forward, x[:half], h0[:half], c0[:half], W_ih, W_hh, b, halves[0],
                                            hs[:half])
        _, cache_b = _forward(x[half:], h0[half:], c0[half:], W_ih, W_hh, b, halves[1], hs[half:])
        _, cache_a = first.result()
    return hs, {"halves": (cache_a, cache_b)}


def _forward(x, h0, c0, W_ih, W_hh, b, work, hs=None):
    """:func:`lstm_sequence_forward` on one thread, writing hs (N, T, H) into ``hs`` if given."""
    N, T, D = x.shape
    H = h0.shape[1]
    K = H + D + 1
    dtype = x.dtype
    W = _buffer(work, "W", (4 * H, K), dtype)  # [W_hh W_ih b], gate blocks o, i, f, g
    for cols, m in ((slice(0, H), W_hh), (slice(H, H + D), W_ih), (H + D, b)):
        W[:, cols] = _gate_blocks(m, H, _FAST_GATES)
    scale = np.full((4 * H, 1), -1.0, dtype)
    scale[3 * H:] = -2.0
    W_scaled = np.multiply(W, scale, out=_buffer(work, "W_scaled", W.shape, dtype))  # -z for o, i, f; -2z for g
    hx = _buffer(work, "hx", (T + 1, K, N), dtype)  # hx[t]: the column [h_{t-1}; x_t; 1] of every sequence
    hx[0, :H] = h0.T
    np.copyto(hx[:T, H:H + D], x.transpose(1, 2, 0))
    hx[:, H + D] = 1.0
    acts = _buffer(work, "acts", (T, 4 * H, N), dtype)  # the gates o, i, f, g of every step
    cs = _buffer(work, "cs", (T + 1, H, N), dtype)      # c_0 .. c_T
    tanh_cs = _buffer(work, "tanh_cs", (T, H, N), dtype)
    ig = _buffer(work, "ig", (H, N), dtype)
    cs[0] = c0.T
    with np.errstate(over="ignore"), _one_blas_thread():  # e^-z = inf for z < -88 (float32): 1 / (1 + inf) = 0
        for t in range(T):
            a = acts[t]
            np.matmul(W_scaled, hx[t], out=a)
            np.exp(a, out=a)
            a += 1.0
            np.reciprocal(a, out=a)      # sigmoid(z) for o, i, f; sigmoid(2z) for g
            o, i, f, g = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            g *= 2.0
            g -= 1.0                     # tanh(z) = 2 sigmoid(2z) - 1
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)
            np.multiply(i, g, out=ig)
            c += ig                      # c_t = f c_{t-1} + i g
            np.tanh(c, out=tanh_cs[t])
            np.multiply(o, tanh_cs[t], out=hx[t + 1, :H])  # h_t = o tanh(c_t)
    work["forward_call"] = call = object()  # what backward checks: no later forward has refilled the buffers
    cache = {"work": work, "call": call, "shape": (N, T, D, H)}
    if hs is None:
        return hx[1:, :H].transpose(2, 0, 1).copy(), cache  # (T, H, N) -> (N, T, H)
    np.copyto(hs, hx[1:, :H].transpose(2, 0, 1))
    return hs, cache


def _check_fresh(cache):
    """Raise if a later forward has refilled the buffers that ``cache`` refers to."""
    for part in cache.get("halves", (cache,)):
        if part["work"].get("forward_call") is not part["call"]:
            raise RuntimeError("lstm_sequence_backward: this cache's buffers were refilled by a later "
                               "lstm_sequence_forward with the same work dict; run backward before the next forward")


def _columns(cache, name, index=slice(None)):
    """``work[name][index]`` of the forward (and backward) behind ``cache``, an array (..., N) in column
    layout; with two halves, the halves' joined along the batch (last) axis (a new array)."""
    if "halves" in cache:
        return np.concatenate([_columns(part, name, index) for part in cache["halves"]], axis=-1)
    return cache["work"][name][index]


def lstm_sequence_backward(dout, dh_T, dc_T, cache):
    """:func:`lstm_step_backward` for t = T..1 (backpropagation through time), fast (notebook 07).

    dout (N, T, H): the gradient reaching each h_t from outside the layer; dh_T, dc_T (N, H): extra
    gradients on the final state. Returns dx (N, T, D), dh0, dc0 (N, H), dW_ih (4H, D),
    dW_hh (4H, H), db (4H,) (gate order i, f, g, o), then dh and dc (T, H, N): the gradient that
    reached h_t and c_t at every step, in column layout (buffers the next call overwrites; with two
    halves, new arrays). On two cores the weight-gradient products of the later steps run on the
    background thread while the loop goes on (the comment above ``_FAST_GATES`` says why).
    """
    _check_fresh(cache)
    if "halves" not in cache:
        return _backward(dout, dh_T, dc_T, cache, overlap=_second_core_free())
    cache_a, cache_b = cache["halves"]
    half = cache_a["shape"][0]
    dtype = cache_a["work"]["acts"].dtype
    dx = np.empty(dout.shape[:2] + cache_a["shape"][2:3], dtype)  # (N, T, D): each half writes its sequences
    with _one_blas_thread():
        first = _background_thread().submit(_backward, dout[:half], dh_T[:half], dc_T[:half], cache_a, dx[:half])
        b = _backward(dout[half:], dh_T[half:], dc_T[half:], cache_b, dx[half:])
        a = first.result()
    return (dx, np.concatenate([a[1], b[1]]), np.concatenate([a[2], b[2]]), a[3] + b[3], a[4] + b[4], a[5] + b[5],
            np.concatenate([a[6], b[6]], axis=2), np.concatenate([a[7], b[7]], axis=2))


def _step_products(dz, hx, W_in, dx_rows, work, chunk):
    """The weight gradients [dW_hh dW_ih db] (4H, H + D + 1), gate blocks o, i, f, g, summed over the
    S steps of dz (S, 4H, N) and hx (S, H + D + 1, N), as one product (4H, S*N) @ (S*N, H + D + 1);
    writes those steps' dx = dz^T W_in into ``dx_rows`` (S, N, D). ``chunk`` names its buffers in ``work``."""
    S, G, N = dz.shape
    dz_cols = _buffer(work, f"dz_cols{chunk}", (G, S, N), dz.dtype)  # column s*N + n: step s of sequence n
    np.copyto(dz_cols, dz.transpose(1, 0, 2))
    dz_cols = dz_cols.reshape(G, S * N)
    hx_rows = _buffer(work, f"hx_rows{chunk}", (S, N, hx.shape[1]), dz.dtype)
    np.copyto(hx_rows, hx.transpose(0, 2, 1))
    np.matmul(dz_cols.T, W_in, out=dx_rows.reshape(S * N, -1))
    return dz_cols @ hx_rows.reshape(S * N, -1)


def _backward(dout, dh_T, dc_T, cache, dx=None, overlap=False):
    """:func:`lstm_sequence_backward` on one thread (``overlap``: the later steps' products on the background
    thread), writing dx (N, T, D) into ``dx`` if given."""
    work = cache["work"]
    N, T, D, H = cache["shape"]
    hx, acts, cs, tanh_cs, W = work["hx"], work["acts"], work["cs"], work["tanh_cs"], work["W"]
    dtype = acts.dtype
    o, i, f, g = acts[:, :H], acts[:, H:2 * H], acts[:, 2 * H:3 * H], acts[:, 3 * H:]  # (T, H, N) each
    # The gates' local derivatives, all steps at once, in the buffer that the loop turns into the
    # gradients of the pre-activations: dz = local * (dh for o; dc for i, f, g).
    dz = _buffer(work, "dz", (T, 4 * H, N), dtype)
    local_o, local_i, local_f, local_g = (dz[:, k * H:(k + 1) * H] for k in range(4))
    np.subtract(1.0, o, out=local_o)
    local_o *= o
    local_o *= tanh_cs                   # h = o tanh(c):      dh/do = tanh(c), o' = o (1 - o)
    np.subtract(1.0, i, out=local_i)
    local_i *= i
    local_i *= g                         # c = f c_prev + i g: dc/di = g
    np.subtract(1.0, f, out=local_f)
    local_f *= f
    local_f *= cs[:-1]                   #                     dc/df = c_prev
    np.multiply(g, g, out=local_g)
    np.subtract(1.0, local_g, out=local_g)
    local_g *= i                         #                     dc/dg = i, g' = 1 - g^2
    h_to_c = _buffer(work, "h_to_c", (T, H, N), dtype)
    np.multiply(tanh_cs, tanh_cs, out=h_to_c)
    np.subtract(1.0, h_to_c, out=h_to_c)
    h_to_c *= o                          # dh/dc = o (1 - tanh(c)^2)
    dout_cols = _buffer(work, "dout", (T, H, N), dtype)
    np.copyto(dout_cols, dout.transpose(1, 2, 0))
    dh_all = _buffer(work, "dh", (T, H, N), dtype)
    dc_all = _buffer(work, "dc", (T, H, N), dtype)
    dh_next, dc_next = dh_T.T.copy(), dc_T.T.copy()  # (H, N)
    dz_ifg = dz.reshape(T, 4, H, N)[:, 1:]           # (T, 3, H, N): the blocks that dc multiplies
    W_hh_t = W[:, :H].T                              # (H, 4H)
    # The products need only dz: with a spare core, those of the later steps (done first) run on it, an
    # eighth of the steps at a time, while the loop goes on with the earlier ones.
    starts = sorted({T * k // 8 for k in range(8)}) if overlap else [0]
    chunks = {start: (k, slice(start, end)) for k, (start, end) in enumerate(zip(starts, starts[1:] + [T]))}
    W_in = W[:, H:H + D]
    dx_rows = _buffer(work, "dx_rows", (T, N, D), dtype)
    later = []  # the later chunks' products, on the other core
    with _one_blas_thread():
        for t in reversed(range(T)):
            dh, dc = dh_all[t], dc_all[t]
            np.add(dout_cols[t], dh_next, out=dh)        # from the output at t and from step t + 1
            np.multiply(dh, h_to_c[t], out=dc)
            dc += dc_next
            np.multiply(local_o[t], dh, out=local_o[t])
            np.multiply(dz_ifg[t], dc, out=dz_ifg[t])
            np.matmul(W_hh_t, dz[t], out=dh_next)
            np.multiply(dc, f[t], out=dc_next)           # the cell state's path: times the forget gate only
            if t in chunks and t > 0:  # dz of this chunk's steps is complete
                k, steps = chunks[t]
                later.append(_background_thread().submit(_step_products, dz[steps], hx[steps], W_in,
                                                         dx_rows[steps], work, k))
        _, steps = chunks[0]
        dW = _step_products(dz[steps], hx[steps], W_in, dx_rows[steps], work, 0)
        for part in later:
            dW += part.result()
    dW = _gate_blocks(dW, H, _PYTORCH_GATES)  # [dW_hh dW_ih db]
    dx_rows = dx_rows.transpose(1, 0, 2)
    if dx is None:
        dx = dx_rows.copy()
    else:
        np.copyto(dx, dx_rows)
    return (dx, dh_next.T.copy(), dc_next.T.copy(), dW[:, H:H + D].copy(), dW[:, :H].copy(), dW[:, H + D].copy(),
            dh_all, dc_all)


# --------------------------------------------------------------------------------------------
# Whole sequences
# --------------------------------------------------------------------------------------------
# The layers compute exactly the kernels above, step after step (tests/test_rnn.py checks a loop of
# the kernels against each layer), rearranged for speed: x_t W_ih^T + b for all T steps in one
# product before the loop, and each weight gradient - the sum over t of the kernels' dW - as one
# product after it. Only the recurrence itself stays in the loop.


class _Recurrent(Layer):
    """What RNN and LSTM share: parameters, input checks, the torch twin."""

    gate_count = 1
    torch_class = "RNN"

    def __init__(self, input_size: int, hidden_size: int, *, seed: int = 0, dtype=np.float64):
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        rng = np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(hidden_size)  # PyTorch's default: every parameter U(-1/sqrt(H), 1/sqrt(H))
        rows = self.gate_count * hidden_size
        shapes = {"weight_ih_l0": (rows, input_size), "weight_hh_l0": (rows, hidden_size),
                  "bias_ih_l0": (rows,), "bias_hh_l0": (rows,)}
        for name, shape in shapes.items():
            self.params[name] = rng.uniform(-bound, bound, shape).astype(dtype)
        self.final_state = None  # set by forward

    def _check_input(self, x):
        x = as_array(x, "x")
        if x.ndim != 3:
            raise ValueError(f"x must be 3-D (batch, time, features) = (N, T, {self.input_size}), "
                             f"got shape {x.shape}")
        check_last_dim(x, self.input_size, "x")
        if x.shape[1] == 0:
            raise ValueError(f"x must have at least one time step, got shape {x.shape}")
        return x

    def _check_state(self, value, name, batch, dtype):
        value = as_array(value, name).astype(dtype, copy=False)
        if value.shape != (batch, self.hidden_size):
            raise ValueError(f"{name} must have shape (batch, hidden_size) = ({batch}, {self.hidden_size}), "
                             f"got {value.shape}")
        return value

    def _weights(self, dtype):
        return {k: v.astype(dtype, copy=False) for k, v in self.params.items()}

    def _fill_grads(self, dgates, x, h_prev_all, weights):
        """The weight gradients of all steps at once: one matrix product each, after the loop."""
        rows = dgates.shape[-1]
        dg2 = dgates.reshape(-1, rows)                  # (N*T, G*H)
        x2 = x.reshape(-1, self.input_size)             # (N*T, D)
        h2 = h_prev_all.reshape(-1, self.hidden_size)   # (N*T, H)
        dbias = dg2.sum(axis=0)
        grads = {"weight_ih_l0": dg2.T @ x2, "weight_hh_l0": dg2.T @ h2, "bias_ih_l0": dbias,
                 "bias_hh_l0": dbias.copy()}
        self.grads = {k: g.astype(self.params[k].dtype, copy=False) for k, g in grads.items()}
        return dgates @ weights["weight_ih_l0"]  # dx (N, T, D)

    def to_torch(self):
        import torch.nn as nn

        cls = getattr(nn, self.torch_class)
        module = cls(self.input_size, self.hidden_size, batch_first=True,
                     dtype=_torch_dtype(self.params["weight_ih_l0"].dtype))
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"


class RNN(_Recurrent):
    """Elman RNN with tanh, batch-first, like ``torch.nn.RNN(D, H, batch_first=True)`` (notebook 07).

    forward(x (N, T, D), state=None) -> hidden states (N, T, H); ``state`` is h_0 (N, H)
    (zeros if None). After forward, ``final_state`` is h_T (N, H).
    backward(dout (N, T, H), dstate=None) -> dx (N, T, D); ``dstate`` is an extra gradient on
    h_T (from whatever used the final state). After backward, ``dinitial_state`` is dL/dh_0
    and ``state_grads["h"]`` (N, T, H) holds dL/dh_t for every t - the signal that reached
    each step, used to show vanishing gradients.
    """

    def forward(self, x, state=None):
        x = self._check_input(x)
        N, T, _ = x.shape
        w = self._weights(x.dtype)
        h = np.zeros((N, self.hidden_size), x.dtype) if state is None else self._check_state(state, "state", N, x.dtype)
        h0 = h
        # input projection of every step at once; biases folded in
        xw = x @ w["weight_ih_l0"].T + (w["bias_ih_l0"] + w["bias_hh_l0"])  # (N, T, H)
        hs = np.empty((N, T, self.hidden_size), x.dtype)
        w_hh_t = w["weight_hh_l0"].T
        with _one_blas_thread():
            for t in range(T):
                h = np.tanh(xw[:, t] + h @ w_hh_t)
                hs[:, t] = h
        self._cache = {"x": x, "h0": h0, "hs": hs}
        self.final_state = h
        return hs

    def backward(self, dout, dstate=None):
        cache = self._saved()
        x, h0, hs = cache["x"], cache["h0"], cache["hs"]
        dout = self._check_dout(dout, hs.shape).astype(x.dtype, copy=False)
        N, T, H = hs.shape
        w = self._weights(x.dtype)
        dh_next = np.zeros((N, H), x.dtype) if dstate is None else self._check_state(dstate, "dstate", N, x.dtype)
        dz_all = np.empty_like(hs)
        dh_all = np.empty_like(hs)
        w_hh = w["weight_hh_l0"]
        with _one_blas_thread():
            for t in reversed(range(T)):
                dh = dout[:, t] + dh_next       # from the output at t and from step t + 1
                dh_all[:, t] = dh
                dz = dh * (1.0 - hs[:, t] ** 2)  # through the tanh
                dz_all[:, t] = dz
                dh_next = dz @ w_hh
        h_prev_all = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)  # (N, T, H): h_{t-1}
        self.dinitial_state = dh_next
        self.state_grads = {"h": dh_all}
        return self._fill_grads(dz_all, x, h_prev_all, w)


class LSTM(_Recurrent):
    """LSTM, batch-first, like ``torch.nn.LSTM(D, H, batch_first=True)`` (notebook 07).

    forward(x (N, T, D), state=None) -> hidden states (N, T, H); ``state`` is (h_0, c_0), each
    (N, H) (zeros if None). After forward, ``final_state`` is (h_T, c_T) and ``gate_values``
    holds the activations of every step - ``"i"``, ``"f"``, ``"g"``, ``"o"``, ``"c"`` each
    (N, T, H) - for the gate viewer.
    backward(dout (N, T, H), dstate=None) -> dx (N, T, D); ``dstate`` is an extra gradient
    (dh_T, dc_T). After backward, ``dinitial_state`` is (dh_0, dc_0) and ``state_grads`` holds
    ``"h"`` and ``"c"`` (N, T, H): dL/dh_t and dL/dc_t for every t.

    The work is done by :func:`lstm_sequence_forward` / :func:`lstm_sequence_backward`, the step
    kernels rearranged for speed; the layer keeps their buffers between calls, and
    ``gate_values`` / ``state_grads`` are copies made when you ask for them.

    ``forget_bias`` is added to the forget-gate block of ``bias_ih_l0`` after the PyTorch-style
    initialisation: a positive value starts the network remembering (Gers et al. 2000;
    Jozefowicz et al. 2015 recommend 1).
    """

    gate_count = 4
    torch_class = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, *, seed: int = 0, dtype=np.float64,
                 forget_bias: float = 0.0):
        super().__init__(input_size, hidden_size, seed=seed, dtype=dtype)
        H = self.hidden_size
        self.params["bias_ih_l0"][H:2 * H] += forget_bias
        self._work: dict = {}  # the kernels' buffers, reused by every call

    def _pair(self, value, what, names, batch, dtype):
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            raise TypeError(f"an LSTM's {what} is a pair ({names[0]}, {names[1]}), got {type(value).__name__}")
        return tuple(self._check_state(v, f"{what}[{k}] ({name})", batch, dtype)
                     for k, (v, name) in enumerate(zip(value, names)))

    def forward(self, x, state=None):
        x = self._check_input(x)
        N, H = x.shape[0], self.hidden_size
        w = self._weights(x.dtype)
        if state is None:
            h0, c0 = np.zeros((N, H), x.dtype), np.zeros((N, H), x.dtype)
        else:
            h0, c0 = self._pair(state, "state", ("h_0", "c_0"), N, x.dtype)
        hs, cache = lstm_sequence_forward(x, h0, c0, w["weight_ih_l0"], w["weight_hh_l0"],
                                          w["bias_ih_l0"] + w["bias_hh_l0"], self._work)
        self._cache = {"kernel": cache, "out_shape": hs.shape, "dtype": x.dtype, "backward_done": False}
        self.final_state = (hs[:, -1].copy(), _columns(cache, "cs", -1).T.copy())
        return hs

    def backward(self, dout, dstate=None):
        cache = self._saved()
        dout = self._check_dout(dout, cache["out_shape"]).astype(cache["dtype"], copy=False)
        N, H = dout.shape[0], self.hidden_size
        if dstate is None:
            dh_T, dc_T = np.zeros((N, H), dout.dtype), np.zeros((N, H), dout.dtype)
        else:
            dh_T, dc_T = self._pair(dstate, "dstate", ("dh_T", "dc_T"), N, dout.dtype)
        dx, dh0, dc0, dW_ih, dW_hh, db, _, _ = lstm_sequence_backward(dout, dh_T, dc_T, cache["kernel"])
        grads = {"weight_ih_l0": dW_ih, "weight_hh_l0": dW_hh, "bias_ih_l0": db, "bias_hh_l0": db.copy()}
        self.grads = {k: g.astype(self.params[k].dtype, copy=False) for k, g in grads.items()}
        self.dinitial_state = (dh0, dc0)
        cache["backward_done"] = True
        return dx

    @property
    def gate_values(self) -> dict[str, np.ndarray]:
        """The last forward's gates and cell states, ``"i"``, ``"f"``, ``"g"``, ``"o"``, ``"c"`` each (N, T, H)."""
        if self._cache is None:
            raise RuntimeError("LSTM.gate_values: run forward(x) first")
        H, cache = self.hidden_size, self._cache["kernel"]
        acts = _columns(cache, "acts")  # (T, 4H, N), gate blocks o, i, f, g
        blocks = {"i": acts[:, H:2 * H], "f": acts[:, 2 * H:3 * H], "g": acts[:, 3 * H:], "o": acts[:, :H],
                  "c": _columns(cache, "cs", slice(1, None))}
        return {k: v.transpose(2, 0, 1).copy() for k, v in blocks.items()}  # (T, H, N) -> (N, T, H)

    @property
    def state_grads(self) -> dict[str, np.ndarray]:
        """The last backward's dL/dh_t and dL/dc_t, ``"h"`` and ``"c"`` each (N, T, H)."""
        if self._cache is None or not self._cache["backward_done"]:
            raise RuntimeError("LSTM.state_grads: run forward(x) and backward(dout) first")
        cache = self._cache["kernel"]
        return {k: _columns(cache, name).transpose(2, 0, 1).copy() for k, name in (("h", "dh"), ("c", "dc"))}


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al. 2014), batch-first, like ``torch.nn.GRU(D, H, batch_first=True)``.

    Gate blocks in PyTorch's order r (reset), z (update), n (candidate)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h

    forward(x (N, T, D), state=None) -> (N, T, H); ``state`` is h_0 (N, H). backward(dout,
    dstate=None) -> dx, filling ``grads``, ``dinitial_state`` and ``state_grads["h"]``, as
    :class:`RNN` does. Unlike the LSTM, the reset gate multiplies the *recurrent* product, so the
    hidden-side gradients differ from the input-side ones and ``b_hn`` cannot be folded into
    the input projection.
    """

    gate_count = 3
    torch_class = "GRU"

    def forward(self, x, state=None):
        x = self._check_input(x)
        N, T, _ = x.shape
        H = self.hidden_size
        w = self._weights(x.dtype)
        h = np.zeros((N, H), x.dtype) if state is None else self._check_state(state, "state", N, x.dtype)
        h0 = h
        xw = x @ w["weight_ih_l0"].T + w["bias_ih_l0"]  # (N, T, 3H)
        acts = np.empty((N, T, 3 * H), x.dtype)        # r, z, n after their nonlinearities
        hw_n = np.empty((N, T, H), x.dtype)            # W_hn h_{t-1} + b_hn: what r multiplies
        hs = np.empty((N, T, H), x.dtype)
        w_hh_t, b_hh = w["weight_hh_l0"].T, w["bias_hh_l0"]
        with _one_blas_thread():
            for t in range(T):
                hw = h @ w_hh_t + b_hh                     # (N, 3H)
                r = sigmoid(xw[:, t, :H] + hw[:, :H])
                z = sigmoid(xw[:, t, H:2 * H] + hw[:, H:2 * H])
                n = np.tanh(xw[:, t, 2 * H:] + r * hw[:, 2 * H:])
                h = (1.0 - z) * n + z * h
                acts[:, t, :H], acts[:, t, H:2 * H], acts[:, t, 2 * H:] = r, z, n
                hw_n[:, t], hs[:, t] = hw[:, 2 * H:], h
        self._cache = {"x": x, "h0": h0, "acts": acts, "hw_n": hw_n, "hs": hs}
        self.final_state = h
        self.gate_values = {"r": acts[..., :H], "z": acts[..., H:2 * H], "n": acts[..., 2 * H:]}
        return hs

    def backward(self, dout, dstate=None):
        cache = self._saved()
        x, acts, hw_n, hs = cache["x"], cache["acts"], cache["hw_n"], cache["hs"]
        dout = self._check_dout(dout, hs.shape).astype(x.dtype, copy=False)
        N, T, H = hs.shape
        w = self._weights(x.dtype)
        dh_next = np.zeros((N, H), x.dtype) if dstate is None else self._check_state(dstate, "dstate", N, x.dtype)
        h_prev_all = np.concatenate([cache["h0"][:, None], hs[:, :-1]], axis=1)  # (N, T, H): h_{t-1}
        d_in = np.empty_like(acts)   # gradients of the input-side pre-activations (N, T, 3H)
        d_hid = np.empty_like(acts)  # gradients of the hidden-side products W_hh h + b_hh
        dh_all = np.empty_like(hs)
        w_hh = w["weight_hh_l0"]
        with _one_blas_thread():
            for t in reversed(range(T)):
                r, z, n = acts[:, t, :H], acts[:, t, H:2 * H], acts[:, t, 2 * H:]
                dh = dout[:, t] + dh_next
                dh_all[:, t] = dh
                dn = dh * (1.0 - z) * (1.0 - n**2)                       # through tanh
                dz = dh * (h_prev_all[:, t] - n) * z * (1.0 - z)         # through sigmoid
                dr = dn * hw_n[:, t] * r * (1.0 - r)
                d_in[:, t, :H], d_in[:, t, H:2 * H], d_in[:, t, 2 * H:] = dr, dz, dn
                d_hid[:, t, :H], d_hid[:, t, H:2 * H], d_hid[:, t, 2 * H:] = dr, dz, dn * r
                dh_next = dh * z + d_hid[:, t] @ w_hh
        self.dinitial_state = dh_next
        self.state_grads = {"h": dh_all}
        d_in2, d_hid2 = d_in.reshape(-1, 3 * H), d_hid.reshape(-1, 3 * H)  # (N*T, 3H)
        grads = {"weight_ih_l0": d_in2.T @ x.reshape(-1, self.input_size), "bias_ih_l0": d_in2.sum(axis=0),
                 "weight_hh_l0": d_hid2.T @ h_prev_all.reshape(-1, H), "bias_hh_l0": d_hid2.sum(axis=0)}
        self.grads = {k: g.astype(self.params[k].dtype, copy=False) for k, g in grads.items()}
        return d_in @ w["weight_ih_l0"]  # dx (N, T, D)


# --------------------------------------------------------------------------------------------
# Embeddings: a one-hot vector times a matrix is a row of the matrix (notebook 07, section 8)
# --------------------------------------------------------------------------------------------


def embedding_forward(ids, weight):
    """ids (...) int -> weight[ids] (..., E); weight (V, E). The same as one_hot(ids) @ weight."""
    return weight[ids], (ids, weight.shape)


def embedding_backward(dout, cache):
    """dout (..., E) -> dweight (V, E): each row collects the gradients of every position that
    looked it up - a scatter-add (``np.add.at``), because a repeated id must sum, not overwrite."""
    ids, shape = cache
    dweight = np.zeros(shape, dout.dtype)
    np.add.at(dweight, ids.reshape(-1), dout.reshape(-1, shape[1]))
    return dweight


class Embedding(Layer):
    """A trainable lookup table, like ``torch.nn.Embedding(num_embeddings, embedding_dim)`` (notebook 07).

    forward(ids (...) int) -> vectors (..., embedding_dim); backward(dout) fills ``grads["weight"]``
    and returns None: integer ids have no gradient. Initialised N(0, 1) like PyTorch.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, seed: int = 0, dtype=np.float64):
        super().__init__()
        self.num_embeddings = check_positive_int(num_embeddings, "num_embeddings")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.params["weight"] = np.random.default_rng(seed).standard_normal(
            (num_embeddings, embedding_dim)).astype(dtype)

    def forward(self, ids):
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"Embedding takes integer ids, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            raise ValueError(f"ids must lie in 0 .. {self.num_embeddings - 1} (num_embeddings = "
                             f"{self.num_embeddings}), got {ids.min()} .. {ids.max()}")
        out, self._cache = embedding_forward(ids, self.params["weight"])
        return out

    def backward(self, dout):
        ids, shape = self._saved()
        dout = self._check_dout(dout, ids.shape + (shape[1],))
        self.grads = {"weight": embedding_backward(dout, self._cache).astype(self.params["weight"].dtype)}
        return None

    def to_torch(self):
        import torch.nn as nn

        module = nn.Embedding(self.num_embeddings, self.embedding_dim,
                              dtype=_torch_dtype(self.params["weight"].dtype))
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"


def torch_outputs(module, x):
    """``torch_call`` for :func:`nncourse.compare_with_torch`: torch's RNN/LSTM return (output, state)."""
    return module(x)[0]


def gradient_through_time(layer: RNN | LSTM, x) -> dict[str, np.ndarray]:
    """How strongly the last hidden state h_T depends on each earlier state (notebook 07).

    x: one input sequence (T, D). Returns ``{"h": (T,)}`` for an RNN and ``{"h": (T,),
    "c": (T,)}`` for an LSTM, the spectral norms ``||dh_T / dh_t||`` and ``||dh_T / dc_t||`` for
    t = 1..T (the last entry is dh_T/dh_T = I, norm 1): the largest factor by which a small
    change of the state at step t can still move h_T - the gradient signal that reaches step t.
    For c_t the derivative is the total one (c_t reaches h_T through c_{t+1} and through
    h_t = o_t tanh(c_t)).

    Computed exactly with one BPTT: the sequence is copied H times, copy n gets the gradient
    e_n on h_T, so row n of ``state_grads["h"][:, t]`` is row n of the Jacobian dh_T/dh_t.
    """
    x = as_array(x, "x", ndim=2)
    H = layer.hidden_size
    batch = np.broadcast_to(x, (H, *x.shape))  # (H, T, D): H identical copies
    layer.forward(batch)
    eye = np.eye(H, dtype=layer.final_state[0].dtype if isinstance(layer, LSTM) else layer.final_state.dtype)
    dout = np.zeros((H, x.shape[0], H), eye.dtype)
    dstate = (eye, np.zeros_like(eye)) if isinstance(layer, LSTM) else eye
    layer.backward(dout, dstate=dstate)
    # state_grads[k] is (H copies, T, H units); per t it is the Jacobian (rows: h_T units)
    return {k: np.linalg.norm(g.transpose(1, 0, 2), ord=2, axis=(1, 2))  # (T, H, H) -> (T,)
            for k, g in layer.state_grads.items()}
