"""A small GPT in PyTorch, nanoGPT-style: the whole model in one file, meant to be read top to bottom.

A decoder-only transformer language model (taught in notebook 08): token ids (B, T) go in,
logits over the vocabulary (B, T, vocab) come out, and logit t predicts token t + 1 from
tokens 0..t only. The pieces, in the order they are used:

* :class:`GPTConfig` - the sizes;
* :class:`CausalSelfAttention` - multi-head attention where each position sees only the past.
  It calls ``F.scaled_dot_product_attention`` (the fused kernel; FlashAttention on recent GPUs)
  and keeps the explicit mask-and-softmax path beside it, which returns the attention weights
  for looking at them (the two agree; tested);
* :class:`MLP` - the per-position feed-forward network (4x wider, GELU);
* :class:`Block` - pre-norm: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``. The same
  computation as the NumPy :class:`nncourse.transformer.TransformerBlock` (tested);
* :class:`GPT` - embeddings, the blocks, a final LayerNorm and the read-out;
* :func:`gpt_optimizer` - AdamW as nanoGPT sets it up.

Shapes: B batch, T positions (time), C = n_embd channels, nh heads, hs = C / nh head size.
After Andrej Karpathy's nanoGPT (https://github.com/karpathy/nanoGPT, MIT licence).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..validation import check_positive_int


@dataclass
class GPTConfig:
    """Sizes of a :class:`GPT`. Defaults: nanoGPT's character-level Tiny Shakespeare model."""

    vocab_size: int = 65     # characters in the corpus
    block_size: int = 256    # context length: the most positions the model sees at once
    n_layer: int = 6         # transformer blocks
    n_head: int = 6          # attention heads per block
    n_embd: int = 384        # embedding width C (head size hs = n_embd / n_head = 64)
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
    """Multi-head (causal) self-attention.

    ``forward(x)`` runs the fused ``F.scaled_dot_product_attention``; ``forward(x,
    return_weights=True)`` runs the explicit path (scores, mask, softmax, weighted sum) and
    also returns the weights (B, nh, T, T). The explicit path is for looking (``GPT.attention_maps``
    runs it in eval mode): it applies no dropout to the weights.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v in one product
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)      # mixes the heads
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, *, return_weights: bool = False, causal: bool = True):
        B, T, C = x.shape                                              # (B, T, C)
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)              # 3 x (B, T, C)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)               # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)               # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)               # (B, nh, T, hs)
        if return_weights:  # the explicit path: softmax(q k^T / sqrt(hs) + mask) v
            scores = q @ k.transpose(-2, -1) / math.sqrt(hs)            # (B, nh, T, T)
            if causal:  # position t may attend to keys 0..t: block everything above the diagonal
                future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(diagonal=1)  # (T, T)
                scores = scores.masked_fill(future, float("-inf"))
            weights = F.softmax(scores, dim=-1)                         # (B, nh, T, T), rows sum to 1
            y = weights @ v                                             # (B, nh, T, hs)
        else:               # the fused path: the same numbers, without storing the (T, T) weights
            weights = None
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                               is_causal=causal)        # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)                # (B, T, C): the heads side by side
        y = self.resid_dropout(self.c_proj(y))                          # (B, T, C)
        return (y, weights) if return_weights else y


class MLP(nn.Module):
    """Per position: C -> 4C -> GELU -> C (the same small network at every position)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):                                               # (B, T, C)
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))       # (B, T, 4C) inside, (B, T, C) out


class Block(nn.Module):
    """Pre-norm block: attention mixes positions, the MLP works per position; each inside a residual."""

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
        x = x + attended                                                # (B, T, C)
        x = x + self.mlp(self.ln_2(x))                                  # (B, T, C)
        return (x, weights) if return_weights else x


class GPT(nn.Module):
    """A decoder-only transformer language model: token ids (B, T) int64 -> logits (B, T, vocab).

    Token embedding + learned position embedding, ``n_layer`` causal pre-norm blocks, a final
    LayerNorm and a linear read-out that shares its weight with the token embedding (weight
    tying, as in GPT-2). A sequence longer than ``block_size`` is cut to its last ``block_size``
    tokens (the context window), so the logits then cover those positions only; generation
    reads just the last one. ``seed`` makes the initial weights reproducible without moving
    PyTorch's global random state.
    """

    def __init__(self, config: GPTConfig, *, seed: int = 0):
        super().__init__()
        self.config = config
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)      # token embedding
        self.wpe = nn.Embedding(config.block_size, config.n_embd)      # position embedding (learned)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: one matrix embeds and reads out
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale the residual projections by depth
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
        idx = idx[:, -self.config.block_size:]                          # (B, T): the context window
        positions = torch.arange(idx.shape[1], device=idx.device)      # (T,)
        return self.drop(self.wte(idx) + self.wpe(positions))           # (B, T, C)

    def forward(self, idx):
        x = self._embed(idx)                                            # (B, T, C)
        for block in self.blocks:
            x = block(x)                                                # (B, T, C)
        return self.lm_head(self.ln_f(x))                               # (B, T, vocab)

    @torch.no_grad()
    def attention_maps(self, idx, *, causal: bool = True) -> torch.Tensor:
        """Attention weights of every layer and head, (n_layer, B, nh, T, T), via the explicit path.

        ``causal=False`` lifts the mask the model was trained with, to show what it would look
        at if it could see the future.
        """
        was_training = self.training
        self.eval()
        x = self._embed(idx)
        maps = []
        for block in self.blocks:
            x, weights = block(x, return_weights=True, causal=causal)  # weights (B, nh, T, T)
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


__all__ = ["GPTConfig", "CausalSelfAttention", "MLP", "Block", "GPT", "gpt_optimizer"]
