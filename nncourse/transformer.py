"""The transformer block from scratch in NumPy (taught in notebook 08), checked against PyTorch.

* :func:`layernorm_forward` / :func:`layernorm_backward` - the LayerNorm kernels, and
  :class:`LayerNorm`, the layer around them (like ``nn.LayerNorm``);
* :func:`sinusoidal_positional_encoding` / :class:`SinusoidalPositionalEncoding` - the fixed
  sin/cos position code of "Attention Is All You Need" (2017);
* :class:`PositionalEmbedding` - a learned position vector per position (GPT, BERT);
* :class:`TransformerBlock` - a pre-norm block, ``x + attn(LN(x))`` then ``x + MLP(LN(x))``;
  its twin is PyTorch's own ``nn.TransformerEncoderLayer(norm_first=True)``.

This module does not import torch (only ``to_torch()`` does). The PyTorch GPT lives in
:mod:`nncourse.at_scale.gpt`; ``nncourse.transformer.GPT`` etc. still resolve to it.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .attention import MultiHeadAttention, causal_mask
from .layers import GELU, Container, Layer, Linear, _torch_dtype, load_into_torch
from .validation import as_array, check_last_dim, check_positive_int


# --- layer normalisation ------------------------------------------------------------------------

class LayerNormCache(NamedTuple):
    """What :func:`layernorm_backward` needs from the forward pass."""

    x_hat: np.ndarray    # (..., E) the normalised input: mean 0, variance 1 at every position
    inv_std: np.ndarray  # (..., 1) 1 / sqrt(var + eps) of each position
    weight: np.ndarray   # (E,) the gain


def layernorm_forward(x, weight, bias, eps: float = 1e-5):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis (E features).

    x (..., E), weight and bias (E,) -> out (..., E) and the cache for :func:`layernorm_backward`.
    """
    mean = x.mean(axis=-1, keepdims=True)                  # (..., 1)
    var = x.var(axis=-1, keepdims=True)                    # (..., 1), biased (divide by E), as PyTorch
    inv_std = 1.0 / np.sqrt(var + eps)                     # (..., 1)
    x_hat = (x - mean) * inv_std                           # (..., E)
    return x_hat * weight + bias, LayerNormCache(x_hat, inv_std, weight)


def layernorm_backward(dout, cache: LayerNormCache):
    """The gradients ``(dx, dweight, dbias)`` of :func:`layernorm_forward` given dL/dout (..., E).

    x_hat depends on x directly *and* through the mean and the variance of its own position;
    those two paths subtract from dx_hat its average and its component along x_hat::

        dbias   = sum over positions of dout              (E,)
        dweight = sum over positions of dout * x_hat      (E,)
        dx_hat  = dout * weight                           (..., E)
        dx      = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))   means over E
    """
    x_hat, inv_std, weight = cache
    features = x_hat.shape[-1]
    dbias = dout.reshape(-1, features).sum(axis=0)                       # (E,)
    dweight = (dout * x_hat).reshape(-1, features).sum(axis=0)           # (E,)
    dx_hat = dout * weight                                               # (..., E)
    dx = inv_std * (dx_hat - dx_hat.mean(axis=-1, keepdims=True)
                    - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True))
    return dx, dweight, dbias


class LayerNorm(Layer):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis, like ``nn.LayerNorm``.

    Each position is normalised on its own (unlike BatchNorm, nothing is shared across the batch),
    so it behaves the same in training and evaluation and for any sequence length.

    Parameters: ``weight`` (E,) initialised to 1, ``bias`` (E,) to 0. forward: (..., E) -> (..., E).
    """

    def __init__(self, normalized_shape: int, *, eps: float = 1e-5, dtype=np.float64):
        super().__init__()
        self.normalized_shape = check_positive_int(normalized_shape, "normalized_shape")
        self.eps = float(eps)
        self.params["weight"] = np.ones(normalized_shape, dtype=dtype)
        self.params["bias"] = np.zeros(normalized_shape, dtype=dtype)

    def forward(self, x):
        x = as_array(x, "x")
        if x.ndim == 0:
            raise ValueError(f"x must be (..., {self.normalized_shape}), got a scalar")
        check_last_dim(x, self.normalized_shape, "x")
        p = {name: value.astype(x.dtype, copy=False) for name, value in self.params.items()}
        out, self._cache = layernorm_forward(x, p["weight"], p["bias"], self.eps)
        return out

    def backward(self, dout):
        cache = self._saved()
        dout = self._check_dout(dout, cache.x_hat.shape).astype(cache.x_hat.dtype, copy=False)
        dx, dweight, dbias = layernorm_backward(dout, cache)
        self.grads["weight"] = dweight.astype(self.params["weight"].dtype, copy=False)
        self.grads["bias"] = dbias.astype(self.params["bias"].dtype, copy=False)
        return dx

    def to_torch(self):
        import torch.nn as nn

        module = nn.LayerNorm(self.normalized_shape, eps=self.eps, dtype=_torch_dtype(self.params["weight"].dtype))
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return f"LayerNorm({self.normalized_shape}, eps={self.eps:g})"


# --- positions ----------------------------------------------------------------------------------

def sinusoidal_positional_encoding(max_len: int, d_model: int, *, base: float = 10000.0,
                                   dtype=np.float64) -> np.ndarray:
    """The (max_len, d_model) matrix PE[pos, 2i] = sin(pos / base^(2i/d)), PE[pos, 2i+1] = cos(...).

    Each pair of columns is a clock turning at its own speed, from one turn per 2π positions
    (column 0) to one turn per 2π·base positions (the last columns): nearby positions get
    similar vectors, and PE[pos + k] is a rotation of PE[pos] for every pos (Vaswani et al., 2017).
    """
    max_len = check_positive_int(max_len, "max_len")
    d_model = check_positive_int(d_model, "d_model")
    if not base > 1:
        raise ValueError(f"base must be a number > 1, got {base!r}")
    positions = np.arange(max_len)[:, None]                           # (max_len, 1)
    frequencies = base ** (-np.arange(0, d_model, 2) / d_model)       # (ceil(d/2),)
    angles = positions * frequencies                                  # (max_len, ceil(d/2))
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return pe.astype(dtype)


def _check_sequence(x, embed_dim: int, max_len: int, who: str):
    x = as_array(x, "x", ndim=3)
    check_last_dim(x, embed_dim, "x", what="features (embed_dim)")
    if x.shape[1] > max_len:
        raise ValueError(f"{who}: sequence length {x.shape[1]} is longer than max_len={max_len} "
                         f"(x has shape {x.shape}, expected (N, T <= {max_len}, {embed_dim}))")
    return x


class SinusoidalPositionalEncoding(Layer):
    """Adds the fixed sinusoidal code: (N, T, E) -> (N, T, E) with x + PE[:T]. No parameters."""

    def __init__(self, max_len: int, embed_dim: int):
        super().__init__()
        self.max_len, self.embed_dim = check_positive_int(max_len, "max_len"), check_positive_int(embed_dim, "embed_dim")
        self.encoding = sinusoidal_positional_encoding(max_len, embed_dim)

    def forward(self, x):
        x = _check_sequence(x, self.embed_dim, self.max_len, "SinusoidalPositionalEncoding")
        self._cache = {"shape": x.shape}
        return x + self.encoding[: x.shape[1]].astype(x.dtype)

    def backward(self, dout):
        return self._check_dout(dout, self._saved()["shape"]).copy()  # d(x + c)/dx = 1

    def to_torch(self):
        return _torch_twins().TorchSinusoidalPositionalEncoding(self.encoding)

    def __repr__(self) -> str:
        return f"SinusoidalPositionalEncoding(max_len={self.max_len}, embed_dim={self.embed_dim})"


class PositionalEmbedding(Layer):
    """A learned vector per position, added to the input: (N, T, E) -> x + weight[:T].

    Parameter ``weight`` (max_len, E), initialised N(0, 1) like ``nn.Embedding``. Only positions
    seen in training learn anything, so unlike the sinusoidal code it cannot go beyond max_len.
    """

    def __init__(self, max_len: int, embed_dim: int, *, seed: int = 0, dtype=np.float64):
        super().__init__()
        self.max_len, self.embed_dim = check_positive_int(max_len, "max_len"), check_positive_int(embed_dim, "embed_dim")
        self.params["weight"] = np.random.default_rng(seed).standard_normal((max_len, embed_dim)).astype(dtype)

    def forward(self, x):
        x = _check_sequence(x, self.embed_dim, self.max_len, "PositionalEmbedding")
        self._cache = {"shape": x.shape}
        return x + self.params["weight"][: x.shape[1]].astype(x.dtype, copy=False)

    def backward(self, dout):
        shape = self._saved()["shape"]
        dout = self._check_dout(dout, shape)
        grad = np.zeros_like(self.params["weight"])
        grad[: shape[1]] = dout.sum(axis=0)  # every sequence in the batch used the same rows
        self.grads["weight"] = grad
        return dout.copy()

    def to_torch(self):
        module = _torch_twins().TorchPositionalEmbedding(self.max_len, self.embed_dim,
                                                         dtype=_torch_dtype(self.params["weight"].dtype))
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return f"PositionalEmbedding(max_len={self.max_len}, embed_dim={self.embed_dim})"


# --- the transformer block ----------------------------------------------------------------------

class TransformerBlock(Container):
    """A pre-norm transformer block on (N, T, E), from scratch::

        h   = x + self_attn(norm1(x))                       mix information across positions
        out = h + linear2(gelu(linear1(norm2(h))))          then think per position (the MLP)

    The residual connections (``x + ...``) give gradients a direct path through deep stacks;
    normalising *before* each sub-layer (pre-norm, GPT-2 onwards) trains more stably than the
    original post-norm. Sub-layers are the from-scratch :class:`MultiHeadAttention`,
    :class:`LayerNorm` and :class:`~nncourse.layers.Linear`.

    A :class:`~nncourse.layers.Container`: the sub-layers assigned in ``__init__`` are its
    children, so its parameters are theirs, named as in PyTorch's
    ``nn.TransformerEncoderLayer(norm_first=True)`` (``self_attn.in_proj_weight``,
    ``linear1.weight``, ``norm1.weight``, ...), which is what
    ``to_torch()`` returns (dropout 0, GELU, batch_first; causal if this block is).
    After a forward, ``attention_weights`` holds the attention (N, H, T, T).
    """

    def __init__(self, embed_dim: int, num_heads: int, *, ff_dim: int | None = None, causal: bool = False,
                 seed: int = 0, dtype=np.float64):
        super().__init__()
        self.embed_dim = check_positive_int(embed_dim, "embed_dim")
        self.ff_dim = check_positive_int(ff_dim if ff_dim is not None else 4 * embed_dim, "ff_dim")
        self.self_attn = MultiHeadAttention(embed_dim, num_heads, causal=causal, seed=seed, dtype=dtype)
        self.linear1 = Linear(embed_dim, self.ff_dim, seed=seed + 1, dtype=dtype)
        self.activation = GELU()
        self.linear2 = Linear(self.ff_dim, embed_dim, seed=seed + 2, dtype=dtype)
        self.norm1 = LayerNorm(embed_dim, dtype=dtype)
        self.norm2 = LayerNorm(embed_dim, dtype=dtype)

    @property
    def causal(self) -> bool:
        return self.self_attn.causal

    @property
    def attention_weights(self):
        return self.self_attn.attention_weights

    def forward(self, x, mask=None):
        x = as_array(x, "x", ndim=3)
        check_last_dim(x, self.embed_dim, "x", what="features (embed_dim)")
        h = x + self.self_attn.forward(self.norm1.forward(x), mask=mask)
        out = h + self.linear2.forward(self.activation.forward(self.linear1.forward(self.norm2.forward(h))))
        self._cache = {"shape": x.shape}
        return out

    def backward(self, dout):
        dout = self._check_dout(dout, self._saved()["shape"])
        # Each residual sends the gradient both around the sub-layer and through it.
        dh = dout + self.norm2.backward(self.linear1.backward(self.activation.backward(self.linear2.backward(dout))))
        return dh + self.norm1.backward(self.self_attn.backward(dh))

    def to_torch(self):
        dtype = _torch_dtype(self.norm1.params["weight"].dtype)
        module = _torch_twins().TorchTransformerBlock(self.embed_dim, self.self_attn.num_heads, self.ff_dim,
                                                      causal=self.causal, dtype=dtype)
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return (f"TransformerBlock(embed_dim={self.embed_dim}, num_heads={self.self_attn.num_heads}, "
                f"ff_dim={self.ff_dim}, causal={self.causal})")


# --- PyTorch twins of the from-scratch layers (built on first use: no torch import above) -------

@functools.cache
def _torch_twins():
    """The ``nn.Module`` classes that ``to_torch()`` returns for the layers above."""
    import torch
    import torch.nn as nn

    class TorchSinusoidalPositionalEncoding(nn.Module):
        """x + PE[:T] with the code kept as a (non-trained) buffer."""

        def __init__(self, encoding: np.ndarray):
            super().__init__()
            self.register_buffer("encoding", torch.from_numpy(np.array(encoding)))

        def forward(self, x):
            return x + self.encoding[: x.shape[-2]].to(x.dtype)

    class TorchPositionalEmbedding(nn.Embedding):
        """An ``nn.Embedding`` of positions whose forward adds row t to position t of x (N, T, E)."""

        def forward(self, x):
            return x + self.weight[: x.shape[-2]]

    class TorchTransformerBlock(nn.TransformerEncoderLayer):
        """``nn.TransformerEncoderLayer`` set up as the pre-norm GELU block above (dropout 0,
        batch_first); when ``causal`` it applies the causal mask itself if no mask is given."""

        def __init__(self, d_model: int, nhead: int, dim_feedforward: int, *, causal: bool = False, dtype=None):
            super().__init__(d_model, nhead, dim_feedforward, dropout=0.0, activation="gelu", batch_first=True,
                             norm_first=True, dtype=dtype)
            self.causal = causal

        def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
            if self.causal and src_mask is None:
                src_mask = nn.Transformer.generate_square_subsequent_mask(src.shape[-2], device=src.device,
                                                                          dtype=src.dtype)
                is_causal = True
            return super().forward(src, src_mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                                   is_causal=is_causal)

    for cls in (TorchSinusoidalPositionalEncoding, TorchPositionalEmbedding, TorchTransformerBlock):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
    return type("TorchTwins", (), {cls.__name__: cls for cls in (
        TorchSinusoidalPositionalEncoding, TorchPositionalEmbedding, TorchTransformerBlock)})


_TWINS = {"TorchSinusoidalPositionalEncoding", "TorchPositionalEmbedding", "TorchTransformerBlock"}
_AT_SCALE = {"GPTConfig", "GPT", "CausalSelfAttention", "MLP", "Block", "gpt_optimizer"}


def __getattr__(name: str):
    """``nncourse.transformer.GPT`` and the ``Torch...`` twins, imported (with torch) on first use."""
    if name in _TWINS:
        return getattr(_torch_twins(), name)
    if name in _AT_SCALE:
        from .at_scale import gpt

        return getattr(gpt, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LayerNorm", "LayerNormCache", "layernorm_forward", "layernorm_backward", "sinusoidal_positional_encoding",
           "SinusoidalPositionalEncoding", "PositionalEmbedding", "TransformerBlock", "causal_mask"]
