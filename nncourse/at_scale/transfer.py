"""Transfer learning and self-supervision in PyTorch (notebook 10, "at scale").

* :func:`make_encoder` - a small CNN body: image (N, 1, H, W) -> embedding (N, width).
* :class:`Classifier` - a body and a linear head; :func:`train_steps` trains one with Adam on a
  (small) labelled set, the body at its own (lower) learning rate for fine-tuning, or frozen.
* :func:`embed` - the body's embeddings as a NumPy array (for probes and nearest class means).
* :func:`nt_xent_torch` and :func:`simclr_pretrain` - SimCLR (Chen et al. 2020): two augmented
  views of every image, a projection head, the NT-Xent loss; no labels.
* :func:`label_budget_runs` - the notebook's experiment: for every label budget and seed, the same
  labelled examples for four methods (from scratch, linear probe, fine-tuning, nearest class mean).
* :func:`sample_windows` and :func:`train_lm` - language: pretrain a character GPT
  (:mod:`nncourse.at_scale.gpt`) on one text, fine-tune it on another, optionally **rehearsing**
  the first (a share of every batch drawn from the old text), and record the validation loss on
  every text along the way - which is how catastrophic forgetting is measured.

The NumPy side (augmentations, NT-Xent forward/backward, the probe) is :mod:`nncourse.transfer`.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import transfer
from ..validation import check_positive_int
from .training import seed_everything

METHODS = ("from scratch", "linear probe", "fine-tune", "nearest class mean")


def make_encoder(image_shape=(8, 8), *, channels=(16, 16), seed: int | None = None) -> nn.Sequential:
    """[3x3 conv -> ReLU -> 2x2 max-pool] x 2 -> flatten: (N, 1, H, W) -> (N, width) with
    width = channels[1] * H/4 * W/4 (64 for 8x8 digits); see :func:`encoder_width`.

    No BatchNorm: fine-tuning on 5 labelled images would re-estimate its statistics from 5 images.
    H and W must be multiples of 4 (8x8 digits, 28x28 MNIST).
    """
    height, wide = (check_positive_int(s, "image_shape entries") for s in image_shape)
    if height % 4 or wide % 4:
        raise ValueError(f"image_shape must have sides divisible by 4 (two 2x2 poolings), got {tuple(image_shape)}")
    c1, c2 = (check_positive_int(c, "channels") for c in channels)
    if seed is not None:
        torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # (N, c1, H/2, W/2)
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # (N, c2, H/4, W/4)
        nn.Flatten(),                                                    # (N, c2 * H/4 * W/4)
    )


def encoder_width(image_shape=(8, 8), channels=(16, 16)) -> int:
    """The length of :func:`make_encoder`'s embedding."""
    return channels[1] * (image_shape[0] // 4) * (image_shape[1] // 4)


class Classifier(nn.Module):
    """``head(body(x))``: a (pretrained) body and a new linear head for ``num_classes`` classes."""

    def __init__(self, body: nn.Module, width: int, num_classes: int):
        super().__init__()
        self.body, self.head = body, nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.body(x))


def _tensor(X, dtype=torch.float32):
    return X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X), dtype=dtype)


def embed(body: nn.Module, images, *, batch_size: int = 2048) -> np.ndarray:
    """The body's embeddings of ``images`` (N, 1, H, W), as a float64 NumPy array (N, width)."""
    device = next(body.parameters()).device
    was_training = body.training
    body.eval()
    X = _tensor(images)
    with torch.no_grad():
        out = torch.cat([body(X[i:i + batch_size].to(device)).cpu() for i in range(0, len(X), batch_size)])
    body.train(was_training)
    return out.double().numpy()


def train_steps(model: Classifier, images, labels, *, steps: int = 100, lr: float = 3e-3,
                body_lr: float | None = None, batch_size: int = 256, seed: int = 0) -> list[float]:
    """Adam on cross-entropy for ``steps`` steps (the whole set each step when it fits in a batch).

    ``body_lr``: the body's learning rate (``None``: the same as the head's; ``0``: frozen).
    Returns the loss of every step.
    """
    steps = check_positive_int(steps, "steps")
    body_lr = lr if body_lr is None else body_lr
    device = next(model.parameters()).device
    X, y = _tensor(images).to(device), _tensor(labels, torch.long).to(device)
    groups = [{"params": model.head.parameters(), "lr": lr}]
    if body_lr > 0:
        groups.append({"params": model.body.parameters(), "lr": body_lr})
    opt = torch.optim.Adam(groups)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for _ in range(steps):
        if len(X) > batch_size:
            pick = torch.randint(len(X), (batch_size,), generator=generator).to(device)
            xb, yb = X[pick], y[pick]
        else:
            xb, yb = X, y
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def accuracy(model: nn.Module, images, labels) -> float:
    """Fraction of ``images`` whose arg-max logit is the label."""
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        pred = model(_tensor(images).to(device)).argmax(dim=1).cpu().numpy()
    return float((pred == np.asarray(labels)).mean())


# --------------------------------------------------------------------------------------------
# SimCLR
# --------------------------------------------------------------------------------------------


def nt_xent_torch(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """SimCLR's NT-Xent in PyTorch: a cross-entropy over the other 2N - 1 embeddings whose correct
    class is the other view (the reference for :func:`nncourse.transfer.nt_xent_forward`)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)                          # (2N, D) unit vectors
    n = len(z1)
    s = z @ z.T / temperature
    s = s.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positive = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    return F.cross_entropy(s, positive)


def simclr_pretrain(body: nn.Module, images, *, width: int = 64, projection: int = 32, steps: int = 300,
                    batch_size: int = 256, temperature: float = 0.5, lr: float = 3e-3, seed: int = 0,
                    augment: Callable | None = None, progress: bool = True) -> list[float]:
    """Pretrain ``body`` without labels: every step, two random views of ``batch_size`` images
    (``augment(batch, rng)``, default :func:`nncourse.transfer.augment`), body -> projection MLP ->
    NT-Xent. The projection head is thrown away afterwards (SimCLR found the body's features, before
    it, transfer better). images: (N, 1, H, W) NumPy. Returns the loss of every step."""
    from tqdm.auto import tqdm

    steps = check_positive_int(steps, "steps")
    augment = augment or transfer.augment
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    device = next(body.parameters()).device
    head = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, projection)).to(device)
    opt = torch.optim.Adam([*body.parameters(), *head.parameters()], lr=lr)
    images = np.asarray(images)
    body.train()
    losses = []
    for _ in tqdm(range(steps), desc="SimCLR", unit="step", disable=not progress):
        batch = images[rng.choice(len(images), size=min(batch_size, len(images)), replace=False)]
        v1, v2 = (torch.as_tensor(augment(batch, rng), dtype=torch.float32, device=device) for _ in range(2))
        loss = nt_xent_torch(head(body(v1)), head(body(v2)), temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


# --------------------------------------------------------------------------------------------
# The label-budget experiment
# --------------------------------------------------------------------------------------------


def head_from_probe(head: nn.Linear, probe: transfer.LinearProbe) -> nn.Linear:
    """Set ``head`` to the fitted probe, its standardisation folded in: (x - m) / s @ W + b =
    x @ (W / s) + (b - m / s @ W). The probe's classes become outputs 0..C-1 in sorted order."""
    W = probe.W / probe.std[:, None]                                     # (D, C)
    if head.weight.shape != (W.shape[1], W.shape[0]):
        raise ValueError(f"head is {tuple(head.weight.shape)} (out, in), the probe needs {(W.shape[1], W.shape[0])}")
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(W.T, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(probe.b - probe.mean / probe.std @ probe.W, dtype=head.bias.dtype))
    return head


def label_budget_runs(pretrained: nn.Module, make_body: Callable[[int], nn.Module], train, test, *,
                      budgets: Sequence[int] = (1, 5, 10, 50), seeds: Sequence[int] = (0, 1, 2),
                      width: int = 64, steps: int = 50, lr: float = 3e-3, body_lr: float = 1e-3,
                      probe_loss_and_grad=transfer.probe_loss_and_grad, methods: Sequence[str] = METHODS,
                      progress: bool = True) -> list[dict]:
    """For every seed and budget k: draw k labelled examples per class from ``train = (images,
    labels)`` (the same draw for every method) and measure the test accuracy of

    * ``from scratch``: ``make_body(seed)`` + a head, ``steps`` Adam steps at ``lr``;
    * ``linear probe``: :func:`nncourse.transfer.fit_linear_probe` on the frozen ``pretrained`` body's
      embeddings (with ``probe_loss_and_grad``, the learner's once it passes);
    * ``fine-tune``: a copy of ``pretrained`` + the linear probe as its head ("LP-FT", Kumar et al.
      2022: a random head's large early gradients would scramble the pretrained features), then
      every layer trained, the body at the lower ``body_lr``;
    * ``nearest class mean``: on the frozen embeddings, L2-normalised.

    Labels may be any integers (5..9); they are mapped to 0..C-1 for training. Returns records
    ``{"method", "budget", "seed", "accuracy"}``.
    """
    from tqdm.auto import tqdm

    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; known: {', '.join(METHODS)}")
    (X, y), (X_test, y_test) = train, test
    classes, y_index = np.unique(y, return_inverse=True)
    y_test_index = np.searchsorted(classes, y_test)
    features = embed(pretrained, X) if set(methods) - {"from scratch"} else None
    features_test = embed(pretrained, X_test) if features is not None else None

    def unit(f):
        return f / (np.linalg.norm(f, axis=1, keepdims=True) + 1e-12)

    records = []
    runs = [(seed, k) for seed in seeds for k in budgets]
    for seed, k in tqdm(runs, desc="label budgets", unit="run", disable=not progress):
        pick = transfer.sample_per_class(y, k, np.random.default_rng(1000 * seed + k))
        for method in methods:
            if method == "from scratch":
                model = Classifier(make_body(seed), width, len(classes))
                train_steps(model, X[pick], y_index[pick], steps=steps, lr=lr, seed=seed)
                acc = accuracy(model, X_test, y_test_index)
            elif method == "fine-tune":
                model = Classifier(copy.deepcopy(pretrained), width, len(classes))
                head_from_probe(model.head, transfer.fit_linear_probe(features[pick], y[pick],
                                                                      loss_and_grad=probe_loss_and_grad))
                train_steps(model, X[pick], y_index[pick], steps=steps, lr=lr, body_lr=body_lr, seed=seed)
                acc = accuracy(model, X_test, y_test_index)
            elif method == "linear probe":
                probe = transfer.fit_linear_probe(features[pick], y[pick], loss_and_grad=probe_loss_and_grad)
                acc = probe.accuracy(features_test, y_test)
            else:
                pred = transfer.nearest_class_mean(unit(features[pick]), y[pick], unit(features_test))
                acc = float((pred == y_test).mean())
            records.append({"method": method, "budget": k, "seed": seed, "accuracy": acc})
    return records


# --------------------------------------------------------------------------------------------
# Language: pretraining, fine-tuning and forgetting with a character GPT
# --------------------------------------------------------------------------------------------


def _check_ids(ids, name: str, block_size: int, vocab_size: int) -> torch.Tensor:
    ids = torch.as_tensor(np.asarray(ids) if not isinstance(ids, torch.Tensor) else ids)
    if ids.ndim != 1 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D array of integer character ids, got shape {tuple(ids.shape)} "
                         f"and dtype {ids.dtype}")
    if len(ids) < block_size + 1:
        raise ValueError(f"{name} must hold at least block_size + 1 = {block_size + 1} ids, got {len(ids)}")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"{name} must hold ids in [0, {vocab_size - 1}] (the model's vocabulary), "
                         f"got values from {int(ids.min())} to {int(ids.max())}")
    return ids.long()


def sample_windows(ids: torch.Tensor, block_size: int, batch_size: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` windows at random places of the id stream ``ids`` (L,): inputs X (B, T) and
    targets Y (B, T), ``Y[:, t] = X[:, t + 1]`` - the next character, read off the text itself;
    notebook 10. Every window lies inside the text: starts are drawn from 0 .. L - T - 1."""
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)   # (B,), on the CPU
    offsets = starts[:, None] + torch.arange(block_size + 1)                           # (B, T + 1)
    chunks = ids[offsets.to(ids.device)]                                               # (B, T + 1)
    return chunks[:, :-1], chunks[:, 1:]


def train_lm(model, train_ids, *, steps: int, batch_size: int = 32, lr: float = 3e-3, weight_decay: float = 0.1,
             rehearsal_ids=None, rehearsal_fraction: float = 0.0, eval_sets: dict | None = None,
             eval_every: int = 25, clip_grad_norm: float = 1.0, seed: int = 0) -> dict[str, list]:
    """Train a language model (ids (B, T) -> logits (B, T, V), e.g. a :class:`~nncourse.at_scale.gpt.GPT`)
    on random windows of ``train_ids`` for ``steps`` AdamW steps, in place; notebook 10.

    The same function pretrains (a fresh model), fine-tunes (a pretrained one) and trains from
    scratch. ``rehearsal_fraction`` > 0 draws that share of every batch from ``rehearsal_ids``
    instead (the old text: rehearsal, a remedy for catastrophic forgetting). ``eval_sets`` maps a
    name to fixed windows ``(X, Y)`` (N, T) (e.g. from :func:`nncourse.text.windows`); their loss
    in nats per character is measured before the first step and every ``eval_every`` steps.
    Returns ``{"step": [0, eval_every, ..., steps], name: [loss, ...] for every eval set}``.
    """
    from ..text import evaluate_nats_per_char, lm_loss
    from .gpt import gpt_optimizer

    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    eval_every = check_positive_int(eval_every, "eval_every")
    block_size, vocab_size = model.config.block_size, model.config.vocab_size
    device = next(model.parameters()).device
    ids = _check_ids(train_ids, "train_ids", block_size, vocab_size).to(device)
    if not 0.0 <= rehearsal_fraction < 1.0:
        raise ValueError(f"rehearsal_fraction must be in [0, 1) (the share of each batch from the old text), "
                         f"got {rehearsal_fraction!r}")
    n_old = int(round(rehearsal_fraction * batch_size))
    if rehearsal_fraction > 0 and not 1 <= n_old < batch_size:   # else no rehearsal, or no new text, at all
        raise ValueError(f"rehearsal_fraction * batch_size must round to 1 .. batch_size - 1 old windows per batch, "
                         f"got {rehearsal_fraction!r} * {batch_size} -> {n_old}")
    if n_old and rehearsal_ids is None:
        raise ValueError("rehearsal_fraction > 0 needs rehearsal_ids: the old text to mix into each batch")
    old_ids = _check_ids(rehearsal_ids, "rehearsal_ids", block_size, vocab_size).to(device) if n_old else None
    eval_sets = dict(eval_sets or {})
    if "step" in eval_sets:
        raise ValueError('"step" is reserved for the step numbers; name the evaluation set differently')

    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = gpt_optimizer(lr, weight_decay=weight_decay)(trainable)
    generator = torch.Generator().manual_seed(seed)
    history: dict[str, list] = {"step": [], **{name: [] for name in eval_sets}}

    def record(step):
        history["step"].append(step)
        for name, data in eval_sets.items():
            history[name].append(evaluate_nats_per_char(model, data, device=device))

    record(0)
    model.train()
    for step in range(1, steps + 1):
        X, Y = sample_windows(ids, block_size, batch_size - n_old, generator)             # (B - n_old, T)
        if n_old:
            X_old, Y_old = sample_windows(old_ids, block_size, n_old, generator)          # (n_old, T)
            X, Y = torch.cat([X, X_old]), torch.cat([Y, Y_old])                           # (B, T)
        logits = model(X)                                                                 # (B, T, V)
        loss = lm_loss(logits, Y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, clip_grad_norm)
        opt.step()
        if step % eval_every == 0 or step == steps:
            record(step)
            model.train()
    model.eval()
    return history
