"""A character-level LSTM language model in PyTorch (notebook 07, "at scale"), and truncated BPTT.

Embedding -> ``nn.LSTM`` (batch-first) -> linear head: ids (B, T) int64 -> logits (B, T, V).
It is the PyTorch twin of what notebook 07 builds from scratch in :mod:`nncourse.rnn`, trained
with ``nncourse.fit(model, (X, Y), (Xv, Yv), loss_fn=nncourse.text.lm_loss, metrics={})``.

This module imports torch at the top (it defines an ``nn.Module``), so ``import nncourse``
does not import it: use ``from nncourse.at_scale.rnn import CharLSTM``.
"""
from __future__ import annotations

import torch
from torch import nn

from ..validation import check_positive_int


class CharLSTM(nn.Module):
    """ids (B, T) -> logits (B, T, vocab_size); optionally carries the LSTM state.

    ``forward(x, state=None, return_state=False)``: with ``return_state=True`` it returns
    ``(logits, (h, c))`` with h, c of shape (num_layers, B, hidden_size), which
    :func:`nncourse.text.generate` uses to sample one character per step
    (``supports_state = True`` tells it so).
    """

    supports_state = True

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.0):
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.embedding = nn.Embedding(vocab_size, check_positive_int(embedding_dim, "embedding_dim"))
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None, return_state: bool = False):
        if x.ndim != 2 or x.dtype != torch.long:
            raise ValueError(f"CharLSTM takes ids of shape (batch, time) and dtype int64, got shape "
                             f"{tuple(x.shape)} and dtype {x.dtype}")
        embedded = self.embedding(x)               # (B, T, E)
        if x.shape[1] == 1 and not torch.is_grad_enabled() and not (self.training and self.lstm.dropout):
            hidden, state = self._one_step(embedded, state)  # sampling: one character at a time
        else:
            hidden, state = self.lstm(embedded, state)  # (B, T, H); state: 2 x (L, B, H)
        logits = self.head(hidden)                 # (B, T, V)
        return (logits, state) if return_state else logits

    def _one_step(self, embedded, state):
        """One time step through every layer with the fused ``torch.lstm_cell``: the same numbers as
        ``self.lstm`` (to float rounding), several times faster for T = 1 than nn.LSTM's sequence
        kernel - what :func:`nncourse.text.generate` calls once per sampled character."""
        batch = embedded.shape[0]
        if state is None:
            zeros = embedded.new_zeros(self.num_layers, batch, self.hidden_size)
            state = (zeros, zeros)
        h0, c0 = state
        inputs, hs, cs = embedded[:, 0], [], []
        for layer in range(self.num_layers):
            weights = [getattr(self.lstm, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h, c = torch.lstm_cell(inputs, (h0[layer], c0[layer]), *weights)
            hs.append(h)
            cs.append(c)
            inputs = h
        return inputs[:, None], (torch.stack(hs), torch.stack(cs))


class EchoLSTM(nn.Module):
    """symbols (B, T) -> logits (B, T, num_symbols) and the LSTM state: the model of notebook 07's
    truncated-BPTT experiment (:func:`nncourse.sequence_tasks.delayed_echo`)."""

    def __init__(self, num_symbols: int = 4, embedding_dim: int = 8, hidden_size: int = 32):
        super().__init__()
        self.num_symbols = check_positive_int(num_symbols, "num_symbols")
        self.embedding = nn.Embedding(num_symbols, check_positive_int(embedding_dim, "embedding_dim"))
        self.lstm = nn.LSTM(embedding_dim, check_positive_int(hidden_size, "hidden_size"), batch_first=True)
        self.head = nn.Linear(hidden_size, num_symbols)

    def forward(self, x, state=None):
        hidden, state = self.lstm(self.embedding(x), state)  # (B, T, H); state: 2 x (1, B, H)
        return self.head(hidden), state


def train_truncated_bptt(model: nn.Module, x, y, window: int, *, lr: float = 1e-2, clip: float = 1.0) -> list[float]:
    """Truncated BPTT over long streams x, y (B, L) int64 (y = -1: no target), ``window`` steps at a time.

    The state is carried from one window to the next - forward, the model still sees the whole
    past - but *detached*, so each backward pass stops at the window's start: a dependency
    longer than ``window`` steps sends no gradient (notebook 07). Adam, gradient norm clipped
    at ``clip``; returns the loss of every window.
    """
    import torch.nn.functional as F

    window = check_positive_int(window, "window")
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    state, losses = None, []
    for start in range(0, x.shape[1] - window + 1, window):
        logits, state = model(x[:, start:start + window], state)
        state = tuple(s.detach() for s in state)   # keep the values, cut the graph
        loss = F.cross_entropy(logits.flatten(0, 1), y[:, start:start + window].flatten(), ignore_index=-1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        losses.append(loss.item())
    return losses
