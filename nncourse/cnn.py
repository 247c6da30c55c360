"""Convolutional layers from scratch: Conv2d, MaxPool2d, AvgPool2d, Flatten, GlobalAvgPool2d and
ResNet's ResidualBlock (notebook 06).

Every layer follows the protocol of :mod:`nncourse.layers` and works on images laid out as
PyTorch lays them out, ``(N, C, H, W)``: batch, channels, height, width.

The convolution of deep learning is a *cross-correlation* (the kernel is not flipped)::

    out[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] * x_pad[n, c, s*i + u, s*j + v]

with ``s`` the stride and ``x_pad`` the input with ``padding`` zeros on every side. The kernels
below are pure functions that read like that formula (cs231n's pattern); checking shapes and
arguments is the job of the layers further down:

* :func:`conv2d_naive` - the formula as loops, to read and to time;
* :func:`im2col` / :func:`col2im` - every receptive field as a column of one matrix, and back;
* :func:`conv2d_forward` - im2col + one matrix multiply, returns ``(out, cache)``;
* :func:`conv2d_backward` - ``(dout, cache) -> (dx, dw, db)`` from the same columns;
* :func:`conv2d_forward_fast` / :func:`conv2d_backward_fast` - the same sums for stride 1, arranged
  to move less memory (what :class:`Conv2d` runs; the comment above them says how).

Beyond the single layer: :func:`receptive_field` (how many input pixels one unit sees, layer by
layer), :class:`GlobalAvgPool2d` (Network in Network's head), :func:`shift_images` (the
translation test) and :class:`ResidualBlock` (conv-BN-ReLU-conv-BN plus a shortcut, with the batch
norm of :mod:`nncourse.normalization`).

The PyTorch side (a modern CNN, speed habits, saliency maps) is :mod:`nncourse.at_scale.cnn`.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .layers import Container, Layer, ReLU, Sequential, _torch_dtype, load_into_torch
from .normalization import BatchNorm2d
from .validation import as_array, check_positive_int


def _pair(value, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """``3 -> (3, 3)``, ``(3, 5) -> (3, 5)``, with a clear error for anything else."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    ok = len(items) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in items)
    if not ok:
        kind = "positive integer" if minimum >= 1 else "non-negative integer"
        raise ValueError(f"{name} must be a {kind} or a pair of them (height, width), got {value!r}")
    return int(items[0]), int(items[1])


def output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """Length of a convolution or pooling output along one axis (notebook 06).

    ``floor((size + 2 * padding - kernel_size) / stride) + 1``: the number of positions where a
    window of ``kernel_size`` fits in the padded input when it moves ``stride`` pixels at a time.
    Raises if the window does not fit even once.
    """
    for value, name in ((size, "size"), (kernel_size, "kernel_size"), (stride, "stride")):
        check_positive_int(value, name)
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"padding must be a non-negative integer, got {padding!r}")
    padded = size + 2 * padding
    if kernel_size > padded:
        raise ValueError(f"kernel_size {kernel_size} is larger than the padded input "
                         f"({size} + 2*{padding} = {padded}): there is no position for the window")
    return (padded - kernel_size) // stride + 1


def _check_images(x, name: str, channels: int | None, layer: str) -> np.ndarray:
    x = as_array(x, name)
    if x.ndim != 4:
        raise ValueError(f"{layer}: {name} must be 4-D (N, C, H, W), got a {x.ndim}-D array of shape "
                         f"{x.shape}" + (" - add a batch axis with x[None]" if x.ndim == 3 else ""))
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{layer}: {name} must have {channels} channel(s) in axis 1 (N, C, H, W), "
                         f"got shape {x.shape} ({x.shape[1]} channels)")
    return x


def _output_hw(x_shape, kernel, stride, padding, layer: str) -> tuple[int, int]:
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    height, width = x_shape[2], x_shape[3]
    if height + 2 * ph < kh or width + 2 * pw < kw:
        raise ValueError(f"{layer}: the {kh}x{kw} window does not fit in the input of {height}x{width} "
                         f"with padding {(ph, pw)}: the padded input must be at least the kernel size")
    return output_size(height, kh, sh, ph), output_size(width, kw, sw, pw)


# --------------------------------------------------------------------------------------------
# The kernels: pure functions of arrays, no checks (the layers check)
# --------------------------------------------------------------------------------------------


def conv2d_naive(x, w, b=None, stride=1, padding=0):
    """The convolution formula as loops - to read, not to use (hundreds of times slower).

    x (N, C, H, W), w (O, C, kh, kw), b (O,) or None -> out (N, O, Ho, Wo).
    """
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding", minimum=0)
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # zeros around every image
    out = np.zeros((N, O, Ho, Wo), dtype=np.result_type(x, w))
    for n in range(N):                       # every image
        for o in range(O):                   # every filter
            for i in range(Ho):              # every output row ...
                for j in range(Wo):          # ... and column
                    window = x_pad[n, :, sh * i : sh * i + kh, sw * j : sw * j + kw]  # (C, kh, kw)
                    out[n, o, i, j] = np.sum(w[o] * window) + (0 if b is None else b[o])
    return out


def im2col(x, kernel_size, stride=1, padding=0):
    """Every receptive field of ``x`` as a column of one big matrix.

    x (N, C, H, W) -> cols (C*kh*kw, N*Ho*Wo), where ``cols[:, (n*Ho + i)*Wo + j]`` lists the
    input values (channel by channel, row by row) that output pixel (i, j) of image n sees.
    """
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
    ph, pw = _pair(padding, "padding", minimum=0)
    N, C, H, W = x.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    # A view, no copy: windows[n, c, i, j, u, v] = x_pad[n, c, s*i + u, s*j + v]
    windows = sliding_window_view(x_pad, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :Ho, :Wo]
    # The one copy: rows (c, u, v), columns (n, i, j).
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * kh * kw, N * Ho * Wo)


def col2im(cols, x_shape, kernel_size, stride=1, padding=0):
    """The adjoint of :func:`im2col`: add every column entry back onto the pixel it came from.

    cols (C*kh*kw, N*Ho*Wo) -> (N, C, H, W). A pixel inside several receptive fields receives
    the sum of their entries: that is the backward pass of weight sharing. (cs231n scatters with
    one ``np.add.at``; one strided add per kernel offset gives the same sums, 5-8x faster here.)
    """
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
    ph, pw = _pair(padding, "padding", minimum=0)
    N, C, H, W = x_shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    cols = cols.reshape(C, kh, kw, N, Ho, Wo)
    x_pad = np.zeros((C, N, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for u in range(kh):  # kernel offset (u, v) was copied from pixels (s*i + u, s*j + v)
        for v in range(kw):
            x_pad[:, :, u : u + sh * Ho : sh, v : v + sw * Wo : sw] += cols[:, u, v]
    return x_pad[:, :, ph : ph + H, pw : pw + W].transpose(1, 0, 2, 3)  # (N, C, H, W)


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    """Convolution as one matrix multiply: x (N, C, H, W), w (O, C, kh, kw), b (O,) or None
    -> ``(out, cache)``, out (N, O, Ho, Wo)."""
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding", minimum=0)
    N, _, H, W = x.shape
    O, _, kh, kw = w.shape
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    cols = im2col(x, (kh, kw), stride, padding)            # (K, N*Ho*Wo), K = C*kh*kw
    out = w.reshape(O, -1) @ cols                          # (O, K) @ (K, N*Ho*Wo)
    if b is not None:
        out += b[:, None]
    out = out.reshape(O, N, Ho, Wo).transpose(1, 0, 2, 3)  # (N, O, Ho, Wo)
    cache = (cols, x.shape, w, stride, padding)
    return np.ascontiguousarray(out), cache


def conv2d_backward(dout, cache):
    """Gradients of :func:`conv2d_forward`: dout (N, O, Ho, Wo) -> ``(dx, dw, db)``.

    dw = dout (O, N*Ho*Wo) @ cols^T       - every window, weighted by its output's error;
    dcols = w^T (K, O) @ dout (O, N*Ho*Wo) - every error sent back through the weights, then
            col2im adds each entry onto the pixel it came from;
    db = dout summed over images and positions.
    """
    cols, x_shape, w, stride, padding = cache
    O = w.shape[0]
    dout = dout.transpose(1, 0, 2, 3).reshape(O, -1)       # (O, N*Ho*Wo)
    dw = (dout @ cols.T).reshape(w.shape)                  # (O, K) -> (O, C, kh, kw)
    db = dout.sum(axis=1)                                  # (O,)
    dcols = w.reshape(O, -1).T @ dout                      # (K, N*Ho*Wo)
    dx = col2im(dcols, x_shape, w.shape[2:], stride, padding)
    return dx, dw, db


# --------------------------------------------------------------------------------------------
# The same convolution, fast (stride 1): what Conv2d runs
# --------------------------------------------------------------------------------------------
# conv2d_forward / conv2d_backward above are the version to read (notebook 06 builds them). For
# stride 1 Conv2d runs the two functions below instead: the same sums (tests/test_cnn.py checks them
# against the readable kernels and against PyTorch), arranged to move less memory, which is where
# the readable version spends much of its time:
#
# * flat shifts: in a padded image stored row after row, pixel (i + u, j + v) sits u * Wp + v places
#   after pixel (i, j). So the column-matrix rows of kernel offset (u, v) are the flattened image
#   shifted by u * Wp + v (one copy from a sliding-window view, long contiguous rows, instead of
#   im2col's gather of short windows). The price: every output row is computed Wp wide instead of
#   Wo, and the kw - 1 extra columns (garbage that wrapped into the next row) are dropped (7% more
#   multiplications at 28x28, 3x3, padding 1);
# * col2im as kh*kw adds of one long contiguous run per image: the rows of dcols for offset (u, v)
#   are stored Lp = (Hp + 1) * Wp apart, like the padded image's channels, with zeros after the
#   Ho * Wp computed positions, so "add channel after channel, shifted by u * Wp + v" is one 1-D add
#   (NumPy adds a 1-D run several times faster than the same numbers as a strided 2-D block);
# * a few images at a time (one at 28x28), so the column matrix of a chunk (under 512 KB) is still
#   in the L2 cache when it is multiplied (2-3x faster matrix multiplies than with 4 MB chunks); the
#   backward rebuilds it rather than reading a big one back from memory;
# * the weight gradient as cols (K + 1, positions) @ dout^T: OpenBLAS runs that orientation about
#   1.4x faster than dout @ cols^T;
# * the bias as one more column of the weights, multiplied by a row of ones;
# * every buffer kept between calls (``work``), and zero borders written only when a buffer is new
#   or its layout changed.

_CHUNK_BYTES = 2 ** 19  # column matrix of one chunk of images: at most 512 KB (or one image)


def _buffer(work, name, shape, dtype, fill=None, layout=None):
    """``work[name]``, (re)allocated - and then filled with ``fill`` - when its shape, dtype or
    ``layout`` (what else decides which entries must hold ``fill``) changed."""
    buf = work.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype or work.get(name + " layout") != layout:
        buf = work[name] = np.empty(shape, dtype)
        work[name + " layout"] = layout
        if fill is not None:
            buf.fill(fill)
    return buf


def _shifted_windows(x_pad, kernel, Q):
    """A read-only view (N, C, kh, kw, Q) of x_pad (N, C, Hp + 1, Wp): entry [n, c, u, v, q] is
    x_pad[n, c] flattened, at place u*Wp + v + q - the rows of kernel offset (u, v), no copy."""
    N, C, rows, Wp = x_pad.shape
    kh, kw = kernel
    flat = sliding_window_view(x_pad.reshape(N, C, rows * Wp), Q, axis=2)  # (N, C, places, Q)
    return flat[:, :, :kh * Wp].reshape(N, C, kh, Wp, Q)[:, :, :, :kw]


def _forward_fast(x, w, b=None, padding=0, work=None, images_per_chunk=None, out=None):
    """:func:`conv2d_forward_fast` in the calling thread (the whole batch, or one half of it);
    ``out``: where to write the output (N, O, Ho, Wo), default a new array."""
    ph, pw = _pair(padding, "padding", minimum=0)
    work = {} if work is None else work
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    Hp, Wp = H + 2 * ph, W + 2 * pw
    Ho, Wo = Hp - kh + 1, Wp - kw + 1
    K, Q = C * kh * kw, Ho * Wp  # rows of the column matrix (+ 1 for the bias); positions per image
    dtype = x.dtype
    B = images_per_chunk or max(1, min(N, _CHUNK_BYTES // ((K + 1) * Q * x.itemsize)))
    # padded images with one spare zero row: the last shift reads kw - 1 past Hp*Wp. The border is
    # zeroed when the buffer is new or the padding changed; every call overwrites the inside.
    x_pad = _buffer(work, "x_pad", (N, C, Hp + 1, Wp), dtype, fill=0, layout=(ph, pw))
    x_pad[:, :, ph:ph + H, pw:pw + W] = x
    windows = _shifted_windows(x_pad, (kh, kw), Q)                       # (N, C, kh, kw, Q)
    weights = np.empty((O, K + 1), dtype)  # columns in the cols' row order (c, u, v), then the bias
    weights[:, :K] = w.reshape(O, K)
    weights[:, K] = 0 if b is None else b
    cols = _buffer(work, "cols", (K + 1, B, Q), dtype, fill=1)  # the last row stays 1: the bias
    out_rows = _buffer(work, "out_rows", (O, N, Q), dtype)
    for n0 in range(0, N, B):
        m = min(B, N - n0)
        np.copyto(cols[:K, :m].reshape(C, kh, kw, m, Q), windows[n0:n0 + m].transpose(1, 2, 3, 0, 4))
        np.matmul(weights, cols[:, :m].reshape(K + 1, m * Q), out=out_rows[:, n0:n0 + m].reshape(O, m * Q))
    rows = out_rows.reshape(O, N, Ho, Wp)[..., :Wo].transpose(1, 0, 2, 3)  # drop the wrapped columns
    if out is None:
        out = rows.copy()
    else:
        np.copyto(out, rows)
    work["forward_call"] = call = object()  # what backward checks: no later forward has refilled the buffers
    cache = {"work": work, "call": call, "x_shape": x.shape, "kernel": (kh, kw), "padding": (ph, pw),
             "weights": weights, "B": B}
    return out, cache


def _backward_fast(dout, cache, dx=None):
    """:func:`conv2d_backward_fast` in the calling thread, for a cache of :func:`_forward_fast`;
    ``dx``: where to write the input gradient (N, C, H, W), default a new array."""
    work, weights, B = cache["work"], cache["weights"], cache["B"]
    if work.get("forward_call") is not cache["call"]:
        raise RuntimeError("conv2d_backward_fast: this cache's buffers were refilled by a later "
                           "conv2d_forward_fast with the same work dict; run backward before the next forward")
    N, C, H, W = cache["x_shape"]
    (kh, kw), (ph, pw) = cache["kernel"], cache["padding"]
    O = weights.shape[0]
    Hp, Wp = H + 2 * ph, W + 2 * pw
    Ho, Wo = Hp - kh + 1, Wp - kw + 1
    K, Q, Lp = C * kh * kw, Ho * Wp, (Hp + 1) * Wp  # Lp: places per channel of a padded image
    dtype = weights.dtype
    windows, cols = _shifted_windows(work["x_pad"], (kh, kw), Q), work["cols"]
    weights_t = weights[:, :K].reshape(O, C, kh, kw).transpose(2, 3, 1, 0).reshape(K, O)  # rows (u, v, c)
    dweights_t = np.zeros((K + 1, O), dtype)  # [dw db]^T, summed over the chunks
    dweights_chunk = np.empty((K + 1, O), dtype)
    # dout laid out as the forward's rows; the wrapped columns are zeroed when the layout changes
    dout_rows = _buffer(work, "dout_rows", (O, N, Ho, Wp), dtype, fill=0, layout=Wo)
    dout_rows[..., :Wo] = dout.transpose(1, 0, 2, 3)
    dout_rows = dout_rows.reshape(O, N, Q)
    # dcols of a chunk, image by image: rows (u, v, c) Lp apart; places Q.. stay 0, so the block of
    # offset (u, v) is one run per image
    dcols = _buffer(work, "dcols", (B, kh, kw, C, Hp + 1, Wp), dtype, fill=0)
    dcols_rows = dcols.reshape(B, K, Lp)[:, :, :Q]
    # padded input gradient, one spare image: the last image's adds run up to Lp past its end. Zeroed
    # when new: the spare image only ever receives zeros then (uninitialised memory could hold inf
    # or NaN, and adding to it would warn)
    dx_pad = _buffer(work, "dx_pad", (N + 1, C, Hp + 1, Wp), dtype, fill=0)
    dx_flat = dx_pad.reshape(-1)
    for n0 in range(0, N, B):
        m = min(B, N - n0)
        np.copyto(cols[:K, :m].reshape(C, kh, kw, m, Q), windows[n0:n0 + m].transpose(1, 2, 3, 0, 4))
        np.matmul(cols[:, :m].reshape(K + 1, m * Q), dout_rows[:, n0:n0 + m].reshape(O, m * Q).T, out=dweights_chunk)
        dweights_t += dweights_chunk
        np.matmul(weights_t, dout_rows[:, n0:n0 + m].transpose(1, 0, 2), out=dcols_rows[:m])  # (K, O) @ (m, O, Q)
        # col2im: the block of offset (u, v) lands u*Wp + v places on, the chunk's images one after
        # another. Offset (0, 0) covers the chunk's slots exactly, so it is copied (what the chunk
        # before spilled there were zeros)
        start, size = n0 * C * Lp, m * C * Lp
        for u in range(kh):
            for v in range(kw):
                runs, shift = dcols[:m, u, v].reshape(m, C * Lp), start + u * Wp + v
                if u == v == 0:
                    dx_flat[start:start + size].reshape(m, C * Lp)[...] = runs
                else:
                    into = dx_flat[shift:shift + size].reshape(m, C * Lp)
                    np.add(into, runs, out=into)
    dw = dweights_t[:K].T.reshape(O, C, kh, kw).copy()                      # (O, C, kh, kw)
    inside = dx_pad[:N, :, ph:ph + H, pw:pw + W]                             # (N, C, H, W)
    if dx is None:
        dx = inside.copy()
    else:
        np.copyto(dx, inside)
    return dx, dw, dweights_t[K].copy()


def _two_halves(N: int, K: int, Q: int, O: int, threads) -> bool:
    """Run the batch as two halves side by side (:func:`nncourse.rnn._split_in_two`)? With
    ``threads=None``, only a large enough batch (the copies and adds of one call run on one core
    whatever BLAS does; two halves in two threads keep both cores busy)."""
    from .rnn import _split_in_two

    return _split_in_two(N, threads, large=N * K * Q * O >= 2 ** 22)


def conv2d_forward_fast(x, w, b=None, padding=0, work=None, images_per_chunk=None, threads=None):
    """:func:`conv2d_forward` for stride 1, fast: x (N, C, H, W), w (O, C, kh, kw), b (O,) or None
    -> ``(out, cache)``, out (N, O, Ho, Wo) (a new array). ``work``: a dict of buffers that this
    call fills and the next call overwrites (the cache refers to them, so backward must come before
    the next forward on the same ``work``; a stale cache raises RuntimeError). ``threads``: see
    :func:`_two_halves` - with two, each half of the batch runs in its own thread on one BLAS thread
    (NumPy releases the GIL in its copies, adds and products), and backward does the same."""
    work = {} if work is None else work
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    ph, pw = _pair(padding, "padding", minimum=0)
    Ho, Wo = H + 2 * ph - kh + 1, W + 2 * pw - kw + 1
    K, Q = C * kh * kw, Ho * (W + 2 * pw)
    if not _two_halves(N, K, Q, O, threads):
        return _forward_fast(x, w, b, padding, work, images_per_chunk)
    from .rnn import _background_thread, _one_blas_thread

    halves = work.setdefault("halves", ({}, {}))
    half = N // 2
    out = np.empty((N, O, Ho, Wo), x.dtype)  # each half writes its images
    with _one_blas_thread():
        first = _background_thread().submit(_forward_fast, x[:half], w, b, padding, halves[0], images_per_chunk,
                                       out[:half])
        _, cache_b = _forward_fast(x[half:], w, b, padding, halves[1], images_per_chunk, out[half:])
        _, cache_a = first.result()
    return out, {"halves": (cache_a, cache_b), "split": half, "x_shape": x.shape}


def conv2d_backward_fast(dout, cache):
    """Gradients of :func:`conv2d_forward_fast`: dout (N, O, Ho, Wo) -> ``(dx, dw, db)``, as
    :func:`conv2d_backward` computes them (dw = dout cols^T, dcols = w^T dout, then col2im)."""
    if "halves" not in cache:
        return _backward_fast(dout, cache)
    from .rnn import _background_thread, _one_blas_thread

    (cache_a, cache_b), half = cache["halves"], cache["split"]
    dx = np.empty(cache["x_shape"], cache_a["weights"].dtype)  # each half writes its images
    with _one_blas_thread():
        first = _background_thread().submit(_backward_fast, dout[:half], cache_a, dx[:half])
        _, dw_b, db_b = _backward_fast(dout[half:], cache_b, dx[half:])
        _, dw_a, db_a = first.result()
    return dx, dw_a + dw_b, db_a + db_b


class Conv2d(Layer):
    """PyTorch's ``nn.Conv2d`` from scratch (notebook 06).

    Parameters ``weight`` (out_channels, in_channels, kh, kw) and ``bias`` (out_channels,),
    initialised as PyTorch does: uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] with
    fan_in = in_channels * kh * kw. ``kernel_size``, ``stride`` and ``padding`` take an int or a
    (height, width) pair.

    forward: x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo), Ho = output_size(H, kh, stride, padding).

    With stride 1 the layer runs :func:`conv2d_forward_fast` / :func:`conv2d_backward_fast` (the
    same sums, arranged for speed) and keeps their buffers between calls; otherwise
    :func:`conv2d_forward` / :func:`conv2d_backward`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, *,
                 bias: bool = True, seed: int = 0, dtype=np.float64):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding", minimum=0)
        rng = np.random.default_rng(seed)
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        self.params["weight"] = rng.uniform(-bound, bound, (out_channels, in_channels, *self.kernel_size)).astype(dtype)
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, out_channels).astype(dtype)
        self._work: dict = {}  # the fast kernels' buffers, reused by every call

    def forward(self, x):
        x = _check_images(x, "x", self.in_channels, "Conv2d")
        _output_hw(x.shape, self.kernel_size, self.stride, self.padding, "Conv2d")
        weight = self.params["weight"].astype(x.dtype, copy=False)
        bias = self.params["bias"].astype(x.dtype, copy=False) if "bias" in self.params else None
        fast = self.stride == (1, 1)
        if fast:
            out, cache = conv2d_forward_fast(x, weight, bias, self.padding, self._work)
        else:
            out, cache = conv2d_forward(x, weight, bias, self.stride, self.padding)
        self._cache = {"kernel": cache, "fast": fast, "dtype": weight.dtype, "out_shape": out.shape}
        return out

    def backward(self, dout):
        cache = self._saved()
        dout = self._check_dout(dout, cache["out_shape"]).astype(cache["dtype"], copy=False)
        backward = conv2d_backward_fast if cache["fast"] else conv2d_backward
        dx, dweight, dbias = backward(dout, cache["kernel"])
        self.grads["weight"] = dweight.astype(self.params["weight"].dtype, copy=False)
        if "bias" in self.params:
            self.grads["bias"] = dbias.astype(self.params["bias"].dtype, copy=False)
        return dx

    def to_torch(self):
        import torch.nn as nn

        module = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding,
                           bias="bias" in self.params, dtype=_torch_dtype(self.params["weight"].dtype))
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={'bias' in self.params})")


class _Pool2d(Layer):
    """Shared by the pooling layers: a window of ``kernel_size`` moved ``stride`` pixels at a time
    (``stride`` defaults to ``kernel_size``: windows side by side, as in PyTorch). No parameters."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")

    def _windows(self, x):
        """x (N, C, H, W) -> a view (N, C, Ho, Wo, kh, kw) of every pooling window."""
        name = type(self).__name__
        x = _check_images(x, "x", None, name)
        out_h, out_w = _output_hw(x.shape, self.kernel_size, self.stride, (0, 0), name)
        (sh, sw) = self.stride
        windows = sliding_window_view(x, self.kernel_size, axis=(2, 3))  # (N, C, H-kh+1, W-kw+1, kh, kw)
        return x, windows[:, :, ::sh, ::sw][:, :, :out_h, :out_w]       # (N, C, Ho, Wo, kh, kw)

    def _scatter(self, per_offset, x_shape, dtype) -> np.ndarray:
        """Add ``per_offset(u, v)`` (N, C, Ho, Wo) onto the input pixels at kernel offset (u, v)."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        dx = np.zeros(x_shape, dtype=dtype)
        for u in range(kh):
            for v in range(kw):
                part = per_offset(u, v)
                out_h, out_w = part.shape[2:]
                dx[:, :, u : u + sh * out_h : sh, v : v + sw * out_w : sw] += part
        return dx

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2d(_Pool2d):
    """PyTorch's ``nn.MaxPool2d`` (no padding, floor mode) from scratch (notebook 06).

    forward: x (N, C, H, W) -> (N, C, Ho, Wo), the largest value of each window.
    backward: each window's gradient goes to its arg-max pixel only (the first one on ties, as
    PyTorch does); pixels that won no window get zero.
    """

    def forward(self, x):
        x, windows = self._windows(x)
        n, c, out_h, out_w, kh, kw = windows.shape
        flat = windows.reshape(n, c, out_h, out_w, kh * kw)  # (N, C, Ho, Wo, kh*kw), a copy
        winner = flat.argmax(axis=-1)                         # (N, C, Ho, Wo): index of the max in its window
        out = np.take_along_axis(flat, winner[..., None], axis=-1)[..., 0]
        self._cache = {"x_shape": x.shape, "dtype": x.dtype, "winner": winner, "out_shape": out.shape}
        return out

    def backward(self, dout):
        cache = self._saved()
        dout = self._check_dout(dout, cache["out_shape"])
        kw = self.kernel_size[1]
        winner = cache["winner"]
        return self._scatter(lambda u, v: np.where(winner == u * kw + v, dout, 0), cache["x_shape"],
                             np.result_type(cache["dtype"], dout))

    def to_torch(self):
        import torch.nn as nn

        return nn.MaxPool2d(self.kernel_size, self.stride)


class AvgPool2d(_Pool2d):
    """PyTorch's ``nn.AvgPool2d`` (no padding, floor mode) from scratch (notebook 06).

    forward: x (N, C, H, W) -> (N, C, Ho, Wo), the mean of each window.
    backward: each window's gradient is shared equally by its kh*kw pixels.
    """

    def forward(self, x):
        x, windows = self._windows(x)
        out = windows.mean(axis=(-2, -1))                      # (N, C, Ho, Wo)
        self._cache = {"x_shape": x.shape, "dtype": x.dtype, "out_shape": out.shape}
        return out

    def backward(self, dout):
        cache = self._saved()
        dout = self._check_dout(dout, cache["out_shape"])
        share = dout / (self.kernel_size[0] * self.kernel_size[1])
        return self._scatter(lambda u, v: share, cache["x_shape"], np.result_type(cache["dtype"], dout))

    def to_torch(self):
        import torch.nn as nn

        return nn.AvgPool2d(self.kernel_size, self.stride)


class Flatten(Layer):
    """PyTorch's ``nn.Flatten()``: x (N, d1, d2, ...) -> (N, d1*d2*...), the bridge from
    convolutional feature maps to a Linear classifier (notebook 06)."""

    def forward(self, x):
        x = as_array(x, "x")
        if x.ndim < 2:
            raise ValueError(f"Flatten: x must have a batch axis and at least one more, got shape {x.shape}")
        self._cache = {"x_shape": x.shape}
        return x.reshape(len(x), -1)  # (N, d1*d2*...)

    def backward(self, dout):
        x_shape = self._saved()["x_shape"]
        dout = self._check_dout(dout, (x_shape[0], int(np.prod(x_shape[1:]))))
        return dout.reshape(x_shape)

    def to_torch(self):
        import torch.nn as nn

        return nn.Flatten()


class Unflatten(Layer):
    """PyTorch's ``nn.Unflatten(1, shape)``: x (N, prod(shape)) -> (N, *shape).

    Lets a CNN take flat rows, e.g. the digits' (N, 64) -> (N, 1, 8, 8), so the training loops
    written for flat data (``nncourse.training.train``) drive it unchanged (notebook 06).
    """

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(check_positive_int(s, "shape entries") for s in shape)

    def forward(self, x):
        x = as_array(x, "x")
        size = int(np.prod(self.shape))
        if x.ndim != 2 or x.shape[1] != size:
            raise ValueError(f"Unflatten: x must be 2-D (N, {size}) to become (N, {', '.join(map(str, self.shape))}), "
                             f"got shape {x.shape}")
        self._cache = {"x_shape": x.shape}
        return x.reshape(len(x), *self.shape)  # (N, *shape)

    def backward(self, dout):
        x_shape = self._saved()["x_shape"]
        dout = self._check_dout(dout, (x_shape[0], *self.shape))
        return dout.reshape(x_shape)

    def to_torch(self):
        import torch.nn as nn

        return nn.Unflatten(1, self.shape)

    def __repr__(self) -> str:
        return f"Unflatten(shape={self.shape})"


class GlobalAvgPool2d(Layer):
    """Global average pooling (Lin, Chen & Yan 2013, *Network in Network*; notebook 06): the mean of
    every feature map, x (N, C, H, W) -> (N, C).

    It replaces the big flatten-and-dense head: one number per channel whatever the image size,
    no parameters, and a map shifted inside the image has the same mean. Its PyTorch twin is
    ``nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())``.
    backward: each map's gradient is shared equally by its H*W pixels.
    """

    def forward(self, x):
        x = _check_images(x, "x", None, "GlobalAvgPool2d")
        self._cache = {"x_shape": x.shape}
        return x.mean(axis=(2, 3))  # (N, C)

    def backward(self, dout):
        n, c, h, w = self._saved()["x_shape"]
        dout = self._check_dout(dout, (n, c))
        return np.broadcast_to(dout[:, :, None, None] / (h * w), (n, c, h, w)).copy()

    def to_torch(self):
        import torch.nn as nn

        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())


class ResidualBlock(Container):
    """ResNet's basic block (He, Zhang, Ren & Sun 2016) from the layers of this module (notebook 06).

        main = bn2(conv2(relu(bn1(conv1(x)))))        conv1: 3x3, ``stride``; conv2: 3x3; padding 1, no biases
        out  = relu(main + shortcut(x))

    The shortcut is the identity when the shapes agree (``in_channels == out_channels`` and
    ``stride == 1``); otherwise ``downsample``, a 1x1 convolution with the same stride followed by
    batch norm (the paper's "projection shortcut"). Children are named as in torchvision's
    ``BasicBlock`` (``conv1``, ``bn1``, ``conv2``, ``bn2``, ``downsample.0``, ``downsample.1``), and
    ``to_torch()`` gives :class:`nncourse.at_scale.cnn.BasicBlock` with the same weights and
    running statistics.

    forward: x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo), Ho = ceil(H / stride).
    backward: the gradient reaching ``out`` flows through the ReLU, then into *both* branches;
    the input's gradient is their sum (x was used twice).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *, seed: int = 0, dtype=np.float64):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.stride = check_positive_int(stride, "stride")
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride, 1, bias=False, seed=seed, dtype=dtype)
        self.bn1 = BatchNorm2d(out_channels, dtype=dtype)
        self.relu1 = ReLU()
        self.conv2 = Conv2d(out_channels, out_channels, 3, 1, 1, bias=False, seed=seed + 1, dtype=dtype)
        self.bn2 = BatchNorm2d(out_channels, dtype=dtype)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:  # the shapes change: project x with a 1x1 convolution
            self.downsample = Sequential(Conv2d(in_channels, out_channels, 1, stride, bias=False, seed=seed + 2,
                                                dtype=dtype), BatchNorm2d(out_channels, dtype=dtype))
        self.relu2 = ReLU()

    def forward(self, x):
        x = _check_images(x, "x", self.in_channels, "ResidualBlock")
        main = self.bn2.forward(self.conv2.forward(self.relu1.forward(self.bn1.forward(self.conv1.forward(x)))))
        skip = x if self.downsample is None else self.downsample.forward(x)
        self._cache = {"out_shape": main.shape}
        return self.relu2.forward(main + skip)

    def backward(self, dout):
        dout = self._check_dout(dout, self._saved()["out_shape"])
        d_sum = self.relu2.backward(dout)                       # dL/d(main + skip): the same for both branches
        d_main = self.conv1.backward(self.bn1.backward(self.relu1.backward(self.conv2.backward(self.bn2.backward(d_sum)))))
        d_skip = d_sum if self.downsample is None else self.downsample.backward(d_sum)
        return d_main + d_skip                                  # x fed both branches: the gradients add

    def window_steps(self) -> list[tuple[int, int]]:
        """The widest path for :func:`receptive_field`: two 3x3 convolutions, the first strided."""
        return [(3, self.stride), (3, 1)]

    def to_torch(self):
        from .at_scale.cnn import BasicBlock

        block = BasicBlock(self.in_channels, self.out_channels, self.stride)
        block.conv1, block.bn1 = self.conv1.to_torch(), self.bn1.to_torch()
        block.conv2, block.bn2 = self.conv2.to_torch(), self.bn2.to_torch()
        if self.downsample is not None:
            block.downsample = self.downsample.to_torch()
        return block.train(self.training)

    def __repr__(self) -> str:
        shortcut = "identity" if self.downsample is None else "1x1 conv + BN"
        return (f"ResidualBlock({self.in_channels}, {self.out_channels}, stride={self.stride}, "
                f"shortcut: {shortcut})")


# --------------------------------------------------------------------------------------------
# Receptive fields and shifted images (notebook 06, sections 6 and 10)
# --------------------------------------------------------------------------------------------


def receptive_field_sizes(kernel_sizes, strides) -> list[int]:
    """The receptive field after each layer of a stack, along one axis (notebook 06).

    A unit of layer l sees k_l units of layer l-1, which sit ``jump_{l-1}`` input pixels apart
    (the product of the strides before it), so each layer adds (k_l - 1) jumps:

        r_0 = 1, jump_0 = 1;   r_l = r_{l-1} + (k_l - 1) * jump_{l-1},   jump_l = jump_{l-1} * s_l.

    kernel_sizes, strides: one int per layer -> [r_1, ..., r_L].
    """
    sizes, r, jump = [], 1, 1
    for k, s in zip(kernel_sizes, strides):
        r = r + (k - 1) * jump
        jump = jump * s
        sizes.append(r)
    return sizes


def _window_steps(layer) -> list[tuple[int, int]]:
    """(kernel_size, stride) along the height for each windowed step of ``layer``; [] for layers
    that act pixel by pixel (activations, BatchNorm). Containers list their children's steps in
    order; a block with a ``window_steps()`` method (ResidualBlock) gives its own widest path."""
    if isinstance(layer, tuple) and len(layer) == 2:
        k, s = (check_positive_int(v, "a (kernel_size, stride) pair's entries") for v in layer)
        return [(k, s)]
    if isinstance(layer, (Conv2d, _Pool2d)):
        return [(layer.kernel_size[0], layer.stride[0])]
    if isinstance(layer, (GlobalAvgPool2d, Flatten)):
        raise ValueError(f"receptive_field: {type(layer).__name__} mixes every position of its input; "
                         "a unit after it sees the whole image, so list only the layers before it")
    if hasattr(layer, "window_steps"):      # a block that knows its widest path (ResidualBlock)
        return list(layer.window_steps())
    if isinstance(layer, Sequential):
        return [step for child in layer for step in _window_steps(child)]
    if isinstance(layer, Container):
        raise TypeError(f"receptive_field: cannot tell the path through {type(layer).__name__}; give it a "
                        "window_steps() method returning its (kernel_size, stride) steps")
    if isinstance(layer, Layer):
        return []
    raise TypeError(f"receptive_field takes layers or (kernel_size, stride) pairs, got {layer!r}")


def receptive_field(layers) -> list[int]:
    """Receptive-field size (height, in input pixels) of a unit after each of ``layers`` (notebook 06).

    layers: a Sequential or a list of layers (Conv2d, MaxPool2d, AvgPool2d, ResidualBlock;
    element-wise layers such as ReLU add nothing) or of ``(kernel_size, stride)`` pairs.
    Returns one size per entry, computed by :func:`receptive_field_sizes`. Padding does not change
    the size, only where the field sits (and how much of it lies on padding at the border).
    """
    if isinstance(layers, (Layer, tuple)) and not isinstance(layers, Sequential):
        raise TypeError(f"receptive_field takes a list of layers or a Sequential, got {layers!r}")
    entries = list(layers)
    if not entries:
        raise ValueError("receptive_field needs at least one layer")
    steps, ends = [], []   # every windowed step in order, and how many there are after each entry
    for entry in entries:
        steps += _window_steps(entry)
        ends.append(len(steps))
    if not steps:
        return [1] * len(entries)
    sizes = receptive_field_sizes(*zip(*steps))
    return [sizes[end - 1] if end else 1 for end in ends]


def shift_images(images, rows: int, cols: int) -> np.ndarray:
    """Move the content of every image ``rows`` pixels down and ``cols`` right (negative: up, left),
    filling the uncovered border with zeros; what leaves the frame is lost (notebook 06, section 10).

    images (..., H, W) -> the same shape. ``np.roll`` would wrap the content round instead.
    """
    images = as_array(images, "images")
    if images.ndim < 2:
        raise ValueError(f"images must have at least 2 dimensions (..., H, W), got shape {images.shape}")
    for value, name in ((rows, "rows"), (cols, "cols")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer number of pixels, got {value!r}")
    height, width = images.shape[-2:]
    out = np.zeros_like(images)
    if abs(rows) >= height or abs(cols) >= width:
        return out
    src_r, dst_r = slice(max(-rows, 0), height - max(rows, 0)), slice(max(rows, 0), height - max(-rows, 0))
    src_c, dst_c = slice(max(-cols, 0), width - max(cols, 0)), slice(max(cols, 0), width - max(-cols, 0))
    out[..., dst_r, dst_c] = images[..., src_r, src_c]
    return out
