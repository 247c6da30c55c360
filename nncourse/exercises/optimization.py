"""Exercises of notebook 04 (optimization).

Warm-ups: ``momentum_step`` and ``adam_step`` (one update each, checked against ``nncourse.optim``,
which the tests check against ``torch.optim``). Substantial: ``lr_range_test`` (Smith 2017, fast.ai's
``lr_find``) on a real model, whose result picks the learning rate the notebook trains with next.
Debugging: ``fixed_train``, a training loop with a planted bug that silently under-trains.
The answers are in ``nncourse.exercises.solutions.optimization``.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import optim
from . import Exercise
from .solutions import optimization as solutions


# -- warm-ups: one optimizer step ------------------------------------------------------------------
def _momentum_reference(p, g, velocity, lr, momentum):
    params = {"p": np.array(p, dtype=float)}
    opt = optim.SGD(params, lr=lr, momentum=momentum)
    if np.any(velocity != 0):  # continue from the given velocity, as PyTorch's buffer would
        opt.state["p"] = {"momentum_buffer": np.array(velocity, dtype=float)}
    opt.step({"p": np.array(g, dtype=float)})
    return params["p"], opt.state["p"]["momentum_buffer"]


def _momentum_cases():
    rng = np.random.default_rng(2014)
    cases = [(np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([0.2, -0.1]), 0.1, 0.9)]
    return cases + [(rng.normal(size=4), rng.normal(size=4), rng.normal(size=4), 0.05, m) for m in (0.5, 0.9, 0.99)]


momentum_step = Exercise(
    "momentum_step", solution=solutions.momentum_step, reference=_momentum_reference, cases=_momentum_cases,
    output_names=("new_p", "new_velocity"),
    hints=["Two lines: first update the velocity from the old velocity and the gradient, then move p.",
           "PyTorch's velocity is momentum * velocity + g (no (1 - momentum) factor, no lr inside).",
           "p moves by -lr * (the new velocity). Return (new_p, new_velocity)."],
    mistakes=[(lambda p, g, v, lr, m: (p - lr * (m * v + (1 - m) * g), m * v + (1 - m) * g),
               "you damped the gradient by (1 - momentum): that is another convention, not PyTorch's."),
              (lambda p, g, v, lr, m: (p - lr * (m * v + g), m * v + lr * g),
               "your velocity includes the learning rate; in PyTorch's convention it sums raw gradients."),
              (lambda p, g, v, lr, m: (p - lr * v, m * v + g),
               "you moved p with the *old* velocity; update the velocity first, then step with it.")])


def _adam_reference(p, g, m, v, t, lr, beta1, beta2, eps):
    params = {"p": np.array(p, dtype=float)}
    opt = optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=eps)
    opt.state["p"] = {"step": t - 1, "exp_avg": np.array(m, dtype=float), "exp_avg_sq": np.array(v, dtype=float)}
    opt.step({"p": np.array(g, dtype=float)})
    return params["p"], opt.state["p"]["exp_avg"], opt.state["p"]["exp_avg_sq"]


def _adam_cases():
    rng = np.random.default_rng(2015)  # Kingma & Ba's year
    cases = [(np.array([1.0, -1.0]), np.array([0.1, -3.0]), np.zeros(2), np.zeros(2), 1, 0.01, 0.9, 0.999, 1e-8)]
    for t in (2, 5, 50):
        cases.append((rng.normal(size=3), rng.normal(size=3), 0.1 * rng.normal(size=3),
                      rng.uniform(0.01, 1, size=3), t, 0.001, 0.9, 0.999, 1e-8))
    return cases


def _adam_without_correction(p, g, m, v, t, lr, beta1, beta2, eps):
    m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g**2
    return p - lr * m / (np.sqrt(v) + eps), m, v


def _adam_returning_corrected(p, g, m, v, t, lr, beta1, beta2, eps):
    m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m_hat, v_hat


adam_step = Exercise(
    "adam_step", solution=solutions.adam_step, reference=_adam_reference, cases=_adam_cases,
    output_names=("new_p", "new_m", "new_v"),
    hints=["Three stages: update the two running averages, correct their bias, then step.",
           "m = beta1*m + (1-beta1)*g and v = beta2*v + (1-beta2)*g**2; both start at 0, so early on they "
           "are too small: divide by (1 - beta**t).",
           "p = p - lr * m_hat / (sqrt(v_hat) + eps). Return (p, m, v) - the uncorrected m and v, which "
           "the next step continues from."],
    mistakes=[(_adam_without_correction, "the step is off: did you leave out the bias correction (1 - beta**t)?"),
              (_adam_returning_corrected, "the new p is right, but return the *uncorrected* m and v: the next "
                                          "step continues from them.")])


# -- substantial: the learning-rate range test -----------------------------------------------------
_PRISTINE: dict[int, object] = {}  # id(model) -> an untouched copy, so the reference starts where the learner did


def _range_test_cases():
    import torch
    import torch.nn as nn

    from ..data import load_digits

    _PRISTINE.clear()  # only the cases of the check running now
    digits = load_digits()
    rng = np.random.default_rng(2017)  # Smith's year
    X = torch.from_numpy(digits.X_train.astype(np.float32))
    y = torch.from_numpy(digits.y_train)
    cases = []
    for k, (n_batches, lr_min, lr_max) in enumerate([(30, 1e-4, 1.0), (24, 1e-5, 3.0)]):
        torch.manual_seed(2017 + k)
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        _PRISTINE[id(model)] = copy.deepcopy(model)
        batches = []
        for _ in range(n_batches):
            idx = torch.from_numpy(rng.choice(len(X), 32, replace=False))
            batches.append((X[idx], y[idx]))
        cases.append((model, batches, lr_min, lr_max))
    return cases


def _range_test_reference(model, batches, lr_min, lr_max):
    return solutions.lr_range_test(copy.deepcopy(_PRISTINE[id(model)]), batches, lr_min, lr_max)


def _range_test_variant(model, batches, lr_min, lr_max, *, constant_lr=False, zero_grad=True):
    import torch
    import torch.nn.functional as F

    model = copy.deepcopy(_PRISTINE[id(model)])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr_min)
    losses = []
    for i, (xb, yb) in enumerate(batches):
        if not constant_lr:
            for group in optimizer.param_groups:
                group["lr"] = lr_min * (lr_max / lr_min) ** (i / (len(batches) - 1))
        loss = F.cross_entropy(model(xb), yb)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses)


def _useful_part(losses: np.ndarray) -> int:
    """How many losses to compare: up to where the loss blows up (4 x its best so far, fast.ai's stop)."""
    best = np.minimum.accumulate(losses)
    blown = np.nonzero(~np.isfinite(losses) | (losses > 4 * best))[0]
    return int(blown[0]) if len(blown) else len(losses)


def _range_test_compare(got, want, case):
    model, batches, lr_min, lr_max = case
    n = len(batches)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return two arrays, (lrs, losses): the rate used for each batch and that batch's loss."
    try:
        lrs, losses = (np.asarray(a, dtype=float).reshape(-1) for a in got)
    except (TypeError, ValueError):
        return "lrs and losses must be numbers (use loss.item() to turn a loss tensor into a float)."
    want_lrs, want_losses = want
    if len(lrs) != n or len(losses) != n:
        return (f"one rate and one loss per batch: {n} batches here, you returned {len(lrs)} rates and "
                f"{len(losses)} losses (run every batch, do not stop early).")
    if not np.allclose(lrs, want_lrs, rtol=1e-6):
        if np.allclose(lrs, np.linspace(lr_min, lr_max, n), rtol=1e-6):
            return ("your rates grow linearly (by the same amount each batch), so almost all of them are near "
                    "lr_max; they should grow geometrically (by the same factor each batch).")
        if not np.isclose(lrs[0], lr_min) or not np.isclose(lrs[-1], lr_max):
            return (f"the rates should run from lr_min={lr_min:g} (first batch) to lr_max={lr_max:g} (last "
                    f"batch); yours run from {lrs[0]:.4g} to {lrs[-1]:.4g}.")
        return "your rates start and end right but do not grow by the same factor each batch."
    m = _useful_part(want_losses)
    if np.allclose(losses[:m], want_losses[:m], rtol=1e-4, atol=1e-5):
        return None
    if np.allclose(losses[:m], _range_test_variant(*case, constant_lr=True)[:m], rtol=1e-4, atol=1e-5):
        return ("your rates are right, but the losses are those of a run at a constant rate: the optimizer "
                "never got them (set group['lr'] in optimizer.param_groups before each step).")
    if np.allclose(losses[:m], _range_test_variant(*case, zero_grad=False)[:m], rtol=1e-4, atol=1e-5):
        return "the gradients pile up from batch to batch: clear them before each backward()."
    first = int(np.argmax(~np.isclose(losses[:m], want_losses[:m], rtol=1e-4, atol=1e-5)))
    return (f"the loss of batch {first} is {losses[first]:.5g}, the answer's is {want_losses[first]:.5g} "
            f"(record each batch's loss before its step, with Adam, cross-entropy, and every batch in order).")


def _describe_range_case(case):
    model, batches, lr_min, lr_max = case
    return (f"a fresh {sum(p.numel() for p in model.parameters())}-parameter MLP, {len(batches)} digit batches "
            f"of {len(batches[0][1])}, lr_min={lr_min:g}, lr_max={lr_max:g}")


lr_range_test = Exercise(
    "lr_range_test", solution=solutions.lr_range_test, reference=_range_test_reference,
    cases=_range_test_cases, compare=_range_test_compare, describe=_describe_range_case,
    hints=["It is an ordinary training loop over `batches` (one pass, no epochs) with two additions: before "
           "each step set the learning rate, after it record the rate and the batch's loss.",
           "Batch i of n gets lr_min * (lr_max / lr_min) ** (i / (n - 1)): lr_min for the first batch, lr_max "
           "for the last, the same factor in between.",
           "An optimizer keeps its rate in optimizer.param_groups: `for group in optimizer.param_groups: "
           "group['lr'] = lr`. Use torch.optim.Adam(model.parameters(), lr=lr_min), F.cross_entropy, "
           "zero_grad/backward/step, and loss.item() for the record."])


# -- debugging: the loop that under-trains -----------------------------------------------------------
_HELD_OUT: dict[int, tuple] = {}


def _fixed_train_cases():
    import torch
    import torch.nn as nn
    from torch.utils.data import DataLoader, TensorDataset

    from ..data import load_digits

    _HELD_OUT.clear()
    digits = load_digits().with_validation(1 / 6, 0)
    torch.manual_seed(1986)  # Rumelhart, Hinton & Williams
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    train_set = TensorDataset(torch.from_numpy(digits.X_train.astype(np.float32)), torch.from_numpy(digits.y_train))
    loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(1986))
    _HELD_OUT[id(model)] = (digits.X_val, digits.y_val)   # for the check, not for the learner's loop
    return [(model, loader, 5, 3e-3)]


def _fixed_train_compare(got, want, case):
    import torch

    model, loader, epochs, lr = case
    X_val, y_val = _HELD_OUT[id(model)]
    try:
        losses = np.asarray(got, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return "return the list of mean training losses, one per epoch (as buggy_train does)."
    if len(losses) != epochs:
        return f"return one mean training loss per epoch: {epochs} epochs, you returned {len(losses)} values."
    model.eval()
    with torch.no_grad():
        accuracy = float((model(torch.from_numpy(X_val.astype(np.float32))).argmax(1).numpy() == y_val).mean())
    if losses[-1] < 0.6 and accuracy > 0.8:
        return None
    if not np.all(np.isfinite(losses)) or np.any(np.diff(losses) > 0.2):
        what = "the training loss jumps up between epochs"
        why = "do gradients pile up from one batch to the next?"
    elif np.ptp(losses) < 1e-3:
        what = "the training loss does not move at all"
        why = "does step() see gradients - and does it update the parameters of the model you evaluate?"
    else:
        what = "the training loss falls, but far too slowly"
        why = "count how many times optimizer.step() runs per epoch."
    return (f"still under-trains: {what} ({', '.join(f'{v:.3f}' for v in losses)}; validation accuracy "
            f"{accuracy:.0%} after {epochs} epochs). {why}")


fixed_train = Exercise(
    "fixed_train", solution=solutions.fixed_train, reference=lambda *case: None, cases=_fixed_train_cases,
    compare=_fixed_train_compare,
    describe=lambda case: f"a fresh 64-64-10 MLP, digits in batches of 64, {case[2]} epochs, Adam lr={case[3]:g}",
    hints=["Nothing crashes and the loss does fall: the bug is in *how often* something happens. Print "
           "something each time the optimizer steps.",
           "Look at the indentation of every line in the epoch loop: which lines run once per batch, and "
           "which once per epoch?",
           "backward() and step() sit outside the batch loop, so the model takes one step per epoch, from "
           "the last batch's loss. Move them (with zero_grad) into the batch loop."])
