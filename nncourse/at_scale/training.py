"""The PyTorch side, written once: device choice, seeding, and a small ``fit`` loop.

Introduced in notebook 01's "at scale" section and reused by every later notebook. ``fit``
shows a ``tqdm.auto`` progress bar, returns a :class:`History` of losses and metrics per
epoch, and measures throughput (training samples per second).
"""
from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..validation import check_finite, check_positive_int, check_sample_weight


def get_device(verbose: bool = True):
    """The best available ``torch.device``: CUDA, then Apple's MPS, then the CPU."""
    import torch

    if torch.cuda.is_available():
        device = torch.device("cuda")
        detail = torch.cuda.get_device_name(0)
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device, detail = torch.device("mps"), "Apple GPU"
    else:
        device, detail = torch.device("cpu"), f"{torch.get_num_threads()} threads"
    if verbose:
        print(f"Using device: {device.type} ({detail})")
    return device


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (CPU and all GPUs): same seed, same numbers."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


@dataclass
class History:
    """What ``fit`` measured, one entry per epoch."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)  # e.g. {"val_accuracy": [...]}
    seconds: float = 0.0          # wall-clock training time (evaluation excluded)
    samples_per_sec: float = 0.0  # training throughput
    device: str = "cpu"

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def summary(self) -> str:
        parts = [f"{self.epochs} epochs in {self.seconds:.1f} s on {self.device}",
                 f"{self.samples_per_sec:,.0f} samples/s", f"train loss {self.train_loss[-1]:.4f}"]
        if self.val_loss:
            parts.append(f"val loss {self.val_loss[-1]:.4f}")
        parts += [f"{k} {v[-1]:.4f}" for k, v in self.metrics.items()]
        return " | ".join(parts)

    def plot(self, ax=None, label: str = ""):
        """Loss curves (train solid, validation dashed) on ``ax``; returns the axes."""
        from ..plotting import plot_loss_curves

        return plot_loss_curves(self.train_loss, self.val_loss, ax, label)


def _as_tensor(a, device, name):
    import torch

    if isinstance(a, torch.Tensor):
        t = a
    else:
        arr = np.asarray(a)
        if np.issubdtype(arr.dtype, np.floating):
            check_finite(arr, name)
            arr = arr.astype(np.float32, copy=False)
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_floating_point() and not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite, got {int((~torch.isfinite(t)).sum())} NaN/inf value(s)")
    return t.to(device)


def _check_pair(data, name, device):
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be a pair (X, y) of arrays or tensors, got {type(data).__name__}")
    X, y = (_as_tensor(a, device, f"{name}[{i}]") for i, a in enumerate(data))
    if len(X) != len(y):
        raise ValueError(f"{name}: X and y must have the same number of examples, got {len(X)} and {len(y)}")
    return X, y


def accuracy(logits, y) -> float:
    """Fraction of rows whose arg-max matches the integer label (or, for one output, logit > 0)."""
    if logits.ndim == 1 or logits.shape[-1] == 1:
        pred = (logits.reshape(-1) > 0).to(y.dtype)
        return float((pred == y.reshape(-1)).float().mean())
    return float((logits.argmax(dim=-1) == y).float().mean())


def evaluate(model, data, loss_fn=None, *, batch_size: int = 1024, device=None,
             metrics: dict[str, Callable] | None = None) -> dict[str, float]:
    """Mean loss and metrics of ``model`` on ``data = (X, y)`` without gradients."""
    import torch
    import torch.nn.functional as F

    device = device or next(model.parameters()).device
    loss_fn = loss_fn or F.cross_entropy
    metrics = {"accuracy": accuracy} if metrics is None else metrics
    X, y = _check_pair(data, "data", device)
    was_training = model.training
    model.eval()
    outputs = []
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            outputs.append(model(X[i : i + batch_size]))
    model.train(was_training)
    out = torch.cat(outputs)
    result = {"loss": float(loss_fn(out, y))}
    result.update({name: fn(out, y) for name, fn in metrics.items()})
    return result


def fit(model, train, val=None, *, epochs: int = 5, lr: float = 1e-3, optimizer: str | Callable = "adam",
        loss_fn: Callable | None = None, batch_size: int = 128, weight_decay: float = 0.0,
        metrics: dict[str, Callable] | None = None, device=None, seed: int = 0,
        amp: str | None = None, scheduler: Callable | None = None, sample_weight=None,
        clip_grad_norm: float | None = None, warmup_steps: int = 0,
        progress: bool = True, verbose: bool = True) -> History:
    """Train ``model`` with mini-batches and return its :class:`History`.

    train, val: pairs ``(X, y)`` of arrays or tensors. They are moved to the device once and
        shuffled there each epoch (no per-batch loader: at this size a DataLoader is slower).
    optimizer: ``"sgd"``, ``"momentum"``, ``"adam"``, ``"adamw"``, or a callable
        ``params -> torch.optim.Optimizer``.
    loss_fn: ``(outputs, y) -> scalar``; default ``F.cross_entropy`` (integer class labels).
    metrics: name -> ``fn(outputs, y) -> float`` computed on ``val`` (default: accuracy).
    amp: ``"bf16"`` trains under ``torch.autocast`` in bfloat16 (on CUDA, or the CPU).
    scheduler: optional ``optimizer -> torch.optim.lr_scheduler`` stepped once per epoch.
    sample_weight: optional non-negative weights, shape (N,), one per training example; each batch
        then minimises the weighted mean ``sum(w_i * loss_i) / sum(w_i)``, so ``loss_fn`` must accept
        ``reduction="none"`` (every ``torch.nn.functional`` loss does). Validation stays unweighted.
    clip_grad_norm: if given, rescale the gradient before each step so that its global L2 norm is at
        most this (``torch.nn.utils.clip_grad_norm_``; notebook 07 explains why RNNs need it).
    warmup_steps: raise the learning rate linearly from lr/warmup_steps to lr over the first
        ``warmup_steps`` batches (nanoGPT's warm-up), then leave it to ``scheduler``.
    """
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if clip_grad_norm is not None and not (isinstance(clip_grad_norm, (int, float))
                                           and math.isfinite(clip_grad_norm) and clip_grad_norm > 0):
        raise ValueError(f"clip_grad_norm must be None or a positive finite number, got {clip_grad_norm!r}")
    if not (isinstance(warmup_steps, int) and not isinstance(warmup_steps, bool) and warmup_steps >= 0):
        raise ValueError(f"warmup_steps must be a non-negative integer, got {warmup_steps!r}")
    if amp not in (None, "bf16"):
        raise ValueError(f"amp must be None or 'bf16', got {amp!r}")
    device = torch.device(device) if device is not None else get_device(verbose=False)
    seed_everything(seed)
    model.to(device)
    loss_fn = loss_fn or F.cross_entropy
    X, y = _check_pair(train, "train", device)
    val_data = _check_pair(val, "val", device) if val is not None else None
    weights = None if sample_weight is None else torch.from_numpy(
        check_sample_weight(sample_weight, len(X), require_positive=True).astype(np.float32)).to(device)
    examples = len(X) if weights is None else float(weights.sum())  # what the epoch's mean loss divides by

    params = [p for p in model.parameters() if p.requires_grad]
    if callable(optimizer):
        opt = optimizer(params)
    else:
        factories = {
            "sgd": lambda: torch.optim.SGD(params, lr=lr, weight_decay=weight_decay),
            "momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay),
            "adam": lambda: torch.optim.Adam(params, lr=lr, weight_decay=weight_decay),
            "adamw": lambda: torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay),
        }
        if optimizer not in factories:
            raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(factories)} or a callable")
        opt = factories[optimizer]()
    sched = scheduler(opt) if scheduler is not None else None

    history = History(device=device.type)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    steps_per_epoch = math.ceil(len(X) / batch_size)
    base_lrs = [group["lr"] for group in opt.param_groups]
    step = 0
    with tqdm(total=epochs * steps_per_epoch, desc="training", unit="batch", disable=not progress) as bar:
        for epoch in range(epochs):
            model.train()
            start = time.perf_counter()
            order = torch.randperm(len(X), generator=generator).to(device)
            total = torch.zeros((), device=device)  # summed on the device: no GPU sync per batch
            for i in range(0, len(X), batch_size):
                idx = order[i : i + batch_size]
                xb, yb = X[idx], y[idx]
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp == "bf16"):
                    if weights is None:
                        loss = loss_fn(model(xb), yb)
                    else:
                        wb = weights[idx]
                        loss = (loss_fn(model(xb), yb, reduction="none").float() * wb).sum() / wb.sum().clamp_min(1e-12)
                if step < warmup_steps:  # linear warm-up, per batch
                    for group, base in zip(opt.param_groups, base_lrs):
                        group["lr"] = base * (step + 1) / warmup_steps
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if clip_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
                opt.step()
                step += 1
                total += loss.detach().float() * (len(idx) if weights is None else wb.sum())
                bar.update(1)
            epoch_loss = float(total) / examples  # waits for the device
            history.seconds += time.perf_counter() - start
            if not math.isfinite(epoch_loss):
                raise FloatingPointError(f"the training loss became {epoch_loss} in epoch {epoch + 1}: training "
                                         f"diverged - try a smaller learning rate than lr={lr}")
            history.train_loss.append(epoch_loss)
            if sched is not None:
                sched.step()
            if val_data is not None:
                result = evaluate(model, val_data, loss_fn, device=device, metrics=metrics)
                history.val_loss.append(result.pop("loss"))
                for name, value in result.items():
                    history.metrics.setdefault(f"val_{name}", []).append(value)
            postfix = {"loss": f"{history.train_loss[-1]:.4f}"}
            postfix.update({k: f"{v[-1]:.4f}" for k, v in history.metrics.items()})
            bar.set_postfix(postfix)
    history.samples_per_sec = epochs * len(X) / max(history.seconds, 1e-9)
    if verbose:
        print(history.summary())
    return history
