"""Attention from scratch (taught in notebook 08): scaled dot-product attention and multi-head
self- and cross-attention, forward and backward side by side, checked against PyTorch.

Attention is a *soft dictionary look-up*. Each query ``q_i`` is compared with every key ``k_j``
(a dot product, scaled by ``1/sqrt(d)``), the scores become weights with a softmax over the
keys, and the output is the weighted average of the values::

    scores  = q k^T / sqrt(d)             (..., T_q, T_k)
    weights = softmax(scores + mask)      each row sums to 1
    output  = weights v                   (..., T_q, d_v)

Why ``sqrt(d)``: for random q, k with unit-variance entries, ``q . k`` has variance ``d``, so
without the scale the softmax saturates (one weight near 1, the rest near 0, gradients near 0)
as the head size grows. Notebook 08 shows this.

Masks follow ``torch.nn.functional.scaled_dot_product_attention``: a boolean mask is True where
a query *may* attend to a key; a float mask is *added* to the scores (``-inf`` blocks);
``causal=True`` lets position i see keys 0..i only (top-left aligned when T_q != T_k). A query
that may attend to no key at all gets zero weights and a zero output, as in PyTorch.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .layers import Layer, load_into_torch, _torch_dtype
from .validation import as_array, check_last_dim, check_positive_int


# --- scaled dot-product attention: forward and backward --------------------------------------

def causal_mask(query_length: int, key_length: int | None = None) -> np.ndarray:
    """Boolean (T_q, T_k) mask, True on and below the diagonal: position i sees keys 0..i."""
    query_length = check_positive_int(query_length, "query_length")
    key_length = query_length if key_length is None else check_positive_int(key_length, "key_length")
    return np.tril(np.ones((query_length, key_length), dtype=bool))


def _check_qkv(q, k, v):
    q, k, v = (as_array(a, name) for a, name in ((q, "q"), (k, "k"), (v, "v")))
    for a, name in ((q, "q"), (k, "k"), (v, "v")):
        if a.ndim < 2:
            raise ValueError(f"{name} must be (..., T, d) with at least 2 dimensions, got shape {a.shape}")
    check_last_dim(k, q.shape[-1], "k", what="features (the head size d of q)")
    if q.shape[:-2] != k.shape[:-2] or q.shape[:-2] != v.shape[:-2]:
        raise ValueError(f"q, k and v must share their leading (batch, head) dimensions, got "
                         f"q {q.shape}, k {k.shape}, v {v.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same number of positions T_k, got k {k.shape} and v {v.shape}")
    dtype = np.result_type(q, k, v)
    return q.astype(dtype, copy=False), k.astype(dtype, copy=False), v.astype(dtype, copy=False)


def _additive_mask(mask, causal: bool, score_shape: tuple, dtype) -> np.ndarray | None:
    """Turn the mask arguments into one float array (0 = attend, -inf = blocked), or None."""
    t_q, t_k = score_shape[-2:]
    total = None
    if mask is not None:
        mask = np.asarray(mask.detach().cpu().numpy() if hasattr(mask, "detach") else mask)
        if mask.dtype == bool:
            additive = np.where(mask, 0.0, -np.inf).astype(dtype)
        elif np.issubdtype(mask.dtype, np.floating):
            additive = mask.astype(dtype, copy=False)
        else:
            raise TypeError(f"mask must be boolean (True = may attend) or float (added to the scores), "
                            f"got dtype {mask.dtype}")
        try:
            np.broadcast_shapes(additive.shape, score_shape)
        except ValueError:
            raise ValueError(f"mask of shape {additive.shape} does not broadcast to the attention scores "
                             f"{score_shape} (..., T_q, T_k)") from None
        if np.isnan(additive).any():
            raise ValueError("mask must not contain NaN (use -inf to block a key)")
        total = additive
    if causal:
        blocked = np.where(causal_mask(t_q, t_k), 0.0, -np.inf).astype(dtype)
        total = blocked if total is None else total + blocked
    return total


class AttentionCache(NamedTuple):
    """What :func:`attention_backward` needs from the forward pass."""

    q: np.ndarray        # (..., T_q, d)
    k: np.ndarray        # (..., T_k, d)
    v: np.ndarray        # (..., T_k, d_v)
    weights: np.ndarray  # (..., T_q, T_k), the softmax of the scores
    scale: float         # 1/sqrt(d) unless chosen otherwise


def softmax_rows(scores: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Softmax over the last axis; a row whose every entry is -inf (a query with no allowed key)
    gets weights 0 instead of NaN, as in PyTorch. ``in_place`` overwrites ``scores`` (the kernels
    own their score arrays: a fresh (T, T) temporary per step costs more than the arithmetic)."""
    e = scores if in_place else scores.copy()
    row_max = e.max(axis=-1, keepdims=True)                       # (..., 1): subtract it, exp cannot overflow
    e -= np.where(np.isfinite(row_max), row_max, 0)
    np.exp(e, out=e)
    total = e.sum(axis=-1, keepdims=True)
    e /= np.where(total == 0, 1, total)                           # rows sum to 1
    return e


def attention_forward(q, k, v, mask=None, scale=None):
    """softmax(q k^T * scale + mask) v, the kernel: no checks, returns ``(out, cache)``.

    q (..., T_q, d), k (..., T_k, d), v (..., T_k, d_v); mask None or a float array added to the
    scores (0 = attend, -inf = blocked), broadcastable to (..., T_q, T_k); scale 1/sqrt(d) if None.
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q * scale) @ np.swapaxes(k, -1, -2)                 # (..., T_q, T_k); scaling q is cheaper
    if mask is not None:
        scores += mask
    weights = softmax_rows(scores, in_place=True)                 # (..., T_q, T_k), rows sum to 1
    out = weights @ v                                             # (..., T_q, d_v)
    return out, AttentionCache(q, k, v, weights, scale)


def attention_backward(dout, cache: AttentionCache):
    """The gradients ``(dq, dk, dv)`` of :func:`attention_forward`, given dL/dout (..., T_q, d_v).

    Going back through out = W v, W = softmax(S), S = q k^T * scale (the mask needs no gradient:
    a blocked key has weight 0, so its gradient vanishes by itself)::

        dv = W^T dout                          (..., T_k, d_v)
        dW = dout v^T                          (..., T_q, T_k)
        dS = W * (dW - rowsum(dW * W))         the softmax backward, row by row
        dq = dS k * scale,   dk = dS^T q * scale
    """
    q, k, v, weights, scale = cache
    dv = np.swapaxes(weights, -1, -2) @ dout                      # (..., T_k, d_v)
    dweights = dout @ np.swapaxes(v, -1, -2)                      # (..., T_q, T_k)
    # The softmax backward, dS = W * (dW - rowsum(dW * W)), computed in dweights' own buffer:
    rowsum = np.einsum("...ij,...ij->...i", dweights, weights)[..., None]   # (..., T_q, 1)
    dscores = dweights
    dscores -= rowsum
    dscores *= weights                                            # (..., T_q, T_k)
    dscores *= scale                                              # through S = q k^T * scale
    dq = dscores @ k                                              # (..., T_q, d)
    dk = np.swapaxes(dscores, -1, -2) @ q                         # (..., T_k, d)
    return dq, dk, dv


def scaled_dot_product_attention(q, k, v, mask=None, causal: bool = False, *, scale: float | None = None):
    """softmax(q k^T * scale + mask) v, returning ``(output, weights)`` - the checked wrapper
    around :func:`attention_forward`.

    q: (..., T_q, d), k: (..., T_k, d), v: (..., T_k, d_v) with the same leading dimensions
    (batch, heads). mask: None, boolean (True = may attend) or float (added to the scores),
    broadcastable to (..., T_q, T_k). causal: block keys after the query's position.
    scale: defaults to 1/sqrt(d), as in PyTorch.

    Returns output (..., T_q, d_v) and weights (..., T_q, T_k), rows summing to 1 (0 for a
    query with no allowed key). Same values as ``torch.nn.functional.scaled_dot_product_attention``
    with ``attn_mask=mask, is_causal=causal``; ``weights`` is what the backward pass needs.
    """
    q, k, v = _check_qkv(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    additive = _additive_mask(mask, causal, q.shape[:-1] + k.shape[-2:-1], q.dtype)
    out, cache = attention_forward(q, k, v, additive, scale)
    return out, cache.weights


def scaled_dot_product_attention_backward(dout, q, k, v, weights, *, scale: float | None = None):
    """Gradients ``(dq, dk, dv)`` of ``output = softmax(q k^T * scale + mask) v`` given dL/doutput:
    the checked wrapper around :func:`attention_backward`.

    ``weights`` is the second result of :func:`scaled_dot_product_attention`.
    """
    q, k, v = _check_qkv(q, k, v)
    dout = as_array(dout, "dout").astype(q.dtype, copy=False)
    expected = q.shape[:-1] + v.shape[-1:]
    if dout.shape != expected:
        raise ValueError(f"dout must have the shape of the attention output {expected}, got {dout.shape}")
    weights = as_array(weights, "weights")
    if weights.shape != q.shape[:-1] + k.shape[-2:-1]:
        raise ValueError(f"weights must have shape {q.shape[:-1] + k.shape[-2:-1]} (..., T_q, T_k), "
                         f"got {weights.shape}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return attention_backward(dout, AttentionCache(q, k, v, weights.astype(q.dtype, copy=False), scale))


# --- multi-head self-attention ------------------------------------------------------------------

def _xavier_uniform(rng, shape, dtype):
    fan_out, fan_in = shape
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, shape).astype(dtype)


class MultiHeadAttention(Layer):
    """Multi-head self-attention on (N, T, E), PyTorch's ``nn.MultiheadAttention`` from scratch.

    Each of the ``num_heads`` heads attends in its own ``head_dim = E / num_heads`` subspace::

        q, k, v = split(x @ in_proj_weight^T + in_proj_bias)        each (N, T, E)
        head_h  = attention(q_h, k_h, v_h)                          (N, T, head_dim) per head
        out     = concat(heads) @ out_proj.weight^T + out_proj.bias  (N, T, E)

    Parameters, named and laid out as in PyTorch: ``in_proj_weight`` (3E, E) (the q, k, v
    projections stacked), ``in_proj_bias`` (3E,), ``out_proj.weight`` (E, E), ``out_proj.bias``
    (E,); initialised as PyTorch does (Xavier-uniform projections, zero biases).

    ``causal=True`` lets each position attend to itself and earlier positions only (a
    decoder/GPT). ``forward(x, mask=None)`` also takes an extra mask in the convention of
    :func:`scaled_dot_product_attention` (True = may attend), broadcastable to (N, H, T, T).
    After a forward, ``attention_weights`` holds the weights (N, H, T, T) for plotting.

    **Cross-attention**: ``forward(x, memory=m)`` takes the queries from ``x`` (N, T, E) (the
    decoder) and the keys and values from ``m`` (N, S, E) (the encoder's outputs), so each
    decoder position reads a weighted average of the encoder positions; the weights are
    (N, H, T, S). The projections are the same three blocks of ``in_proj_weight``: W_Q applied to
    x, W_K and W_V to m. PyTorch: ``module(x, m, m)``. After ``backward(dout)`` (which returns
    dL/dx), ``memory_grad`` holds dL/dm.

    ``to_torch()`` returns ``nn.MultiheadAttention(E, H, batch_first=True)``; call it as
    ``m(x, x, x, need_weights=False, attn_mask=m_mask)[0]`` where, for a causal layer,
    ``m_mask = torch.nn.Transformer.generate_square_subsequent_mask(T)`` (note PyTorch's module
    uses the opposite boolean convention from the function: True = *blocked*).
    """

    def __init__(self, embed_dim: int, num_heads: int, *, causal: bool = False, seed: int = 0,
                 dtype=np.float64):
        super().__init__()
        self.embed_dim = check_positive_int(embed_dim, "embed_dim")
        self.num_heads = check_positive_int(num_heads, "num_heads")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.head_dim = embed_dim // num_heads
        self.causal = bool(causal)
        rng = np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(embed_dim)  # nn.Linear's default for out_proj
        self.params["in_proj_weight"] = _xavier_uniform(rng, (3 * embed_dim, embed_dim), dtype)
        self.params["in_proj_bias"] = np.zeros(3 * embed_dim, dtype=dtype)
        self.params["out_proj.weight"] = rng.uniform(-bound, bound, (embed_dim, embed_dim)).astype(dtype)
        self.params["out_proj.bias"] = np.zeros(embed_dim, dtype=dtype)
        self.attention_weights: np.ndarray | None = None
        self.memory_grad: np.ndarray | None = None

    def _split_heads(self, t):
        n, length, _ = t.shape
        return t.reshape(n, length, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)  # (N, H, T, hd)

    def _merge_heads(self, t):
        n, _, length, _ = t.shape
        return t.transpose(0, 2, 1, 3).reshape(n, length, self.embed_dim)  # (N, T, E)

    def forward(self, x, mask=None, *, memory=None):
        x = as_array(x, "x", ndim=3)
        check_last_dim(x, self.embed_dim, "x", what="features (embed_dim)")
        p = {name: value.astype(x.dtype, copy=False) for name, value in self.params.items()}
        if memory is None:   # self-attention: q, k, v all from x
            qkv = x @ p["in_proj_weight"].T + p["in_proj_bias"]             # (N, T, 3E)
            q, k, v = np.split(qkv, 3, axis=-1)                              # (N, T, E) each
        else:                # cross-attention: q from x, k and v from the memory
            memory = as_array(memory, "memory", ndim=3).astype(x.dtype, copy=False)
            check_last_dim(memory, self.embed_dim, "memory", what="features (embed_dim)")
            if memory.shape[0] != x.shape[0]:
                raise ValueError(f"memory must have the batch size of x ({x.shape[0]}), got shape {memory.shape}")
            w_q, w_kv = np.split(p["in_proj_weight"], [self.embed_dim])     # (E, E), (2E, E)
            b_q, b_kv = np.split(p["in_proj_bias"], [self.embed_dim])
            q = x @ w_q.T + b_q                                              # (N, T, E)
            k, v = np.split(memory @ w_kv.T + b_kv, 2, axis=-1)              # (N, S, E) each
        q, k, v = (self._split_heads(t) for t in (q, k, v))                  # (N, H, T or S, hd)
        heads, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=self.causal)
        merged = self._merge_heads(heads)                                  # (N, T, E)
        out = merged @ p["out_proj.weight"].T + p["out_proj.bias"]
        self.attention_weights = weights
        self._cache = {"x": x, "memory": memory, "q": q, "k": k, "v": v, "weights": weights, "merged": merged}
        return out

    def backward(self, dout):
        cache = self._saved()
        x = cache["x"]
        dout = self._check_dout(dout, x.shape).astype(x.dtype, copy=False)
        w_out = self.params["out_proj.weight"].astype(x.dtype, copy=False)
        w_in = self.params["in_proj_weight"].astype(x.dtype, copy=False)
        flat = dout.reshape(-1, self.embed_dim)                                   # (N*T, E)
        self.grads["out_proj.weight"] = flat.T @ cache["merged"].reshape(-1, self.embed_dim)
        self.grads["out_proj.bias"] = flat.sum(axis=0)
        dheads = self._split_heads(dout @ w_out)                                  # (N, H, T, hd)
        dq, dk, dv = scaled_dot_product_attention_backward(
            dheads, cache["q"], cache["k"], cache["v"], cache["weights"])
        dq, dk, dv = (self._merge_heads(d) for d in (dq, dk, dv))                 # (N, T or S, E)
        memory = cache["memory"]
        if memory is None:
            dqkv = np.concatenate([dq, dk, dv], axis=-1)                           # (N, T, 3E)
            dqkv_flat = dqkv.reshape(-1, 3 * self.embed_dim)                      # (N*T, 3E)
            self.grads["in_proj_weight"] = dqkv_flat.T @ x.reshape(-1, self.embed_dim)
            self.grads["in_proj_bias"] = dqkv_flat.sum(axis=0)
            dx, self.memory_grad = dqkv @ w_in, None
        else:  # W_Q saw x, W_K and W_V saw the memory
            dq_flat = dq.reshape(-1, self.embed_dim)                              # (N*T, E)
            dkv = np.concatenate([dk, dv], axis=-1)                               # (N, S, 2E)
            dkv_flat = dkv.reshape(-1, 2 * self.embed_dim)                        # (N*S, 2E)
            self.grads["in_proj_weight"] = np.concatenate(
                [dq_flat.T @ x.reshape(-1, self.embed_dim), dkv_flat.T @ memory.reshape(-1, self.embed_dim)])
            self.grads["in_proj_bias"] = np.concatenate([dq_flat.sum(axis=0), dkv_flat.sum(axis=0)])
            dx = dq @ w_in[:self.embed_dim]                                       # (N, T, E)
            self.memory_grad = dkv @ w_in[self.embed_dim:]                        # (N, S, E)
        for name in self.grads:  # grads live in the parameters' dtype
            self.grads[name] = self.grads[name].astype(self.params[name].dtype, copy=False)
        return dx

    def to_torch(self):
        import torch.nn as nn

        module = nn.MultiheadAttention(self.embed_dim, self.num_heads, batch_first=True,
                                       dtype=_torch_dtype(self.params["in_proj_weight"].dtype))
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return (f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"causal={self.causal})")
