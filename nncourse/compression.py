"""Making a trained network cheaper to run, in NumPy: quantization, pruning, distillation, cost.

Taught in notebook 12 (efficient inference). Everything here reads like the math and is tested
against PyTorch (``tests/test_compression.py``):

* **Quantization** maps a real number x to an integer q on a grid of step ``scale``:
  ``q = clamp(round(x / scale) + zero_point, qmin, qmax)`` and back ``x_hat = (q - zero_point) *
  scale``. *Affine* (asymmetric) grids use the unsigned range [0, 2^b - 1] and a zero point so the
  grid covers [min, max]; *symmetric* grids use the signed range [-2^(b-1), 2^(b-1) - 1], zero
  point 0 and ``scale = max|x| / (2^(b-1) - 1)``. Per tensor: one scale; per channel: one scale
  per output channel (row of a weight matrix). :func:`fake_quantize` equals
  ``torch.fake_quantize_per_tensor_affine`` / ``torch.fake_quantize_per_channel_affine``
  (rounding half to even, clamping, and the float32 ``x * (1 / scale)`` included).
* **Integer matrix multiply**: int8 x int8 products summed in int32, then one float multiplier
  *requantizes* the sum to int8 (:func:`int_matmul`, :func:`requantize`); the error against the
  float product stays within :func:`matmul_error_bound`.
* **Pruning** masks: the smallest weights by magnitude (unstructured) or whole rows with the
  smallest L_n norm (structured), equal to ``torch.nn.utils.prune.l1_unstructured`` /
  ``ln_structured``.
* **Distillation** (Hinton, Vinyals & Dean 2015): ``T^2 * KL(softmax(t/T) || softmax(s/T))``
  averaged over the batch, forward and backward.
* **Cost**: parameters, bytes and multiply-accumulates (MACs) of dense layers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import log_softmax, softmax

SCHEMES = ("affine", "symmetric")


# --------------------------------------------------------------------------------------------
# Quantization: grids, calibration, (de)quantization
# --------------------------------------------------------------------------------------------

def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 16:
        raise ValueError(f"bits must be an integer from 2 to 16 (the course uses 2-8), got {bits!r}")
    return int(bits)


def _check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be 'affine' or 'symmetric', got {scheme!r}")
    return scheme


def qrange(bits: int, scheme: str = "affine") -> tuple[int, int]:
    """The integer range (qmin, qmax) of a b-bit grid: [0, 2^b - 1] for affine (unsigned),
    [-2^(b-1), 2^(b-1) - 1] for symmetric (signed)."""
    bits, scheme = _check_bits(bits), _check_scheme(scheme)
    return (0, 2 ** bits - 1) if scheme == "affine" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


@dataclass(frozen=True)
class QParams:
    """A quantization grid: ``scale`` and ``zero_point`` (floats/ints, or arrays of one per channel
    along ``axis``), and the integer range [qmin, qmax]."""

    scale: np.ndarray
    zero_point: np.ndarray
    qmin: int
    qmax: int
    axis: int | None = None

    @property
    def bits(self) -> int:
        return int(np.log2(self.qmax - self.qmin + 1))

    def _shaped(self, x: np.ndarray):
        """scale and zero point shaped to broadcast against x (per channel: along ``axis``)."""
        scale = np.asarray(self.scale, dtype=np.float32 if x.dtype == np.float32 else np.float64)
        zero = np.asarray(self.zero_point)
        if self.axis is None:
            return scale, zero
        shape = [1] * x.ndim
        shape[self.axis] = -1
        if scale.size != x.shape[self.axis]:
            raise ValueError(f"{scale.size} scales for axis {self.axis} of size {x.shape[self.axis]}")
        return scale.reshape(shape), zero.reshape(shape)


def _reduce_axes(x: np.ndarray, axis: int | None):
    return None if axis is None else tuple(a for a in range(x.ndim) if a != axis % x.ndim)


def calibrate(x, bits: int = 8, scheme: str = "affine", *, axis: int | None = None,
              method: str = "minmax", percentile: float = 99.99) -> QParams:
    """Choose a grid for the values ``x``: per tensor (``axis=None``) or one per slice along ``axis``.

    method ``"minmax"`` covers [min(x), max(x)] (always including 0, so that 0 is exact);
    ``"percentile"`` covers the [100 - p, p] percentiles instead (clipping rare outliers, a finer
    grid for the rest). Affine: ``scale = (hi - lo) / (qmax - qmin)``, ``zero_point = qmin -
    round(lo / scale)``; symmetric: ``scale = max(|lo|, |hi|) / qmax``, zero point 0.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating) or x.size == 0:
        raise ValueError(f"calibrate needs a non-empty float array, got dtype {x.dtype} and shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("calibrate needs finite values; x contains NaN or inf")
    if axis is not None and not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for an array of shape {x.shape}")
    qmin, qmax = qrange(bits, scheme)
    axes = _reduce_axes(x, axis)
    if method == "minmax":
        lo, hi = x.min(axis=axes), x.max(axis=axes)
    elif method == "percentile":
        if not 50 < percentile <= 100:
            raise ValueError(f"percentile must be in (50, 100], got {percentile!r}")
        lo, hi = np.percentile(x, 100 - percentile, axis=axes), np.percentile(x, percentile, axis=axes)
    else:
        raise ValueError(f"method must be 'minmax' or 'percentile', got {method!r}")
    lo = np.minimum(np.asarray(lo, dtype=np.float64), 0.0)
    hi = np.maximum(np.asarray(hi, dtype=np.float64), 0.0)
    tiny = np.finfo(np.float32).eps
    if scheme == "affine":
        scale = np.maximum((hi - lo) / (qmax - qmin), tiny)
        zero_point = np.clip(qmin - np.round(lo / scale), qmin, qmax).astype(np.int64)
    else:
        scale = np.maximum(np.maximum(-lo, hi) / qmax, tiny)
        zero_point = np.zeros(np.shape(scale), dtype=np.int64)
    scale = scale.astype(np.float32)  # what PyTorch stores (its kernels compute in float32)
    return QParams(scale, zero_point, qmin, qmax, None if axis is None else axis % x.ndim)


def quantize(x, qp: QParams) -> np.ndarray:
    """x (any shape) -> integers q = clamp(round(x / scale) + zero_point, qmin, qmax), as int64.

    Rounds half to even and divides as ``x * (1 / scale)`` in float32, like PyTorch's kernels.
    """
    x = np.asarray(x)
    scale, zero = qp._shaped(x)
    inv_scale = (np.float32(1) / scale.astype(np.float32)) if x.dtype == np.float32 else 1.0 / scale
    return np.clip(np.round(x * inv_scale) + zero, qp.qmin, qp.qmax).astype(np.int64)


def dequantize(q, qp: QParams, dtype=np.float32) -> np.ndarray:
    """Integers q -> real values (q - zero_point) * scale."""
    q = np.asarray(q)
    scale, zero = qp._shaped(q.astype(dtype))
    return ((q - zero) * scale).astype(dtype)


def fake_quantize(x, qp: QParams) -> np.ndarray:
    """dequantize(quantize(x)): x snapped to the grid, in x's dtype (what a quantized model computes
    with). Equals ``torch.fake_quantize_per_tensor_affine`` (``qp.axis`` None) and
    ``torch.fake_quantize_per_channel_affine`` for float32 input."""
    x = np.asarray(x)
    return dequantize(quantize(x, qp), qp, dtype=x.dtype)


def quantization_error(x, qp: QParams) -> float:
    """Root-mean-square error of fake-quantizing x."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean((fake_quantize(x, qp) - x) ** 2)))


# --------------------------------------------------------------------------------------------
# Integer matrix multiply
# --------------------------------------------------------------------------------------------

def int_matmul(qa: np.ndarray, za, qb: np.ndarray, zb) -> np.ndarray:
    """(qa - za) @ (qb - zb)^T with integer inputs (N, K) and (M, K) summed in **int32**: (N, M).

    Each product of two int8 values fits in 16 bits; the int32 accumulator holds sums of up to
    2^31 / 2^14 = 131,072 such products without overflow (checked). ``zb`` may be one zero point per
    row of qb (per channel).
    """
    qa, qb = np.asarray(qa), np.asarray(qb)
    if not (np.issubdtype(qa.dtype, np.integer) and np.issubdtype(qb.dtype, np.integer)):
        raise TypeError(f"int_matmul needs integer arrays, got {qa.dtype} and {qb.dtype}")
    if qa.ndim != 2 or qb.ndim != 2 or qa.shape[1] != qb.shape[1]:
        raise ValueError(f"int_matmul needs qa (N, K) and qb (M, K), got {qa.shape} and {qb.shape}")
    a = (qa.astype(np.int32) - np.int32(za))
    b = (qb.astype(np.int32) - np.asarray(zb, dtype=np.int32).reshape(-1, 1))
    largest = int(np.abs(a).max(initial=0)) * int(np.abs(b).max(initial=0)) * qa.shape[1]
    if largest >= 2 ** 31:
        raise OverflowError(f"the int32 accumulator could overflow: up to {largest:,} >= 2^31")
    return a @ b.T  # int32 @ int32 -> int32 accumulator


def requantize(acc: np.ndarray, multiplier, zero_point: int, qmin: int, qmax: int) -> np.ndarray:
    """An int32 accumulator to the output grid: clamp(round(acc * multiplier) + zero_point).

    ``multiplier = scale_a * scale_b / scale_out`` (one per output column for per-channel weights).
    Integer-only hardware stores it as an int32 times a power of two; here it is a float64.
    """
    return np.clip(np.round(np.asarray(acc, dtype=np.float64) * np.asarray(multiplier, dtype=np.float64))
                   + zero_point, qmin, qmax).astype(np.int64)


def quantized_linear(x, x_qp: QParams, q_weight, w_qp: QParams, bias=None, out_qp: QParams | None = None):
    """x (N, K) float -> quantize -> int matmul with the int weight (M, K) -> float (N, M), or the
    output quantized on ``out_qp`` (integers) when given. Bias is added in float (real kernels
    add it to the int32 sum, quantized with scale_a * scale_b)."""
    qx = quantize(x, x_qp)
    w_scale, w_zero = np.asarray(w_qp.scale, np.float64).reshape(-1), np.asarray(w_qp.zero_point).reshape(-1)
    acc = int_matmul(qx, int(x_qp.zero_point), q_weight, w_zero)
    real_scale = float(x_qp.scale) * w_scale  # (M,) or (1,)
    if out_qp is None:
        out = acc * real_scale
        return out if bias is None else out + bias
    if bias is not None:
        acc = acc + np.round(np.asarray(bias) / real_scale).astype(np.int32)
    return requantize(acc, real_scale / float(out_qp.scale), int(out_qp.zero_point), out_qp.qmin, out_qp.qmax)


def matmul_error_bound(a_hat, b_hat, scale_a, scale_b) -> np.ndarray:
    """The largest possible |a @ b^T - a_hat @ b_hat^T| (N, M) when a and b lie inside their grids'
    ranges and were rounded to a_hat, b_hat (errors at most scale/2 each):
    sum_k |a_hat_k| * s_b / 2 + |b_hat_k| * s_a / 2 + s_a * s_b / 4."""
    a_hat, b_hat = np.abs(np.asarray(a_hat, np.float64)), np.abs(np.asarray(b_hat, np.float64))
    s_a = np.asarray(scale_a, np.float64)
    s_b = np.asarray(scale_b, np.float64).reshape(-1)  # one per row of b (per channel) or one
    k = a_hat.shape[1]
    return (a_hat.sum(1, keepdims=True) * s_b / 2 + (b_hat.sum(1) * s_a / 2)[None, :] + k * s_a * s_b / 4)


# --------------------------------------------------------------------------------------------
# Pruning masks
# --------------------------------------------------------------------------------------------

def _n_to_prune(amount, size: int) -> int:
    """How many of ``size`` to prune: round(amount * size) for a fraction, the number itself for an
    int (PyTorch's rule, Python's round: half to even)."""
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.integer, np.floating)):
        raise TypeError(f"amount must be a fraction in [0, 1] or a number of entries, got {amount!r}")
    if isinstance(amount, (int, np.integer)):
        if not 0 <= amount <= size:
            raise ValueError(f"amount={amount} entries, but there are only {size}")
        return int(amount)
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be a fraction in [0, 1], got {amount!r}")
    return round(float(amount) * size)


def magnitude_mask(w, amount) -> np.ndarray:
    """Unstructured magnitude pruning: a 0/1 mask (w's shape, float) zeroing the ``amount``
    (fraction or count) entries of smallest |w|. Equals ``prune.l1_unstructured``'s mask (ties broken
    differently)."""
    w = np.asarray(w)
    k = _n_to_prune(amount, w.size)
    mask = np.ones(w.size, dtype=w.dtype if np.issubdtype(w.dtype, np.floating) else np.float64)
    if k:
        mask[np.argpartition(np.abs(w).reshape(-1), k - 1)[:k]] = 0
    return mask.reshape(w.shape)


def structured_mask(w, amount, n=2, dim: int = 0) -> np.ndarray:
    """Structured pruning: zero the ``amount`` slices along ``dim`` (rows = output neurons or
    channels for dim 0) with the smallest L_n norm. Equals ``prune.ln_structured``'s mask."""
    w = np.asarray(w)
    if not -w.ndim <= dim < w.ndim:
        raise ValueError(f"dim {dim} is out of range for weights of shape {w.shape}")
    dim = dim % w.ndim
    k = _n_to_prune(amount, w.shape[dim])
    flat = np.abs(np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)).astype(np.float64)
    norms = flat.max(1) if n == np.inf else (flat ** n).sum(1) ** (1.0 / n)
    keep = np.ones(w.shape[dim], dtype=bool)
    if k:
        keep[np.argpartition(norms, k - 1)[:k]] = False
    shape = [1] * w.ndim
    shape[dim] = -1
    mask = np.broadcast_to(keep.reshape(shape), w.shape).astype(w.dtype if np.issubdtype(w.dtype, np.floating)
                                                                else np.float64)
    return mask


def sparsity(w) -> float:
    """The fraction of exact zeros."""
    w = np.asarray(w)
    return float((w == 0).mean()) if w.size else 0.0


# --------------------------------------------------------------------------------------------
# Knowledge distillation
# --------------------------------------------------------------------------------------------

def distillation_loss_forward(student_logits, teacher_logits, T: float = 4.0):
    """T^2 * KL(p || q) averaged over the batch, p = softmax(teacher / T), q = softmax(student / T).

    student_logits, teacher_logits: (N, C). Returns (loss, cache). The T^2 keeps the gradient's
    size independent of T (Hinton et al. 2015). In PyTorch: ``F.kl_div(F.log_softmax(s / T, -1),
    F.softmax(t / T, -1), reduction="batchmean") * T**2``.
    """
    s, t = np.asarray(student_logits, dtype=np.float64), np.asarray(teacher_logits, dtype=np.float64)
    if s.ndim != 2 or s.shape != t.shape:
        raise ValueError(f"student and teacher logits must both be (N, C), got {s.shape} and {t.shape}")
    if not (isinstance(T, (int, float)) and T > 0):
        raise ValueError(f"the temperature T must be a positive number, got {T!r}")
    log_p, log_q = log_softmax(t / T), log_softmax(s / T)
    p = np.exp(log_p)
    loss = T ** 2 * float((p * (log_p - log_q)).sum() / len(s))
    return loss, (np.exp(log_q), p, T)


def distillation_loss_backward(dout: float, cache):
    """d loss / d student_logits (N, C) = dout * T * (q - p) / N."""
    q, p, T = cache
    return dout * T * (q - p) / len(q)


def soft_targets(logits, T: float = 1.0) -> np.ndarray:
    """softmax(logits / T) row-wise: higher T, softer (more of the 'dark knowledge')."""
    return softmax(np.asarray(logits, dtype=np.float64) / T)


# --------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------

def linear_cost(in_features: int, out_features: int, *, bias: bool = True, weight_bits: int = 32,
                bias_bits: int = 32, kept_inputs: int | None = None, kept_outputs: int | None = None) -> dict:
    """Parameters, bytes and MACs per example of one dense layer y = W x + b.

    ``kept_inputs`` / ``kept_outputs``: the layer after structured pruning removed neurons.
    MACs (multiply-accumulates) = in * out; FLOPs are about 2 * MACs.
    """
    i = in_features if kept_inputs is None else kept_inputs
    o = out_features if kept_outputs is None else kept_outputs
    weights, biases = i * o, (o if bias else 0)
    return {"params": weights + biases, "bytes": weights * weight_bits / 8 + biases * bias_bits / 8,
            "macs": i * o}


def mlp_cost(sizes, *, weight_bits: int = 32, nonzero_fraction: float = 1.0, bias: bool = True) -> dict:
    """Cost of an MLP with layer sizes ``[in, h1, ..., out]``. ``nonzero_fraction`` < 1: sparse weights
    stored as values plus a bitmap (1 bit per weight), and the MACs a sparse kernel would do."""
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output size, got {sizes!r}")
    total = {"params": 0, "bytes": 0.0, "macs": 0}
    for i, o in zip(sizes[:-1], sizes[1:]):
        layer = linear_cost(i, o, bias=bias, weight_bits=weight_bits)
        total["params"] += layer["params"]
        if nonzero_fraction < 1.0:
            kept = i * o * nonzero_fraction
            total["bytes"] += kept * weight_bits / 8 + i * o / 8 + (o * 4 if bias else 0)
            total["macs"] += kept
        else:
            total["bytes"] += layer["bytes"]
            total["macs"] += layer["macs"]
    return total
