"""A memory task with a tunable delay, and the small from-scratch model that learns it (notebook 07).

*Marked recall*: at step 0 the network sees one of ``num_symbols`` symbols (one-hot) together
with a *marker*; then ``delay`` steps of noise arrive on the same symbol channels; at the last
step a *recall* cue asks which symbol was marked. The answer depends only on an input
``delay + 1`` steps back, and everything in between is noise on the very channels that
carried the symbol, so the network must (1) write the symbol when the marker is on, (2) keep
it while ignoring the noise, (3) read it out at the cue. An LSTM's input gate can learn
"write only when marked" - a product of marker and input, which a tanh RNN has no direct way
to form - and its cell state carries the gradient back over the delay. At long delays the LSTM
learns the task on every seed, the RNN only on some (notebook 07; ``benchmarks/memory_task.py``
counts how often).

The model :class:`SequenceClassifier` is a recurrent layer (``RNN`` or ``LSTM`` from
:mod:`nncourse.rnn`) whose last hidden state feeds a ``Linear`` head; :func:`train_memory_task`
trains it with :class:`nncourse.optim.Adam` on fresh batches.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .layers import Container, Linear, load_into_torch
from .losses import cross_entropy
from .rnn import LSTM, RNN
from .validation import check_positive_int

CELLS = {"rnn": RNN, "lstm": LSTM}


def marked_recall(n: int, delay: int, *, num_symbols: int = 4, noise: float = 2.0,
                  seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences of the marked-recall task: X (n, delay + 2, num_symbols + 2), y (n,) int64.

    Channels: ``num_symbols`` symbol channels, then the marker, then the recall cue.
    Step 0: the symbol y as one-hot + marker 1. Steps 1 .. delay: Gaussian noise with standard
    deviation ``noise`` on the symbol channels. Last step: recall cue 1, nothing else.
    Chance accuracy is 1 / num_symbols.
    """
    n = check_positive_int(n, "n")
    if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
        raise ValueError(f"delay must be an integer >= 0, got {delay!r}")
    num_symbols = check_positive_int(num_symbols, "num_symbols")
    if num_symbols < 2:
        raise ValueError(f"num_symbols must be at least 2, got {num_symbols}")
    if not (isinstance(noise, (int, float)) and np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    steps = delay + 2
    X = np.zeros((n, steps, num_symbols + 2))
    y = rng.integers(0, num_symbols, n)
    X[:, 1:-1, :num_symbols] = noise * rng.standard_normal((n, delay, num_symbols))
    X[np.arange(n), 0, y] = 1.0
    X[:, 0, num_symbols] = 1.0       # marker: "remember this one"
    X[:, -1, num_symbols + 1] = 1.0  # cue: "answer now"
    return X, y.astype(np.int64)


class SequenceClassifier(Container):
    """A recurrent layer read out at its last step: x (N, T, D) -> logits (N, num_classes).

    A :class:`~nncourse.layers.Container` with two children, ``rnn`` and ``head``: its parameters
    are theirs, named ``rnn.weight_ih_l0``, ``head.weight``, ... - the names ``to_torch()``'s
    module gives them - and they are the children's own arrays, so an optimizer updating
    ``params`` in place trains the layers.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_classes: int, *, seed: int = 0,
                 forget_bias: float = 0.0, dtype=np.float64):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.cell = cell
        extra = {"forget_bias": forget_bias} if cell == "lstm" else {}
        if cell == "rnn" and forget_bias:
            raise ValueError("forget_bias only applies to cell='lstm' (an RNN has no forget gate)")
        self.rnn = CELLS[cell](input_size, hidden_size, seed=seed, dtype=dtype, **extra)
        self.head = Linear(hidden_size, num_classes, seed=seed + 1, dtype=dtype)

    def forward(self, x):
        hs = self.rnn.forward(x)               # (N, T, H)
        self._cache = {"hs_shape": hs.shape}
        return self.head.forward(hs[:, -1])    # (N, C)

    def backward(self, dout):
        shape = self._saved()["hs_shape"]
        dlast = self.head.backward(dout)        # (N, H)
        dhs = np.zeros(shape, dlast.dtype)
        dhs[:, -1] = dlast                     # only the last step was read out
        return self.rnn.backward(dhs)

    def to_torch(self):
        return load_into_torch(_torch_sequence_classifier(self.rnn.to_torch(), self.head.to_torch()), self.params)

    def __repr__(self) -> str:
        return f"SequenceClassifier({self.rnn!r} -> {self.head!r})"


def _torch_sequence_classifier(rnn, head):
    """The torch twin: rnn (batch-first RNN/LSTM) -> last step -> head (built here: torch loads on demand)."""
    import torch.nn as nn

    class TorchSequenceClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = rnn, head

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])  # (N, T, H) -> (N, H) -> (N, C)

    return TorchSequenceClassifier()


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients together so their global L2 norm is at most ``max_norm`` (in place,
    like ``torch.nn.utils.clip_grad_norm_``); returns the norm before clipping."""
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / (norm + 1e-6)
    return norm


@dataclass
class MemoryResult:
    """What :func:`train_memory_task` measured."""

    cell: str
    delay: int
    accuracy: float                     # on a fresh test set
    losses: list[float] = field(default_factory=list)  # training loss per step
    seconds: float = 0.0
    model: SequenceClassifier | None = None

    def __repr__(self) -> str:
        return (f"MemoryResult({self.cell.upper()}, delay {self.delay}: test accuracy {self.accuracy:.1%}, "
                f"final loss {np.mean(self.losses[-20:]):.3f}, {self.seconds:.1f} s)")


def train_memory_task(cell: str, delay: int, *, hidden_size: int = 32, steps: int = 500, batch_size: int = 32,
                      lr: float | None = None, noise: float = 2.0, num_symbols: int = 4,
                      forget_bias: float | None = None, clip: float = 1.0, seed: int = 0,
                      test_size: int = 1000) -> MemoryResult:
    """Train a from-scratch RNN or LSTM classifier on marked recall and measure test accuracy.

    Each step draws a fresh batch (no over-fitting possible), runs forward, cross-entropy and
    BPTT, clips the global gradient norm at ``clip`` (exploding gradients are the other half of
    the story) and takes an :class:`nncourse.optim.Adam` step. Defaults per cell, chosen by a
    sweep over seeds (see notebook 07): lr 1e-2 for the RNN, 3e-3 and forget_bias 3 for the LSTM.
    """
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    from .optim import Adam

    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    if lr is None:
        lr = 1e-2 if cell == "rnn" else 3e-3
    if forget_bias is None:
        forget_bias = 3.0 if cell == "lstm" else 0.0
    model = SequenceClassifier(cell, num_symbols + 2, hidden_size, num_symbols, seed=seed, forget_bias=forget_bias)
    optimizer = Adam(model.params, lr=lr)
    rng = np.random.default_rng(seed + 1000)
    losses = []
    start = time.perf_counter()
    # small matrices: one BLAS thread is faster than several, and immune to a busy machine
    with threadpool_limits(1):
        for _ in range(steps):
            X, y = marked_recall(batch_size, delay, num_symbols=num_symbols, noise=noise, seed=rng)
            loss, dlogits = cross_entropy(model.forward(X), y)
            model.backward(dlogits)
            grads = model.grads
            clip_grad_norm(grads, clip)
            optimizer.step(grads)
            losses.append(loss)
        X, y = marked_recall(test_size, delay, num_symbols=num_symbols, noise=noise, seed=seed + 10**6)
        accuracy = float(np.mean(model.forward(X).argmax(axis=1) == y))
    return MemoryResult(cell, delay, accuracy, losses, time.perf_counter() - start, model)



# --------------------------------------------------------------------------------------------
# Tasks for notebook 07's later sections: a delayed echo (truncated BPTT) and digit reversal
# (sequence to sequence with attention)
# --------------------------------------------------------------------------------------------


def delayed_echo(n: int, length: int, lag: int, *, num_symbols: int = 4,
                 seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` streams of random symbols and their echo ``lag`` steps later: x, y (n, length) int64.

    ``y[:, t] = x[:, t - lag]`` for ``t >= lag``; the first ``lag`` targets have nothing to echo
    and are ``-1`` (ignore them: ``F.cross_entropy(..., ignore_index=-1)``). Chance accuracy is
    1 / num_symbols. Notebook 07 trains an LSTM on long streams with truncated BPTT: the echo is
    learnable when ``lag`` is shorter than the truncation window, not when it is longer.
    """
    n = check_positive_int(n, "n")
    length = check_positive_int(length, "length")
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or not 0 <= lag < length:
        raise ValueError(f"lag must be an integer with 0 <= lag < length = {length}, got {lag!r}")
    num_symbols = check_positive_int(num_symbols, "num_symbols")
    if num_symbols < 2:
        raise ValueError(f"num_symbols must be at least 2, got {num_symbols}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    x = rng.integers(0, num_symbols, (n, length))
    y = np.full((n, length), -1, dtype=np.int64)
    y[:, lag:] = x[:, :length - lag]
    return x.astype(np.int64), y


def reverse_digits(n: int, length: int, *, num_digits: int = 10,
                   seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random digit strings and their reversals: source, target (n, length) int64.

    The sequence-to-sequence task of notebook 07 (Sutskever et al. 2014 reversed their *inputs*;
    here reversing is the task): the first output digit is the last input digit, so a decoder
    without attention must carry the whole string in one state vector, while attention can look
    it up - the alignment follows the anti-diagonal (a trained model of notebook 07 attends one
    position to the right of the digit it writes: on the digit it was just fed).
    """
    n = check_positive_int(n, "n")
    length = check_positive_int(length, "length")
    num_digits = check_positive_int(num_digits, "num_digits")
    if num_digits < 2:
        raise ValueError(f"num_digits must be at least 2, got {num_digits}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    source = rng.integers(0, num_digits, (n, length)).astype(np.int64)
    return source, source[:, ::-1].copy()
