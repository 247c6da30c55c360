"""Exercises of notebook 12 (efficient inference).

* ``mlp_macs`` (warm-up): the multiply-accumulates of an MLP per example; the notebook's cost
  table then uses it.
* ``quantize_per_channel_symmetric`` (substantial): symmetric per-channel quantization of a weight
  matrix, integers and one scale per row; the notebook then quantizes the trained network with it
  and compares per-channel with per-tensor on a layer with an outlier channel.

Expected answers come from the package (``nncourse.compression``, tested against PyTorch's
fake-quantize kernels); the answers a teacher can show are in
``nncourse.exercises.solutions.compression``.
"""
from __future__ import annotations

import numpy as np

from .. import compression
from . import Exercise
from .solutions import compression as solutions

# --- warm-up: counting MACs ------------------------------------------------------------------------


def _macs_compare(got, want, case):
    (sizes,) = case
    try:
        value = float(got)
    except (TypeError, ValueError):
        return f"return one number (the MACs per example), you returned a {type(got).__name__}."
    if value == want:
        return None
    params = compression.mlp_cost(sizes)["params"]
    if value == params:
        return "that is the number of parameters: biases are added, not multiplied - count only the weights."
    if value == 2 * want:
        return "that counts a multiply and an add separately (FLOPs); a MAC is one multiply-accumulate."
    if value == sum(sizes[1:]) or value == sum(sizes):
        return "that counts neurons; every weight does one multiply-accumulate per example."
    return f"for sizes {list(sizes)} you give {value:g}, the answer is {want:g}."


mlp_macs = Exercise(
    "mlp_macs", solution=solutions.mlp_macs, reference=lambda sizes: compression.mlp_cost(sizes)["macs"],
    cases=[([64, 128, 10],), ([64, 32, 10],), ([784, 256, 256, 10],), ([3, 1],)], compare=_macs_compare,
    hints=["A dense layer from a inputs to b outputs computes b dot products of length a.",
           "Each dot product of length a is a multiply-accumulates. Add up over consecutive pairs of sizes.",
           "sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))"])


# --- substantial: symmetric per-channel quantization -----------------------------------------------

def _per_channel_cases():
    rng = np.random.default_rng(1992)  # an outlier row in every case; the zero row is the trap
    cases = []
    for shape, bits in (((6, 10), 4), ((5, 7), 8), ((4, 12), 2), ((8, 9), 3)):
        w = rng.normal(0, 0.3, size=shape)
        w[1] *= 12                       # an outlier channel
        cases.append((w, bits))
    w = rng.normal(size=(5, 6))
    w[2] = 0.0                           # a dead channel (e.g. after structured pruning)
    cases.append((w, 4))
    return cases


def _reference(w, bits):
    qp = compression.calibrate(w, bits, "symmetric", axis=0)
    return compression.quantize(w, qp), np.asarray(qp.scale, dtype=np.float64)


def _per_tensor(w, bits):
    qmax = 2 ** (bits - 1) - 1
    scale = np.abs(w).max() / qmax
    return np.round(w / scale).astype(np.int64), np.full(len(w), scale)


def _power_of_two(w, bits):
    half = 2 ** (bits - 1)
    scale = np.abs(w).max(axis=1, keepdims=True) / half
    with np.errstate(all="ignore"):
        return np.clip(np.round(w / scale), -half, half - 1).astype(np.int64), scale.ravel()


def _truncated(w, bits):
    qmax = 2 ** (bits - 1) - 1
    scale = np.abs(w).max(axis=1, keepdims=True) / qmax
    with np.errstate(all="ignore"):
        return (w / scale).astype(np.int64), scale.ravel()


def _per_column(w, bits):
    qmax = 2 ** (bits - 1) - 1
    scale = np.abs(w).max(axis=0, keepdims=True) / qmax
    with np.errstate(all="ignore"):
        return np.round(w / scale).astype(np.int64), scale.ravel()


def _per_channel_compare(got, want, case):
    w, bits = case
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return two things: the integer matrix q and the scales (one per row)."
    q, scale = np.asarray(got[0]), np.asarray(got[1], dtype=float)
    if q.shape != w.shape:
        return f"q must have the shape of w, {w.shape}; yours has {q.shape}."
    if scale.size == w.shape[1] and w.shape[0] != w.shape[1] and scale.size != w.shape[0]:
        return ("you have one scale per column (input); per channel means one per row (output channel), "
                "the max over axis 1.")
    if scale.size == 1 or (scale.size == w.shape[0] and np.allclose(scale, scale.ravel()[0])
                           and not np.allclose(want[1], want[1][0])):
        return "all your rows share one scale: that is per-tensor. Use each row's own max |w|."
    if scale.size != w.shape[0]:
        return f"return one scale per row: {w.shape[0]} values, you returned {scale.size}."
    scale = scale.reshape(-1)
    if not np.isfinite(scale).all() or not (scale > 0).all():
        return ("a row of zeros gives max|w| = 0, so scale 0 and 0/0 = nan. Every scale must be positive: "
                "pick any positive scale for an all-zero row.")
    if not np.issubdtype(q.dtype, np.integer) and not np.array_equal(q, np.round(q)):
        return "q must hold integers (round them)."
    qmin, qmax = compression.qrange(bits, "symmetric")
    if q.min() < qmin or q.max() > qmax:
        return (f"q leaves the {bits}-bit signed range [{qmin}, {qmax}] (you have [{q.min()}, {q.max()}]): "
                f"the largest |w| must land on 2^(bits-1) - 1 = {qmax}.")
    if np.allclose(scale, want[1] * qmax / (qmax + 1), rtol=1e-5):
        return (f"your scales divide max|w| by 2^(bits-1) = {qmax + 1}, but the largest integer is "
                f"2^(bits-1) - 1 = {qmax}: the largest weight of each row falls off the grid.")
    got_values = q * scale[:, None]
    want_values = want[0] * want[1][:, None]
    if np.allclose(got_values, want_values, rtol=1e-5, atol=1e-9 * np.abs(w).max()):
        return None
    if np.allclose(q, np.trunc(w / scale[:, None])):
        return "you cut the fraction off (astype(int) truncates toward zero): round to the nearest integer."
    row = int(np.argmax(np.abs(got_values - want_values).max(axis=1)))
    return f"row {row}: q * scale is not w snapped to the nearest grid point of that row."


quantize_per_channel_symmetric = Exercise(
    "quantize_per_channel_symmetric", solution=solutions.quantize_per_channel_symmetric, reference=_reference,
    cases=_per_channel_cases, compare=_per_channel_compare,
    hints=["Each row (output channel) gets its own grid. Symmetric: zero point 0, integers from "
           "-2^(bits-1) to 2^(bits-1) - 1.",
           "A row's scale maps its largest |w| to the largest integer: scale = max|w_row| / (2^(bits-1) - 1). "
           "np.abs(w).max(axis=1, keepdims=True) gives the maxima as a column, ready to broadcast.",
           "q = round(w / scale), clipped to the range. And a row that is all zeros would give scale 0.",
           "qmax = 2 ** (bits - 1) - 1\namax = np.abs(w).max(axis=1, keepdims=True)\n"
           "scale = np.where(amax > 0, amax, 1.0) / qmax\n"
           "q = np.clip(np.round(w / scale), -qmax - 1, qmax).astype(np.int64)\nreturn q, scale.ravel()"],
    mistakes=[])
