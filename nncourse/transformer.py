"""The transformer, from scratch and at scale (taught in notebook 08).

From scratch in NumPy, on the layer protocol and checked against PyTorch:

* :class:`LayerNorm` - normalise each position's feature vector, like ``nn.LayerNorm``;
* :func:`sinusoidal_positional_encoding` / :class:`SinusoidalPositionalEncoding` - the fixed
  sin/cos position code of "Attention Is All You Need" (2017);
* :class:`PositionalEmbedding` - a learned position vector per position (GPT, BERT);
* :class:`TransformerBlock` - a pre-norm block, ``x + attn(LN(x))`` then ``x + MLP(LN(x))``;
  its twin is PyTorch's own ``nn.TransformerEncoderLayer(norm_first=True)``.

At scale in PyTorch: :class:`GPT`, a small decoder-only (causal) language model in the style of
nanoGPT, using ``F.scaled_dot_product_attention`` (the fused fast path) and keeping the explicit
mask-and-softmax path beside it for looking at the attention weights.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import MultiHeadAttention, causal_mask
from .layers import GELU, Layer, Linear, _torch_dtype, load_into_torch
from .validation import as_array, check_last_dim, check_positive_int


# --- layer normalisation ------------------------------------------------------------------------

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
        mean = x.mean(axis=-1, keepdims=True)
        inv_std = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + self.eps)  # biased variance, as PyTorch
        x_hat = (x - mean) * inv_std
        self._cache = {"x_hat": x_hat, "inv_std": inv_std}
        return x_hat * self.params["weight"].astype(x.dtype, copy=False) + self.params["bias"].astype(x.dtype, copy=False)

    def backward(self, dout):
        cache = self._saved()
        x_hat, inv_std = cache["x_hat"], cache["inv_std"]
        dout = self._check_dout(dout, x_hat.shape).astype(x_hat.dtype, copy=False)
        flat_dout = dout.reshape(-1, self.normalized_shape)   # (positions, E)
        flat_x_hat = x_hat.reshape(-1, self.normalized_shape)  # (positions, E)
        self.grads["weight"] = (flat_dout * flat_x_hat).sum(axis=0).astype(self.params["weight"].dtype)
        self.grads["bias"] = flat_dout.sum(axis=0).astype(self.params["bias"].dtype)
        dx_hat = dout * self.params["weight"].astype(x_hat.dtype, copy=False)
        # x_hat depends on x directly and through the mean and variance: the two subtracted
        # terms remove the components of dx_hat along 1 and along x_hat.
        return inv_std * (dx_hat - dx_hat.mean(axis=-1, keepdims=True)
                          - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True))

    def to_torch(self):
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
        return TorchSinusoidalPositionalEncoding(self.encoding)

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
        module = TorchPositionalEmbedding(self.max_len, self.embed_dim, dtype=_torch_dtype(self.params["weight"].dtype))
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return f"PositionalEmbedding(max_len={self.max_len}, embed_dim={self.embed_dim})"


# --- the transformer block ----------------------------------------------------------------------

class TransformerBlock(Layer):
    """A pre-norm transformer block on (N, T, E), from scratch::

        h   = x + self_attn(norm1(x))                       mix information across positions
        out = h + linear2(gelu(linear1(norm2(h))))          then think per position (the MLP)

    The residual connections (``x + ...``) give gradients a direct path through deep stacks;
    normalising *before* each sub-layer (pre-norm, GPT-2 onwards) trains more stably than the
    original post-norm. Sub-layers are the from-scratch :class:`MultiHeadAttention`,
    :class:`LayerNorm` and :class:`~nncourse.layers.Linear`.

    Parameters are named as in PyTorch's ``nn.TransformerEncoderLayer(norm_first=True)``
    (``self_attn.in_proj_weight``, ``linear1.weight``, ``norm1.weight``, ...), which is what
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
    def children(self) -> dict[str, Layer]:
        return {"self_attn": self.self_attn, "linear1": self.linear1, "linear2": self.linear2,
                "norm1": self.norm1, "norm2": self.norm2}

    # params/grads are views over the sub-layers, named "<child>.<param>" as PyTorch does, and
    # share their arrays, so an optimizer updating params in place updates the sub-layers.
    @property
    def params(self):
        return {f"{c}.{k}": v for c, layer in getattr(self, "children", {}).items() for k, v in layer.params.items()}

    @params.setter
    def params(self, value):  # Layer.__init__ assigns {}; the sub-layers own the arrays
        pass

    @property
    def grads(self):
        return {f"{c}.{k}": v for c, layer in self.children.items() for k, v in layer.grads.items()}

    @grads.setter
    def grads(self, value):
        pass

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

    def zero_grad(self):
        for layer in self.children.values():
            layer.zero_grad()

    def astype(self, dtype):
        for layer in self.children.values():
            layer.astype(dtype)
        return self

    def to_torch(self):
        dtype = _torch_dtype(self.norm1.params["weight"].dtype)
        module = TorchTransformerBlock(self.embed_dim, self.self_attn.num_heads, self.ff_dim,
                                       causal=self.causal, dtype=dtype)
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return (f"TransformerBlock(embed_dim={self.embed_dim}, num_heads={self.self_attn.num_heads}, "
                f"ff_dim={self.ff_dim}, causal={self.causal})")


# --- PyTorch twins of the from-scratch layers ---------------------------------------------------

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
            src_mask = nn.Transformer.generate_square_subsequent_mask(src.shape[-2], device=src.device, dtype=src.dtype)
            is_causal = True
        return super().forward(src, src_mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)


# --- a small GPT in PyTorch (the at-scale part) -------------------------------------------------

@dataclass
class GPTConfig:
    """Sizes of a :class:`GPT`. Defaults: nanoGPT's character-level Tiny Shakespeare model."""

    vocab_size: int = 65     # characters in the corpus
    block_size: int = 256    # context length: the most positions the model sees at once
    n_layer: int = 6         # transformer blocks
    n_head: int = 6          # attention heads per block
    n_embd: int = 384        # embedding width (head size n_embd / n_head = 64)
    dropout: float = 0.2     # on attention weights, residual branches and embeddings
    bias: bool = True        # biases in Linear and LayerNorm layers

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            check_positive_int(getattr(self, name), name)
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: the fused ``F.scaled_dot_product_attention`` for speed,
    and the explicit mask-and-softmax path when the weights are wanted (the two agree; tested).
    The explicit path is for looking (``GPT.attention_maps`` runs it in eval mode): it applies no
    dropout to the attention weights."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, *, return_weights: bool = False, causal: bool = True):
        batch, length, width = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(batch, length, self.n_head, width // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
                   for t in (q, k, v))
        if return_weights:  # explicit path: the weights are the picture
            scores = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])                        # (B, nh, T, T)
            if causal:
                blocked = ~torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
                scores = scores.masked_fill(blocked, float("-inf"))
            weights = F.softmax(scores, dim=-1)
            y = weights @ v                                                                  # (B, nh, T, hs)
        else:
            weights = None
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                               is_causal=causal)
        y = y.transpose(1, 2).contiguous().view(batch, length, width)  # (B, T, C): heads side by side
        y = self.resid_dropout(self.c_proj(y))
        return (y, weights) if return_weights else y


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-norm block, the same computation as the NumPy :class:`TransformerBlock` (causal)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, *, return_weights: bool = False, causal: bool = True):
        if return_weights:
            attended, weights = self.attn(self.ln_1(x), return_weights=True, causal=causal)
        else:
            attended, weights = self.attn(self.ln_1(x), causal=causal), None
        x = x + attended
        x = x + self.mlp(self.ln_2(x))
        return (x, weights) if return_weights else x


class GPT(nn.Module):
    """A decoder-only transformer language model: token ids (B, T) int64 -> logits (B, T, vocab).

    Token embedding + learned position embedding, ``n_layer`` causal pre-norm blocks, a final
    LayerNorm and a linear read-out that shares its weight with the token embedding (weight
    tying, as in GPT-2). Logit t predicts token t + 1 from tokens 0..t only. A sequence longer
    than ``block_size`` is cut to its last ``block_size`` tokens (the context window), so the
    logits then cover those positions only; generation reads just the last one.
    """

    def __init__(self, config: GPTConfig, *, seed: int = 0):
        super().__init__()
        self.config = config
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))
        torch.random.set_rng_state(generator_state)  # building a model does not move the global seed

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        """Trainable parameters (the tied embedding counted once)."""
        return sum(p.numel() for p in self.parameters())

    def _embed(self, idx):
        if idx.dim() != 2:
            raise ValueError(f"GPT takes token ids of shape (B, T), got shape {tuple(idx.shape)}")
        if idx.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"GPT takes integer token ids, got dtype {idx.dtype}")
        idx = idx[:, -self.config.block_size:]  # the context window
        positions = torch.arange(idx.shape[1], device=idx.device)
        return self.drop(self.wte(idx) + self.wpe(positions))  # (B, T, C)

    def forward(self, idx):
        x = self._embed(idx)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))  # (B, T, vocab)

    @torch.no_grad()
    def attention_maps(self, idx, *, causal: bool = True) -> torch.Tensor:
        """Attention weights of every layer and head, (n_layer, B, n_head, T, T), via the explicit path.

        ``causal=False`` lifts the mask the model was trained with, to show what it would look
        at if it could see the future.
        """
        was_training = self.training
        self.eval()
        x = self._embed(idx)
        maps = []
        for block in self.blocks:
            x, weights = block(x, return_weights=True, causal=causal)
            maps.append(weights)
        self.train(was_training)
        return torch.stack(maps)


def gpt_optimizer(lr: float = 1e-3, *, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.99)):
    """An ``optimizer=`` argument for ``nncourse.fit``: AdamW as nanoGPT sets it up.

    Weight decay pulls matrices (embeddings, Linear weights: 2-D and up) towards zero but not
    biases and LayerNorm gains (1-D), whose size carries no risk of over-fitting. ``betas[1] =
    0.99`` (instead of 0.999) because with few tokens per step the second moment should adapt
    faster. Returns ``params -> torch.optim.AdamW``.
    """

    def make(params):
        params = list(params)
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=lr, betas=betas)

    return make


__all__ = ["LayerNorm", "sinusoidal_positional_encoding", "SinusoidalPositionalEncoding", "PositionalEmbedding",
           "TransformerBlock", "TorchTransformerBlock", "TorchPositionalEmbedding",
           "TorchSinusoidalPositionalEncoding", "GPTConfig", "GPT", "CausalSelfAttention", "MLP", "Block", "gpt_optimizer",
           "causal_mask"]
