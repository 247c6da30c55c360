"""Optimizers and learning-rate schedules from scratch, step for step like ``torch.optim`` (notebook 04).

Every optimizer takes ``params``, a dict ``name -> np.ndarray`` (a layer's ``.params``), and
PyTorch's hyperparameter names and defaults. ``step(grads)`` reads a dict of gradients with
the same names and updates the parameter arrays **in place** - so the layers that own them see
the new values - and ``zero_state()`` forgets the moments (momentum, running averages, step
count), as a freshly built optimizer would::

    model = nncourse.mlp([2, 8, 1])
    opt = Adam(model.params, lr=1e-2)
    for _ in range(100):
        loss, dout = losses.mse(model.forward(X), y)
        model.backward(dout)
        opt.step(model.grads)

The tests run each optimizer beside its ``torch.optim`` twin for 25+ steps (float64) and find
the same parameters to ~1e-12.

Schedules are plain functions ``step -> learning rate`` (``step_lr``, ``cosine_lr``,
``linear_warmup``, ``warmup_cosine``) that give the learning rate ``torch.optim.lr_scheduler``
gives after ``step`` calls of ``scheduler.step()``; set ``opt.lr`` from them each step or epoch.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np


def _check_number(value, name: str, low: float = 0.0, high: float | None = None,
                  high_open: bool = False) -> float:
    """Return ``value`` as a float in [low, high] (or [low, high) when ``high_open``), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    ok = math.isfinite(value) and value >= low
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        upper = "" if high is None else (f", {high:g})" if high_open else f", {high:g}]")
        interval = f"[{low:g}{upper}" if high is not None else f">= {low:g}"
        raise ValueError(f"{name} must be a finite number {'in ' if high is not None else ''}{interval}, got {value!r}")
    return value


class Optimizer:
    """Base class: holds the parameters, checks the gradients, keeps per-parameter state.

    Subclasses implement ``_update(param, grad, state)``, which changes ``param`` in place and
    keeps whatever it needs between steps in the dict ``state`` (one per parameter).
    """

    def __init__(self, params: Mapping[str, np.ndarray], lr: float):
        if not isinstance(params, Mapping):
            hint = " (pass layer.params)" if hasattr(params, "params") else ""
            raise TypeError(f"params must be a dict name -> np.ndarray{hint}, got {type(params).__name__}")
        if not params:
            raise ValueError("params is empty: there is nothing to optimize")
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"params[{name!r}] must be a floating-point np.ndarray (it is updated in "
                                f"place), got {type(p).__name__} {getattr(p, 'dtype', '')}")
        self.params = dict(params)
        self.lr = _check_number(lr, "lr")
        self.state: dict[str, dict] = {}
        self.steps = 0  # number of step() calls since creation or zero_state()

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        """Update every parameter in place from ``grads`` (a dict with the same names as ``params``)."""
        if not isinstance(grads, Mapping):
            raise TypeError(f"grads must be a dict name -> np.ndarray, got {type(grads).__name__}")
        missing = sorted(set(self.params) - set(grads))
        unknown = sorted(set(grads) - set(self.params))
        if missing or unknown:
            raise ValueError(f"grads must have exactly the parameter names {sorted(self.params)}; "
                             f"missing {missing}, unknown {unknown} (did backward() run?)")
        _check_number(self.lr, "lr")  # it may have been changed by a schedule
        for name, p in self.params.items():
            g = grads[name]
            if np.shape(g) != p.shape:
                raise ValueError(f"grads[{name!r}] must have the parameter's shape {p.shape}, got {np.shape(g)}")
            g = np.asarray(g, dtype=p.dtype)
            self._update(p, g, self.state.setdefault(name, {}))
        self.steps += 1

    def zero_state(self) -> None:
        """Forget all moments and step counts, as if the optimizer had just been built."""
        self.state.clear()
        self.steps = 0

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    def _zeros(self, state: dict, key: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
        if key not in state:
            state[key] = np.full_like(like, fill)
        return state[key]

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} tensors, {hyper})"

    def hyperparameters(self) -> dict:
        return {"lr": self.lr}


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional (Nesterov) momentum, like ``torch.optim.SGD``.

    With weight decay ``g = grad + weight_decay * p``; with momentum the velocity is
    ``b = g`` on the first step, then ``b = momentum * b + (1 - dampening) * g``; the step is
    ``p -= lr * b`` (or ``p -= lr * (g + momentum * b)`` with Nesterov: look ahead along b).
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        self.momentum = _check_number(momentum, "momentum")
        self.dampening = _check_number(dampening, "dampening")
        self.weight_decay = _check_number(weight_decay, "weight_decay")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"nesterov=True needs momentum > 0 and dampening == 0 (as in PyTorch), "
                             f"got momentum={momentum}, dampening={dampening}")

    def _update(self, param, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.copy()  # first step: no history to damp
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += (1 - self.dampening) * grad
            buf = state["momentum_buffer"]
            grad = grad + self.momentum * buf if self.nesterov else buf
        param -= self.lr * grad

    def hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "dampening": self.dampening,
                "weight_decay": self.weight_decay, "nesterov": self.nesterov}


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al. 2011), like ``torch.optim.Adagrad``: each coordinate's step is
    divided by the root of its summed squared gradients, so rarely-moved coordinates keep
    large steps: ``s += g^2``, ``p -= lr_t * g / (sqrt(s) + eps)`` with
    ``lr_t = lr / (1 + (t - 1) * lr_decay)``.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(params, lr)
        self.lr_decay = _check_number(lr_decay, "lr_decay")
        self.weight_decay = _check_number(weight_decay, "weight_decay")
        self.initial_accumulator_value = _check_number(initial_accumulator_value, "initial_accumulator_value")
        self.eps = _check_number(eps, "eps")

    def _update(self, param, grad, state):
        step = state["step"] = state.get("step", 0) + 1
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        sum_sq = self._zeros(state, "sum", param, self.initial_accumulator_value)
        sum_sq += grad * grad
        lr_t = self.lr / (1 + (step - 1) * self.lr_decay)
        param -= lr_t * grad / (np.sqrt(sum_sq) + self.eps)

    def hyperparameters(self):
        return {"lr": self.lr, "lr_decay": self.lr_decay, "weight_decay": self.weight_decay,
                "initial_accumulator_value": self.initial_accumulator_value, "eps": self.eps}


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e, 2012), like ``torch.optim.RMSprop``: Adagrad with a
    *leaky* average ``v = alpha v + (1 - alpha) g^2`` so old gradients are forgotten;
    ``p -= lr * g / (sqrt(v) + eps)``. ``centered`` subtracts the squared mean gradient
    (a variance estimate); ``momentum`` smooths the normalised step.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, lr)
        self.alpha = _check_number(alpha, "alpha", 0.0, 1.0)
        self.eps = _check_number(eps, "eps")
        self.weight_decay = _check_number(weight_decay, "weight_decay")
        self.momentum = _check_number(momentum, "momentum")
        self.centered = bool(centered)

    def _update(self, param, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        square_avg = self._zeros(state, "square_avg", param)
        square_avg *= self.alpha
        square_avg += (1 - self.alpha) * grad * grad
        if self.centered:
            grad_avg = self._zeros(state, "grad_avg", param)
            grad_avg += (1 - self.alpha) * (grad - grad_avg)
            denom = np.sqrt(square_avg - grad_avg * grad_avg) + self.eps
        else:
            denom = np.sqrt(square_avg) + self.eps
        if self.momentum:
            buf = self._zeros(state, "momentum_buffer", param)
            buf *= self.momentum
            buf += grad / denom
            param -= self.lr * buf
        else:
            param -= self.lr * grad / denom

    def hyperparameters(self):
        return {"lr": self.lr, "alpha": self.alpha, "eps": self.eps, "weight_decay": self.weight_decay,
                "momentum": self.momentum, "centered": self.centered}


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015), like ``torch.optim.Adam``: momentum on the gradient plus
    RMSprop's per-coordinate scale, both bias-corrected.

    m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2   (both start at 0, hence biased to 0)
    p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    Without the corrections the first steps would be tiny (m and v start at zero); with them
    the first step has size about ``lr`` in every coordinate. ``weight_decay`` adds
    ``weight_decay * p`` to the gradient (L2 regularisation, coupled to the adaptive scale);
    :class:`AdamW` decouples it. ``amsgrad`` divides by the largest v seen so far.

    ``_update`` is written as these textbook equations (notebook 04 builds them in cells);
    ``torch.optim.Adam`` computes the same with an in-place lerp, ``m += (1 - b1) (g - m)``, and
    folds the corrections into the step size - equal to round-off (the tests: ~1e-12 in float64).
    """

    decoupled_weight_decay = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, lr)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_check_number(betas[0], "betas[0]", 0.0, 1.0, high_open=True),
                      _check_number(betas[1], "betas[1]", 0.0, 1.0, high_open=True))
        self.eps = _check_number(eps, "eps")
        self.weight_decay = _check_number(weight_decay, "weight_decay")
        self.amsgrad = bool(amsgrad)

    def _update(self, param, grad, state):
        beta1, beta2 = self.betas
        step = state["step"] = state.get("step", 0) + 1
        if self.weight_decay:
            if self.decoupled_weight_decay:
                param *= 1 - self.lr * self.weight_decay  # shrink the weights, outside the adaptive scale
            else:
                grad = grad + self.weight_decay * param
        m = self._zeros(state, "exp_avg", param)       # m: running mean of the gradient
        v = self._zeros(state, "exp_avg_sq", param)    # v: running mean of its square
        m[:] = beta1 * m + (1 - beta1) * grad          # in place: the state keeps the arrays
        v[:] = beta2 * v + (1 - beta2) * grad**2
        if self.amsgrad:
            v_max = self._zeros(state, "max_exp_avg_sq", param)
            np.maximum(v_max, v, out=v_max)
            v = v_max
        m_hat = m / (1 - beta1**step)                  # bias correction: m and v start at 0
        v_hat = v / (1 - beta2**step)
        param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def hyperparameters(self):
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter 2019), like ``torch.optim.AdamW``: Adam whose weight decay
    shrinks the weights directly, ``p *= 1 - lr * weight_decay``, instead of passing through
    the adaptive scale (where large-gradient weights would barely be decayed). Default
    ``weight_decay=1e-2``, as in PyTorch.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def get(name: str, params, **hyperparameters) -> Optimizer:
    """Build an optimizer by name: ``get("adam", model.params, lr=1e-2)``.

    ``"momentum"`` is SGD with ``momentum=0.9`` (unless given) and ``"nesterov"`` adds
    ``nesterov=True`` - the names the widgets and ``nncourse.fit`` use.
    """
    key = str(name).lower()
    if key == "momentum":
        return SGD(params, **{"momentum": 0.9, **hyperparameters})
    if key == "nesterov":
        return SGD(params, **{"momentum": 0.9, "nesterov": True, **hyperparameters})
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join([*OPTIMIZERS, 'momentum', 'nesterov'])}")
    return OPTIMIZERS[key](params, **hyperparameters)


# --------------------------------------------------------------------------------------------
# Learning-rate schedules: ``step`` counts scheduler steps (epochs or batches, your choice)
# --------------------------------------------------------------------------------------------


def _check_step(step) -> int:
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    return int(step)


def step_lr(step: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """Multiply the rate by ``gamma`` every ``step_size`` steps (``lr_scheduler.StepLR``)."""
    step = _check_step(step)
    if isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer)) or step_size < 1:
        raise ValueError(f"step_size must be a positive integer, got {step_size!r}")
    return base_lr * gamma ** (step // step_size)


def cosine_lr(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    """Half a cosine from ``base_lr`` down to ``min_lr`` over ``total_steps`` steps
    (``lr_scheduler.CosineAnnealingLR(T_max=total_steps, eta_min=min_lr)``; past the end the
    cosine continues, as PyTorch's does)."""
    step = _check_step(step)
    if isinstance(total_steps, bool) or not isinstance(total_steps, (int, np.integer)) or total_steps < 1:
        raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * step / total_steps)) / 2


def linear_warmup(step: int, base_lr: float, warmup_steps: int, start_factor: float = 1 / 3) -> float:
    """Ramp linearly from ``start_factor * base_lr`` to ``base_lr`` over ``warmup_steps`` steps,
    then stay (``lr_scheduler.LinearLR(start_factor, total_iters=warmup_steps)``). Warm-up keeps
    the first updates small while Adam's second-moment estimate is still noisy."""
    step = _check_step(step)
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, (int, np.integer)) or warmup_steps < 1:
        raise ValueError(f"warmup_steps must be a positive integer, got {warmup_steps!r}")
    _check_number(start_factor, "start_factor", 0.0, 1.0)
    return base_lr * (start_factor + (1 - start_factor) * min(step, warmup_steps) / warmup_steps)


def warmup_cosine(step: int, base_lr: float, warmup_steps: int, total_steps: int,
                  min_lr: float = 0.0, start_factor: float = 1 / 3) -> float:
    """Linear warm-up for ``warmup_steps``, then a cosine down to ``min_lr`` at ``total_steps``
    (``SequentialLR([LinearLR, CosineAnnealingLR(T_max=total_steps - warmup_steps)],
    milestones=[warmup_steps])``) - the usual recipe for training transformers."""
    step = _check_step(step)
    if isinstance(total_steps, bool) or not isinstance(total_steps, (int, np.integer)) or total_steps <= warmup_steps:
        raise ValueError(f"total_steps must be an integer larger than warmup_steps={warmup_steps}, got {total_steps!r}")
    if step < warmup_steps:
        return linear_warmup(step, base_lr, warmup_steps, start_factor)
    return cosine_lr(step - warmup_steps, base_lr, total_steps - warmup_steps, min_lr)


SCHEDULES = {"step": step_lr, "cosine": cosine_lr, "warmup": linear_warmup, "warmup_cosine": warmup_cosine}
