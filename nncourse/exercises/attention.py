"""Exercises of notebook 08 (attention and transformers).

* ``my_causal_mask`` (warm-up): the boolean causal mask; the learner's attention cells then use it.
* ``layernorm_backward`` (substantial): the gradients of LayerNorm, with the paths through the
  mean and the variance; the learner's transformer block backward then uses it, checked against
  PyTorch's autograd.
* ``attention_flops`` (warm-up): the quadratic cost, counted.

Expected answers come from the package (``nncourse.attention.causal_mask``,
``nncourse.transformer.layernorm_backward``, tested against PyTorch); the answers a teacher can
show are in ``nncourse.exercises.solutions.attention``.
"""
from __future__ import annotations

import numpy as np

from .. import transformer
from ..attention import causal_mask
from . import Exercise
from .solutions import attention as solutions

# --- warm-up: the causal mask ---------------------------------------------------------------------


def _mask_compare(got, want, case):
    got = np.asarray(got)
    (length,) = case
    if got.shape != want.shape:
        return f"your mask has shape {got.shape}, expected {want.shape} (queries x keys)."
    if got.dtype != bool:
        return f"return a boolean array (True = may attend), yours has dtype {got.dtype}."
    if np.array_equal(got, np.tril(want, -1)):
        return "position i must also see itself (the diagonal is True)."
    if np.array_equal(got, ~want):
        return ("your mask is the opposite: True must mean 'may attend' (the convention of "
                "F.scaled_dot_product_attention).")
    if length > 1 and np.array_equal(got, want.T):
        return ("your mask lets query i see the keys *after* it (the upper triangle): that is attending "
                "to the future. Row i is the query, column j the key.")
    if not np.array_equal(got, want):
        i, j = np.argwhere(got != want)[0]
        why = "a key at or before the query may be seen" if j <= i else "a later key is the future"
        return f"query {i} and key {j}: yours says {bool(got[i, j])}, but {why}."
    return None


my_causal_mask = Exercise(
    "my_causal_mask", solution=solutions.my_causal_mask, reference=lambda length: causal_mask(length),
    cases=[(5,), (1,), (2,), (8,)], compare=_mask_compare,  # 5 first: it tells the mistakes apart
    hints=["Row i is the query, column j the key. Query i may see keys j <= i.",
           "So the mask is True on and below the diagonal: NumPy has a function for the lower triangle.",
           "np.tril(np.ones((T, T), dtype=bool))"])


# --- substantial: the LayerNorm backward ----------------------------------------------------------

def _layernorm_cases():
    rng = np.random.default_rng(2016)  # Ba, Kiros & Hinton, "Layer Normalization"
    cases = []
    for shape in ((4, 6), (2, 3, 8), (5, 3)):
        x = rng.normal(1.0, 2.0, size=shape)
        gamma, beta = rng.normal(1.0, 0.5, size=shape[-1]), rng.normal(size=shape[-1])
        _, (x_hat, inv_std, _) = transformer.layernorm_forward(x, gamma, beta)
        cases.append((rng.normal(size=shape), x_hat, inv_std, gamma))
    return cases


def _layernorm_reference(dout, x_hat, inv_std, gamma):
    return transformer.layernorm_backward(dout, transformer.LayerNormCache(x_hat, inv_std, gamma))


def _sums(dout, x_hat):
    features = dout.shape[-1]
    return (dout * x_hat).reshape(-1, features).sum(axis=0), dout.reshape(-1, features).sum(axis=0)


def _constants(dout, x_hat, inv_std, gamma):  # the mean and variance treated as constants
    return (dout * gamma * inv_std, *_sums(dout, x_hat))


def _without_mean_path(dout, x_hat, inv_std, gamma):
    g = dout * gamma
    return (inv_std * (g - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)), *_sums(dout, x_hat))


def _without_variance_path(dout, x_hat, inv_std, gamma):
    g = dout * gamma
    return (inv_std * (g - g.mean(axis=-1, keepdims=True)), *_sums(dout, x_hat))


def _without_gamma(dout, x_hat, inv_std, gamma):
    return (_layernorm_reference(dout, x_hat, inv_std, np.ones_like(gamma))[0], *_sums(dout, x_hat))


def _without_inv_std(dout, x_hat, inv_std, gamma):
    return (_layernorm_reference(dout, x_hat, inv_std, gamma)[0] / inv_std, *_sums(dout, x_hat))


def _describe_layernorm(case):
    dout, x_hat, inv_std, gamma = case
    return f"dout and x_hat of shape {dout.shape}, inv_std {inv_std.shape}, gamma {gamma.shape}"


layernorm_backward = Exercise(
    "layernorm_backward", solution=solutions.layernorm_backward, reference=_layernorm_reference,
    cases=_layernorm_cases, describe=_describe_layernorm, output_names=("dx", "dgamma", "dbeta"), atol=1e-10,
    hints=["Start with the easy two: out = x_hat * gamma + beta at every position, so dbeta and dgamma add "
           "up contributions from every position (sum over all axes but the last); dx_hat = dout * gamma.",
           "x_hat = (x - mean) * inv_std, and x moves the mean and the variance of its own position too. "
           "Differentiate all three paths (x directly, through the mean, through inv_std), or think of "
           "the result: dx_hat with two things removed, then scaled by inv_std.",
           "The path through the mean removes the average of dx_hat over the features; the path through "
           "the variance removes x_hat times the average of dx_hat * x_hat. All means over the last axis.",
           "dx = inv_std * (dx_hat - dx_hat.mean(-1, keepdims=True)\n"
           "                - x_hat * (dx_hat * x_hat).mean(-1, keepdims=True))"],
    mistakes=[(_constants, "you treated the mean and the variance as constants (dx = dout * gamma * inv_std): "
                           "they are computed from x, so x reaches x_hat through them too."),
              (_without_mean_path, "your dx has the path through the variance but not the one through the mean."),
              (_without_variance_path, "your dx has the path through the mean but not the one through the "
                                       "variance (inv_std depends on x too)."),
              (_without_gamma, "your dx forgot gamma: the output is x_hat * gamma, so dx_hat = dout * gamma."),
              (_without_inv_std, "your dx is missing the final factor inv_std (x_hat = (x - mean) * inv_std).")])


# --- warm-up: counting the cost -------------------------------------------------------------------

attention_flops = Exercise(
    "attention_flops", solution=solutions.attention_flops, reference=lambda T, d: 4 * T * T * d,
    cases=[(1, 1), (7, 5), (2, 3), (128, 64), (1024, 64)], atol=0, rtol=0,
    hints=["Q K^T is a (T, d) @ (d, T) product: how many outputs, and how many multiply-adds each?",
           "That is T*T outputs of d multiply-adds: 2*T*T*d operations. weights @ V is (T, T) @ (T, d).",
           "Add the two products: 2*T*T*d + 2*T*T*d."],
    mistakes=[(lambda T, d: 2 * T * T * d, "you counted only one of the two matrix products (or a multiply-add "
                                           "as one operation)."),
              (lambda T, d: 4 * T * d, "your count grows linearly with T: every query meets every key."),
              (lambda T, d: 4 * T * T * d * d, "d appears once: each dot product has d terms.")])
