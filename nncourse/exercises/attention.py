"""Exercises of notebook 08 (attention and transformers), each with a self-check."""
from __future__ import annotations

import numpy as np

from ..attention import causal_mask, scaled_dot_product_attention
from . import CheckResult, check

_RNG = np.random.default_rng(2017)


def check_causal_mask(fn) -> CheckResult:
    """fn(T) -> boolean (T, T) mask, True where query i may attend to key j (j <= i)."""
    cases = [(1,), (2,), (5,), (8,)]
    return check(fn, lambda length: causal_mask(length), cases, name="causal mask",
                 hint="row i is the query, column j the key; position i may see keys 0..i, so the mask is "
                      "True on and below the diagonal - np.tril(np.ones((T, T), dtype=bool)).")


def _attention_reference(Q, K, V):
    return scaled_dot_product_attention(Q, K, V)[0]


def check_attention(fn) -> CheckResult:
    """fn(Q, K, V) -> softmax(Q K^T / sqrt(d)) V for Q (T_q, d), K (T_k, d), V (T_k, d_v)."""
    cases = [(np.eye(2), np.eye(2), np.array([[1.0, 0.0], [0.0, 1.0]])),
             (_RNG.normal(size=(3, 4)), _RNG.normal(size=(5, 4)), _RNG.normal(size=(5, 2))),
             (_RNG.normal(size=(6, 8)), _RNG.normal(size=(6, 8)), _RNG.normal(size=(6, 8)))]
    # large scores: exp overflows unless the row maximum is subtracted first
    cases.append((40 * _RNG.normal(size=(4, 3)), 40 * _RNG.normal(size=(4, 3)), _RNG.normal(size=(4, 3))))
    return check(fn, _attention_reference, cases, name="scaled dot-product attention",
                 hint="scores = Q @ K.T / np.sqrt(d) with d = Q.shape[-1]; softmax over the keys (axis=-1, "
                      "subtracting each row's maximum first so exp cannot overflow); return weights @ V.")


def _flops_reference(length, head_size):
    return 4 * length * length * head_size


def check_attention_flops(fn) -> CheckResult:
    """fn(T, d) -> floating-point operations of one head's Q K^T and weights @ V (T queries and
    keys, head size d), counting a multiply-add as 2 operations and ignoring the softmax."""
    cases = [(1, 1), (2, 3), (128, 64), (1024, 64), (7, 5)]
    return check(fn, _flops_reference, cases, name="attention FLOPs",
                 hint="Q K^T is a (T, d) @ (d, T) product: T*T outputs, each d multiply-adds = 2*T*T*d. "
                      "weights @ V is (T, T) @ (T, d): another 2*T*T*d. Add the two.")
