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
* :class:`GPT` - embeddings, the blocks, a final LayerNorm and the read-out; ``GPT.generate``
  continues a sequence, with a :class:`KVCache` (keys and values of the positions already read,
  so each new token costs one position's work instead of re-reading the whole context);
* :func:`gpt_optimizer` - AdamW as nanoGPT sets it up;
* :func:`flops_per_token` - the arithmetic of one token, forward and training (Kaplan et al. 2020).

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


class KVCache:
    """The keys and values every layer has computed so far, one (B, nh, T_past, hs) pair per layer.

    Generating token t+1 needs the keys and values of positions 0..t, but those of 0..t-1 were
    already computed for token t and do not change (causal attention: a position never sees what
    comes after it). The cache keeps them; each step then computes q, k, v for the new position
    only and appends its k, v (taught in notebook 08). ``len(cache)`` is the number of positions
    stored.
    """

    def __init__(self, n_layer: int):
        self.keys: list[torch.Tensor | None] = [None] * check_positive_int(n_layer, "n_layer")
        self.values: list[torch.Tensor | None] = [None] * n_layer

    def __len__(self) -> int:
        return 0 if self.keys[0] is None else self.keys[0].shape[2]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Add the new positions' k, v (B, nh, T_new, hs) to ``layer``; return all (B, nh, T_past + T_new, hs)."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=2)                # (B, nh, T_past + T_new, hs)
            v = torch.cat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def __repr__(self) -> str:
        return f"KVCache(layers={len(self.keys)}, positions={len(self)})"


class CausalSelfAttention(nn.Module):
    """Multi-head (causal) self-attention.

    ``forward(x)`` runs the fused ``F.scaled_dot_product_attention``; ``forward(x,
    return_weights=True)`` runs the explicit path (scores, mask, softmax, weighted sum) and
    also returns the weights (B, nh, T, T). The explicit path is for looking (``GPT.attention_maps``
    runs it in eval mode): it applies no dropout to the weights.

    ``forward(x, cache=kv_cache, layer=i)`` treats ``x`` as the positions that come after the
    ``len(kv_cache)`` positions already cached: their queries attend to the cached keys and
    values and to their own (causally), and their k, v are appended to the cache.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v in one product
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)      # mixes the heads
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, *, return_weights: bool = False, causal: bool = True,
                cache: KVCache | None = None, layer: int = 0):
        B, T, C = x.shape                                              # (B, T, C)
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)              # 3 x (B, T, C)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)               # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)               # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)               # (B, nh, T, hs)
        if cache is not None:  # generation: the new positions attend to the cached past and to themselves
            if return_weights or not causal:
                raise ValueError("a KV cache is for causal generation: no return_weights, causal=True")
            past = 0 if cache.keys[layer] is None else cache.keys[layer].shape[2]
            k, v = cache.append(layer, k, v)                            # (B, nh, past + T, hs)
            # new position i (absolute past + i) may see keys 0..past + i
            allowed = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None if T == 1 else allowed)  # (B, nh, T, hs)
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))
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

    def forward(self, x, *, return_weights: bool = False, causal: bool = True,
                cache: KVCache | None = None, layer: int = 0):
        if return_weights:
            attended, weights = self.attn(self.ln_1(x), return_weights=True, causal=causal)
        else:
            attended, weights = self.attn(self.ln_1(x), causal=causal, cache=cache, layer=layer), None
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

    ``forward(idx, cache=kv_cache)`` reads ``idx`` as the continuation of the positions already in
    ``kv_cache`` (a :class:`KVCache`), which it extends; ``generate`` uses it.
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

    def _embed(self, idx, start: int = 0):
        if idx.dim() != 2:
            raise ValueError(f"GPT takes token ids of shape (B, T), got shape {tuple(idx.shape)}")
        if idx.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"GPT takes integer token ids, got dtype {idx.dtype}")
        if start == 0:
            idx = idx[:, -self.config.block_size:]                      # (B, T): the context window
        positions = torch.arange(start, start + idx.shape[1], device=idx.device)  # (T,)
        return self.drop(self.wte(idx) + self.wpe(positions))           # (B, T, C)

    def forward(self, idx, *, cache: KVCache | None = None):
        if cache is None:
            x = self._embed(idx)                                        # (B, T, C)
            for block in self.blocks:
                x = block(x)                                            # (B, T, C)
            return self.lm_head(self.ln_f(x))                           # (B, T, vocab)
        if not isinstance(cache, KVCache) or len(cache.keys) != self.config.n_layer:
            raise TypeError(f"cache must be a KVCache({self.config.n_layer}) (one entry per layer), got {cache!r}")
        past = len(cache)
        if past + idx.shape[-1] > self.config.block_size:
            raise ValueError(f"the cache holds {past} positions; {idx.shape[-1]} more exceed the context "
                             f"window block_size={self.config.block_size}")
        x = self._embed(idx, start=past)                                # (B, T_new, C): positions past..
        for layer, block in enumerate(self.blocks):
            x = block(x, cache=cache, layer=layer)                      # (B, T_new, C)
        return self.lm_head(self.ln_f(x))                               # (B, T_new, vocab)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens: int, *, temperature: float = 1.0, top_k: int | None = None,
                 seed: int = 0, use_cache: bool = True):
        """Continue token ids ``idx`` (B, T) by ``max_new_tokens``; returns (B, T + max_new_tokens).

        Each new token is drawn from ``softmax(logits / temperature)`` (``temperature=0``: greedy,
        the arg-max; ``top_k``: only the k most likely), with a CPU ``torch.Generator`` seeded by
        ``seed``. ``use_cache=False`` re-runs the whole context (up to ``block_size`` tokens) for
        every token, as nanoGPT's ``generate`` does; ``use_cache=True`` reads the context once and
        then feeds one token per step through a :class:`KVCache` - the same tokens, far less work.
        Once the sequence outgrows ``block_size``, the window slides and every token in it moves
        to a new learned position, so cached keys and values (computed at the old positions) no
        longer apply: the window is then re-read at every step, exactly as without the cache.
        """
        from ..text import next_char_probs

        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
        generator = torch.Generator(device="cpu").manual_seed(seed)
        block_size = self.config.block_size
        was_training = self.training
        self.eval()
        try:
            cache, feed = None, idx[:, -block_size:]
            for _ in range(max_new_tokens):
                if not use_cache:
                    logits = self(idx[:, -block_size:])                 # the whole window, every step
                else:
                    if cache is None or len(cache) + feed.shape[1] > block_size:
                        cache, feed = KVCache(self.config.n_layer), idx[:, -block_size:]  # (re)read the window
                    logits = self(feed, cache=cache)                    # (B, T_feed, vocab)
                probs = next_char_probs(logits[:, -1].cpu(), temperature, top_k)   # (B, vocab)
                next_id = torch.multinomial(probs, 1, generator=generator).to(idx.device)  # (B, 1)
                idx = torch.cat([idx, next_id], dim=1)
                feed = next_id
        finally:
            self.train(was_training)
        return idx

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


def flops_per_token(config: GPTConfig, context: int | None = None) -> dict[str, int]:
    """Floating-point operations per token of a :class:`GPT` (a multiply-add counts 2), by part.

    With C = n_embd, L = n_layer, T = ``context`` (default ``block_size``) and V = vocab_size:

    * ``"weights"``: N = 12 L C^2 + V C, the entries of every weight matrix a token is multiplied
      by (per block 3C^2 for q, k, v, C^2 for the output projection, 8C^2 for the MLP; the
      read-out V C). Biases, LayerNorms and the embedding look-ups do no matrix work.
    * ``"dense"``: 2N, the forward matrix products of one token;
    * ``"attention"``: 4 L T C, the token's query against T keys (2TC) and its weighted sum of T
      values (2TC), in each layer. Dense kernels compute the full T x T score matrix even under
      the causal mask, so T here is the whole context;
    * ``"forward"`` = dense + attention; ``"training"`` = 3 x forward: the backward pass costs
      about twice the forward (a gradient for the inputs and one for the weights of every
      product), hence Kaplan et al.'s (2020) "6N FLOPs per token" when T << 6C.

    Taught in notebook 08 (which checks it with ``torch.utils.flop_counter.FlopCounterMode``).
    """
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
    T = config.block_size if context is None else check_positive_int(context, "context")
    C, L = config.n_embd, config.n_layer
    weights = 12 * L * C * C + config.vocab_size * C
    dense, attention = 2 * weights, 4 * L * T * C
    return {"weights": weights, "dense": dense, "attention": attention,
            "forward": dense + attention, "training": 3 * (dense + attention)}


__all__ = ["GPTConfig", "KVCache", "CausalSelfAttention", "MLP", "Block", "GPT", "gpt_optimizer", "flops_per_token"]
