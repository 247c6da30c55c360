"""The training recipe (taught in notebook 04, section 8): the checks and choices around a training run.

* :func:`update_ratios` — cs231n's "babysitting" number: the size of one update relative to the
  weights, per parameter tensor (about 1e-3 is healthy).
* :func:`smooth_losses`, :func:`lr_range_test`, :func:`suggest_lr` — Smith's (2017) learning-rate
  range test as fast.ai's ``lr_find`` runs it: a geometrically growing rate, a bias-corrected
  exponential moving average of the loss, a stop once that average diverges.
* :func:`one_cycle_lr` — the one-cycle schedule, value for value ``torch.optim.lr_scheduler.OneCycleLR``
  (cosine annealing, two phases).
* :func:`minibatch_gradients`, :func:`gradient_noise`, :func:`gradient_noise_theory` — how far a
  minibatch gradient lies from the full-batch gradient, measured and predicted (∝ 1/B).
* :func:`heavy_ball_rate`, :func:`heavy_ball_matrix`, :func:`heavy_ball_simulate`,
  :func:`heavy_ball_converges` — momentum's phase diagram on a quadratic (Goh, *Why Momentum Really
  Works*, Distill 2017): the rate is the spectral radius of a 2x2 matrix.
* :func:`grid_configs`, :func:`random_configs` — hyperparameter search with the same budget
  (Bergstra & Bengio 2012).

NumPy only; the PyTorch glue (a range test on a ``torch.nn.Module``) is ``nncourse.at_scale.recipe``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .validation import check_positive_int

__all__ = [
    "update_ratios", "smooth_losses", "lr_range_test", "suggest_lr", "one_cycle_lr",
    "minibatch_gradients", "gradient_noise", "gradient_noise_theory",
    "heavy_ball_matrix", "heavy_ball_rate", "heavy_ball_converges", "heavy_ball_simulate",
    "grid_configs", "random_configs",
]


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


# --- sanity checks ---------------------------------------------------------------------------

def update_ratios(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]) -> dict[str, float]:
    """``||after - before|| / ||before||`` for every parameter tensor (cs231n's update/weight ratio).

    before, after: name -> array, the parameters before and after one optimizer step (same names,
    same shapes). A healthy ratio is around 1e-3: much smaller and the rate is too low, near 1e-1
    or above and the step rewrites the weights.
    """
    if set(before) != set(after):
        raise ValueError(f"before and after must hold the same parameters, got {sorted(before)} and {sorted(after)}")
    ratios = {}
    for name, b in before.items():
        b, a = np.asarray(b, dtype=np.float64), np.asarray(after[name], dtype=np.float64)
        if a.shape != b.shape:
            raise ValueError(f"parameter {name!r}: shape {b.shape} before the step, {a.shape} after")
        ratios[name] = float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))
    return ratios


# --- learning-rate range test ----------------------------------------------------------------

def smooth_losses(losses: Sequence[float], beta: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average, as fast.ai's ``lr_find`` smooths its losses.

    ``avg_i = beta * avg_{i-1} + (1 - beta) * loss_i`` from ``avg_{-1} = 0``; returns
    ``avg_i / (1 - beta**(i+1))``, shape (n,) (the division undoes the pull towards the zero start,
    as Adam's bias correction does).
    """
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 1:
        raise ValueError(f"losses must be 1-D, got shape {losses.shape}")
    avg, out = 0.0, np.empty_like(losses)
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out[i] = avg / (1 - beta ** (i + 1))
    return out


def lr_range_test(step: Callable[[float], float], lr_min: float, lr_max: float, num_steps: int, *,
                  beta: float = 0.98, diverge: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smith's learning-rate range test for any model: ``step(lr)`` trains one batch, returns its loss.

    Step i (0-based) uses ``lr_min * (lr_max / lr_min) ** (i / (num_steps - 1))``. The test stops
    early once the smoothed loss (:func:`smooth_losses`) exceeds ``diverge`` times its lowest value
    so far, or the loss is not finite. Returns ``(lrs, losses, smoothed)``, each of shape (n,),
    n <= num_steps (the stopping step included).
    """
    lr_min, lr_max = _positive(lr_min, "lr_min"), _positive(lr_max, "lr_max")
    if lr_max <= lr_min:
        raise ValueError(f"lr_max must exceed lr_min, got lr_min={lr_min:g}, lr_max={lr_max:g}")
    num_steps = check_positive_int(num_steps, "num_steps")
    if num_steps < 2:
        raise ValueError(f"num_steps must be at least 2, got {num_steps}")
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    _positive(diverge, "diverge")
    lrs, losses, smoothed = [], [], []
    avg, best = 0.0, math.inf
    for i in range(num_steps):
        lr = lr_min * (lr_max / lr_min) ** (i / (num_steps - 1))
        loss = float(step(lr))
        avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** (i + 1))
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(smooth)
        if not math.isfinite(smooth) or smooth > diverge * best:
            break
        best = min(best, smooth)
    return np.array(lrs), np.array(losses), np.array(smoothed)


def suggest_lr(lrs: Sequence[float], smoothed: Sequence[float], factor: float = 10.0) -> float:
    """The rate at the lowest smoothed loss, divided by ``factor`` (the usual rule: ten times smaller)."""
    lrs, smoothed = np.asarray(lrs, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    if lrs.shape != smoothed.shape or lrs.ndim != 1 or len(lrs) == 0:
        raise ValueError(f"lrs and smoothed must be 1-D of the same non-zero length, got {lrs.shape} and {smoothed.shape}")
    finite = np.where(np.isfinite(smoothed), smoothed, np.inf)
    return float(lrs[np.argmin(finite)] / _positive(factor, "factor"))


def one_cycle_lr(step: int, max_lr: float, total_steps: int, pct_start: float = 0.3,
                 div_factor: float = 25.0, final_div_factor: float = 1e4) -> float:
    """The one-cycle rate at ``step`` (0-based), equal to ``torch.optim.lr_scheduler.OneCycleLR``.

    Cosine warm-up from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of the
    run, then cosine annealing down to ``max_lr / div_factor / final_div_factor`` at the last step
    ``total_steps - 1`` (PyTorch's defaults: ``anneal_strategy="cos"``, ``three_phase=False``).
    """
    total_steps = check_positive_int(total_steps, "total_steps")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 0 <= step < total_steps:
        raise ValueError(f"step must be an integer in [0, {total_steps - 1}], got {step!r}")
    if not 0 < pct_start < 1:
        raise ValueError(f"pct_start must be in (0, 1), got {pct_start!r}")
    max_lr = _positive(max_lr, "max_lr")
    initial = max_lr / _positive(div_factor, "div_factor")
    final = initial / _positive(final_div_factor, "final_div_factor")
    warm_end = float(pct_start * total_steps) - 1
    if step <= warm_end:
        start, end, pct = initial, max_lr, step / warm_end
    else:
        start, end, pct = max_lr, final, (step - warm_end) / (total_steps - 1 - warm_end)
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


# --- batch size and gradient noise -----------------------------------------------------------

def minibatch_gradients(per_example: np.ndarray, batch_size: int, draws: int,
                        rng: np.random.Generator) -> np.ndarray:
    """Mean gradients of ``draws`` minibatches of ``batch_size`` examples drawn without replacement.

    per_example: (N, D) one flattened gradient per example. Returns (draws, D).
    """
    per_example = np.asarray(per_example, dtype=np.float64)
    if per_example.ndim != 2:
        raise ValueError(f"per_example must be (N, D), one flattened gradient per example, got shape {per_example.shape}")
    n = len(per_example)
    batch_size, draws = check_positive_int(batch_size, "batch_size"), check_positive_int(draws, "draws")
    if batch_size > n:
        raise ValueError(f"batch_size {batch_size} exceeds the {n} examples")
    return np.stack([per_example[rng.choice(n, batch_size, replace=False)].mean(axis=0) for _ in range(draws)])


def gradient_noise(per_example: np.ndarray, batch_sizes: Sequence[int], draws: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Measured ``E ||g_B - g||^2`` for each batch size: ``draws`` minibatches each; shape (len(batch_sizes),)."""
    per_example = np.asarray(per_example, dtype=np.float64)
    full = per_example.mean(axis=0)
    return np.array([np.mean(np.sum((minibatch_gradients(per_example, b, draws, rng) - full) ** 2, axis=1))
                     for b in batch_sizes])


def gradient_noise_theory(per_example: np.ndarray, batch_sizes: Sequence[int]) -> np.ndarray:
    """Exact ``E ||g_B - g||^2`` without replacement: ``sigma^2 / B * (N - B) / (N - 1)``.

    ``sigma^2 = mean_i ||g_i - g||^2`` is the spread of the per-example gradients (N, D).
    """
    per_example = np.asarray(per_example, dtype=np.float64)
    if per_example.ndim != 2 or len(per_example) < 2:
        raise ValueError(f"per_example must be (N, D) with N >= 2, got shape {per_example.shape}")
    n = len(per_example)
    sigma2 = np.mean(np.sum((per_example - per_example.mean(axis=0)) ** 2, axis=1))
    b = np.array([check_positive_int(b, "batch size") for b in batch_sizes], dtype=np.float64)
    if np.any(b > n):
        raise ValueError(f"batch sizes must be at most the {n} examples, got {list(batch_sizes)}")
    return sigma2 / b * (n - b) / (n - 1)


# --- momentum's phase diagram ----------------------------------------------------------------

def heavy_ball_matrix(lr: float, beta: float, curvature: float) -> np.ndarray:
    """The 2x2 map of (x, v) for heavy ball on ``f(x) = curvature * x**2 / 2`` (PyTorch's convention).

    ``v' = beta v + curvature x``, ``x' = x - lr v'``, so ``(x', v') = M (x, v)`` with
    ``M = [[1 - lr*curvature, -lr*beta], [curvature, beta]]``.
    """
    return np.array([[1 - lr * curvature, -lr * beta], [curvature, beta]], dtype=np.float64)


def heavy_ball_rate(lr, beta, curvature=1.0):
    """Spectral radius of :func:`heavy_ball_matrix`, in closed form (broadcasts over arrays).

    The eigenvalues solve ``z^2 - (1 + beta - a) z + beta = 0`` with ``a = lr * curvature``. When the
    discriminant ``(1 + beta - a)^2 - 4 beta`` is negative they are complex (the iterates
    oscillate) and both have modulus ``sqrt(beta)``; otherwise the larger root's modulus. The
    distance to the minimum shrinks like ``rate ** t``: it converges iff ``rate < 1``.
    """
    a = np.asarray(lr, dtype=np.float64) * np.asarray(curvature, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    if np.any(beta < 0):
        raise ValueError("beta must be non-negative")
    b = 1 + beta - a
    disc = b ** 2 - 4 * beta
    real = (np.abs(b) + np.sqrt(np.maximum(disc, 0.0))) / 2
    rate = np.where(disc < 0, np.sqrt(beta), real)
    return rate if rate.ndim else float(rate)


def heavy_ball_converges(lr, beta, curvature=1.0):
    """The closed-form condition ``0 < lr * curvature < 2 (1 + beta)`` and ``0 <= beta < 1``."""
    a = np.asarray(lr, dtype=np.float64) * np.asarray(curvature, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    out = (a > 0) & (a < 2 * (1 + beta)) & (beta >= 0) & (beta < 1)
    return out if out.ndim else bool(out)


def heavy_ball_simulate(lr: float, beta: float, curvature: float, steps: int, x0: float = 1.0) -> np.ndarray:
    """Run heavy ball on ``curvature * x**2 / 2`` from ``x0`` (velocity 0); return x_0 .. x_steps, shape (steps + 1,)."""
    steps = check_positive_int(steps, "steps")
    x, v, path = float(x0), 0.0, [float(x0)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            v = beta * v + curvature * x
            x = x - lr * v
            path.append(x)
    return np.array(path)


# --- hyperparameter search -------------------------------------------------------------------

def _check_ranges(ranges: Mapping[str, tuple[float, float]]) -> None:
    if not ranges:
        raise ValueError("ranges must name at least one hyperparameter")
    for name, bounds in ranges.items():
        if len(bounds) != 2 or not 0 < bounds[0] < bounds[1]:
            raise ValueError(f"range of {name!r} must be (low, high) with 0 < low < high (searched on a log scale), got {bounds!r}")


def grid_configs(ranges: Mapping[str, tuple[float, float]], per_axis: int) -> list[dict[str, float]]:
    """``per_axis ** len(ranges)`` configurations: every combination of ``per_axis`` log-spaced values per range."""
    _check_ranges(ranges)
    per_axis = check_positive_int(per_axis, "per_axis")
    axes = [np.geomspace(low, high, per_axis) for low, high in ranges.values()]
    mesh = np.meshgrid(*axes, indexing="ij")
    return [dict(zip(ranges, (float(m.flat[i]) for m in mesh))) for i in range(mesh[0].size)]


def random_configs(ranges: Mapping[str, tuple[float, float]], n: int,
                   rng: np.random.Generator) -> list[dict[str, float]]:
    """``n`` configurations, each value drawn log-uniformly from its range."""
    _check_ranges(ranges)
    n = check_positive_int(n, "n")
    draws = {name: np.exp(rng.uniform(np.log(low), np.log(high), n)) for name, (low, high) in ranges.items()}
    return [{name: float(draws[name][i]) for name in ranges} for i in range(n)]
