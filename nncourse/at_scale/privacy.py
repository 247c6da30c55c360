"""DP-SGD at scale with Opacus (notebook 15), and the privacy accountant.

* :func:`dp_fit` trains a PyTorch model with Opacus's ``PrivacyEngine().make_private(module,
  optimizer, data_loader, noise_multiplier, max_grad_norm)``: Poisson-sampled batches, per-sample
  gradients from hooks, clipping to ``max_grad_norm`` and Gaussian noise of std
  ``noise_multiplier * max_grad_norm``; it returns ε for δ from the RDP accountant.
* :func:`epsilon` is that accountant on its own: ε after ``steps`` steps with sampling rate q.
* :func:`opacus_gradient` is the noisy, clipped gradient Opacus computes for one batch (the
  tests compare it with :func:`nncourse.privacy.dp_sgd_step`).
* :func:`train_char_model` and :func:`candidate_log_perplexity` - the Secret Sharer experiment
  (Carlini et al. 2019): a small character LSTM (:class:`nncourse.at_scale.rnn.CharLSTM`) trained
  on text with a canary in it, and the log-perplexity of every candidate secret, batched;
  :func:`nncourse.privacy.exposure` turns them into the canary's exposure.
"""
from __future__ import annotations

import warnings


def epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """ε of (ε, δ)-DP after ``steps`` DP-SGD steps with Poisson sampling rate ``sample_rate``,
    from Opacus's Rényi-DP accountant (Mironov 2017; Abadi et al.'s moments accountant refined)."""
    from opacus.accountants import RDPAccountant

    if noise_multiplier <= 0:
        return float("inf")
    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    return float(accountant.get_epsilon(delta=delta))


def opacus_gradient(model, X, y, *, max_grad_norm: float, noise_multiplier: float, generator=None) -> dict:
    """The gradient Opacus's DPOptimizer hands to the optimizer for the batch (X, y):
    (sum of per-sample clipped gradients + noise) / len(X). Returns {name: tensor}; model unchanged."""
    import torch
    import torch.nn.functional as F
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = GradSampleModule(model)
        opt = DPOptimizer(torch.optim.SGD(wrapped.parameters(), lr=0.0), noise_multiplier=noise_multiplier,
                          max_grad_norm=max_grad_norm, expected_batch_size=len(X), generator=generator)
        opt.zero_grad()
        F.cross_entropy(wrapped(X), y).backward()
        opt.pre_step()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    opt.zero_grad()
    wrapped._close()
    return grads


def dp_fit(model, train, *, noise_multiplier: float, max_grad_norm: float = 1.0, epochs: int = 10,
           lr: float = 0.1, batch_size: int = 64, delta: float = 1e-5, seed: int = 0,
           progress: bool = True) -> float:
    """Train ``model`` in place with DP-SGD through Opacus (plain SGD with momentum 0) and return ε
    for ``delta`` (from the engine's RDP accountant). ``noise_multiplier=0`` clips without noise
    (ε = inf)."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from opacus import PrivacyEngine
    from tqdm.auto import tqdm

    from .training import seed_everything

    seed_everything(seed)
    X, y = (torch.as_tensor(np.asarray(a)) for a in train)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=batch_size,
                                         generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # Opacus warns about secure_mode (not needed for teaching)
        engine = PrivacyEngine(accountant="rdp")
        private_model, optimizer, loader = engine.make_private(
            module=model, optimizer=optimizer, data_loader=loader, noise_multiplier=noise_multiplier,
            max_grad_norm=max_grad_norm, noise_generator=torch.Generator().manual_seed(seed + 1))
        for _ in tqdm(range(epochs), desc=f"DP-SGD (σ={noise_multiplier})", disable=not progress):
            for xb, yb in loader:
                if len(xb) == 0:
                    continue
                optimizer.zero_grad()
                F.cross_entropy(private_model(xb), yb).backward()
                optimizer.step()
        eps = engine.get_epsilon(delta) if noise_multiplier > 0 else float("inf")
    private_model._close()
    return float(eps)


def train_char_model(ids, vocab_size: int, *, steps: int, block_size: int = 32, batch_size: int = 64,
                     embedding_dim: int = 32, hidden_size: int = 64, lr: float = 1e-2, seed: int = 0):
    """A one-layer :class:`~nncourse.at_scale.rnn.CharLSTM` trained with Adam for ``steps`` steps, each
    on ``batch_size`` windows of ``block_size`` characters drawn at random positions of ``ids``
    (N,) int64. Returns (model in eval mode, the last batch's loss in nats per character)."""
    import numpy as np
    import torch

    from ..text import lm_loss
    from .rnn import CharLSTM

    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or len(ids) <= block_size + 1:
        raise ValueError(f"ids must be a 1-D stream longer than block_size + 1 = {block_size + 1}, got shape {ids.shape}")
    torch.manual_seed(seed)
    model = CharLSTM(vocab_size, embedding_dim, hidden_size, num_layers=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    offsets = np.arange(block_size + 1)
    for _ in range(steps):
        starts = rng.integers(0, len(ids) - block_size - 1, batch_size)
        chunk = torch.from_numpy(ids[starts[:, None] + offsets])          # (B, T + 1)
        logits = model(chunk[:, :-1])                                       # (B, T, V)
        loss = lm_loss(logits, chunk[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), loss.item()


def candidate_log_perplexity(model, vocab, prefix: str, candidates, *, context: str = "\n"):
    """Log-perplexity (in nats) of ``prefix + candidate`` after ``context``, for every candidate:
    -sum_t log p(char_t | the characters before it). All candidates must have the same length.

    The prefix is run once; its final LSTM state is shared by the candidates, which then run as
    one batch (R, L) - 10,000 four-digit PINs take a fraction of a second. ``model`` maps ids (B, T)
    to logits (B, T, V) and accepts ``state``/``return_state`` (as CharLSTM does). Returns (R,) float64.
    """
    import numpy as np
    import torch
    import torch.nn.functional as F

    candidates = list(candidates)
    if not candidates or len({len(c) for c in candidates}) != 1:
        raise ValueError("candidates must be a non-empty list of strings of one length")
    head = torch.from_numpy(vocab.encode(context + prefix))[None]           # (1, P + 1)
    tails = torch.from_numpy(np.stack([vocab.encode(c) for c in candidates]))  # (R, L)
    with torch.no_grad():
        logits, (h, c) = model(head, return_state=True)                       # (1, P + 1, V)
        logp = F.log_softmax(logits[0].double(), dim=-1)                      # (P + 1, V)
        prefix_logp = logp[:-1].gather(1, head[0, 1:, None]).sum()            # the shared part
        first = logp[-1][tails[:, 0]]                                         # (R,): each tail's first char
        state = (h.expand(-1, len(tails), -1).contiguous(), c.expand(-1, len(tails), -1).contiguous())
        rest_logp = torch.zeros(len(tails), dtype=torch.float64)
        if tails.shape[1] > 1:
            rest = F.log_softmax(model(tails[:, :-1], state).double(), dim=-1)  # (R, L - 1, V)
            rest_logp = rest.gather(2, tails[:, 1:, None])[..., 0].sum(1)       # (R,)
    return -(prefix_logp + first + rest_logp).numpy()
