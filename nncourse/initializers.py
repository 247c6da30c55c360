"""Weight initialisation, and how it decides whether a signal survives a deep network (notebook 02).

A layer computes z = h W^T. With inputs h of mean square E[h^2] and independent weights of
variance s^2, each z_j sums ``fan_in`` terms, so Var z = fan_in * s^2 * E[h^2]. Stack 50
layers and that factor is raised to the 50th power: unless it is 1, the activations (and,
going backwards, the gradients) vanish or explode. The schemes below pick s to keep it 1:

==========  =============================================  ==================================
scheme      standard deviation s of the weights            derived for
==========  =============================================  ==================================
naive       ``scale`` (N(0, 1) times a number you choose)   nothing - the pre-2010 habit
xavier      gain * sqrt(2 / (fan_in + fan_out))            tanh/sigmoid (Glorot & Bengio 2010)
he          gain(activation) / sqrt(fan_in)                ReLU, gain sqrt 2 (He et al. 2015)
pytorch     1 / sqrt(3 fan_in) (uniform, ``nn.Linear``)     PyTorch's default
==========  =============================================  ==================================

Weights are (fan_out, fan_in), PyTorch's layout. ``distribution="uniform"`` draws from
U(-a, a) with a = sqrt(3) s, which has the same standard deviation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import activations as _activations
from .validation import check_positive_int

SCHEMES = ("naive", "xavier", "he", "pytorch")
_ALIASES = {"glorot": "xavier", "kaiming": "he", "default": "pytorch", "normal": "naive"}
_RELU_LIKE = {"relu", "elu", "gelu", "silu", "softplus"}


def _scheme(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"scheme must be a string, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in SCHEMES:
        raise ValueError(f"unknown initialisation scheme {name!r}; known schemes: {', '.join(SCHEMES)} "
                         f"(aliases: {', '.join(_ALIASES)})")
    return key


def gain(activation="relu") -> float:
    """The factor that makes up for what an activation does to the variance.

    Same values as ``torch.nn.init.calculate_gain``: 1 for linear and sigmoid, 5/3 for tanh,
    sqrt 2 for ReLU, sqrt(2 / (1 + slope^2)) for leaky ReLU. PyTorch defines no gain for ELU,
    GELU, SiLU or softplus; like most code we use ReLU's, since they behave like ReLU for |x| >> 1.
    """
    act = _activations.get(activation)
    if act.name in ("linear", "sigmoid", "step"):
        return 1.0
    if act.name == "tanh":
        return 5.0 / 3.0
    if act.name == "leaky_relu":
        return math.sqrt(2.0 / (1.0 + act.negative_slope**2))
    if act.name in _RELU_LIKE:
        return math.sqrt(2.0)
    raise ValueError(f"no gain defined for activation {act.name!r}")  # pragma: no cover - all are listed


def weight_std(scheme: str, fan_in: int, fan_out: int, *, activation="relu", scale: float = 1.0) -> float:
    """The standard deviation a scheme gives to the weights of a (fan_out, fan_in) layer."""
    scheme = _scheme(scheme)
    fan_in, fan_out = check_positive_int(fan_in, "fan_in"), check_positive_int(fan_out, "fan_out")
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    if scheme == "naive":
        return float(scale)
    if scheme == "xavier":
        return scale * math.sqrt(2.0 / (fan_in + fan_out))  # gain 1: PyTorch's and the paper's default
    if scheme == "he":
        return scale * gain(activation) / math.sqrt(fan_in)
    return scale / math.sqrt(3.0 * fan_in)  # U(-1/sqrt(fan_in), 1/sqrt(fan_in))


def init_weight(fan_out: int, fan_in: int, scheme: str = "he", *, activation="relu", scale: float = 1.0,
                distribution: str = "normal", seed: int | np.random.Generator = 0,
                dtype=np.float64) -> np.ndarray:
    """A (fan_out, fan_in) weight matrix drawn by ``scheme`` (see the module docstring).

    ``pytorch`` is always uniform, as in ``nn.Linear``; the others follow ``distribution``.
    """
    std = weight_std(scheme, fan_in, fan_out, activation=activation, scale=scale)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if distribution not in ("normal", "uniform"):
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
    if distribution == "uniform" or _scheme(scheme) == "pytorch":
        bound = math.sqrt(3.0) * std  # U(-a, a) has standard deviation a / sqrt 3
        return rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype)
    return (std * rng.standard_normal((fan_out, fan_in))).astype(dtype)


def initialize(model, scheme: str = "he", *, activation="relu", scale: float = 1.0,
               distribution: str = "normal", seed: int = 0):
    """Re-draw every ``Linear`` weight of a NumPy model in place (biases set to 0); returns the model."""
    from .layers import Linear, Sequential

    layers = model.layers if isinstance(model, Sequential) else [model]
    rng = np.random.default_rng(seed)
    found = False
    for layer in layers:
        if isinstance(layer, Linear):
            found = True
            w = layer.params["weight"]
            w[...] = init_weight(layer.out_features, layer.in_features, scheme, activation=activation,
                                 scale=scale, distribution=distribution, seed=rng)
            if "bias" in layer.params:
                layer.params["bias"][...] = 0
    if not found:
        raise ValueError(f"initialize() found no Linear layer in {type(model).__name__}")
    return model


def initialize_torch(module, scheme: str = "he", *, activation="relu", scale: float = 1.0,
                     distribution: str = "normal", seed: int = 0):
    """The same schemes for every ``nn.Linear`` of a PyTorch module (biases set to 0), using
    ``torch.nn.init`` (where the ``scale`` is the naive standard deviation or a multiplier);
    returns the module."""
    import torch
    import torch.nn as nn

    scheme = _scheme(scheme)
    generator = torch.Generator().manual_seed(seed)
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"initialize_torch() found no nn.Linear in {type(module).__name__}")
    with torch.no_grad():
        for layer in linears:
            fan_out, fan_in = layer.weight.shape
            std = weight_std(scheme, fan_in, fan_out, activation=activation, scale=scale)
            if distribution == "uniform" or scheme == "pytorch":
                bound = math.sqrt(3.0) * std
                nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
            elif distribution == "normal":
                nn.init.normal_(layer.weight, 0.0, std, generator=generator)
            else:
                raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


# --- signal propagation through a deep stack -----------------------------------------------------

@dataclass
class SignalStats:
    """What happens to a batch going through ``depth`` layers h_l = f(h_{l-1} W_l^T) and back.

    activations: list of ``depth`` arrays (batch, width), h_1 ... h_depth.
    activation_std: (depth,) how much each layer's activations vary from one input to another:
        the standard deviation over the batch, averaged over the units. When it vanishes, every
        input gives the same output - the network has forgotten its input.
    saturated: (depth,) fraction of units whose f'(z) is below ``threshold`` in size (they pass
        back less than 1 % of the gradient: saturated sigmoid/tanh, ReLU inactive on that input).
    grad_norm: (depth,) Frobenius norm of dL/dW_l, the gradient that trains layer l.
    input_grad_std: (depth,) standard deviation of dL/dh_{l-1}, the signal backprop sends below layer l.
    """

    activation: str
    scheme: str
    weight_std: float
    activations: list
    activation_std: np.ndarray
    saturated: np.ndarray
    grad_norm: np.ndarray
    input_grad_std: np.ndarray
    threshold: float = 0.01

    @property
    def depth(self) -> int:
        return len(self.activations)

    def gradient_ratio(self) -> float:
        """Gradient norm of the first layer over that of the last: ~1 is healthy, << 1 vanishing."""
        return float(self.grad_norm[0] / self.grad_norm[-1])


@lru_cache(maxsize=8)
def _standard_draws(depth: int, width: int, batch_size: int, seed: int):
    """Inputs, standard-normal weights and output gradient, drawn once per shape and seed, so that
    changing the scheme or the activation only rescales the same numbers (fast, comparable)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, width))              # (B, W) unit-variance inputs
    weights = rng.standard_normal((depth, width, width))      # (L, W_out, W_in)
    out_grad = rng.standard_normal((batch_size, width))       # dL/dh_L: a random projection of the output
    for a in (x, weights, out_grad):
        a.setflags(write=False)
    return x, weights, out_grad


def signal_propagation(depth: int = 20, width: int = 64, activation="tanh", scheme: str = "xavier", *,
                       scale: float = 1.0, batch_size: int = 100, seed: int = 0,
                       threshold: float = 0.01) -> SignalStats:
    """Push unit-variance inputs (batch_size, width) through ``depth`` square layers without
    biases, then push a unit-variance gradient back; report per-layer statistics.

    The loss is a fixed random projection of the output, L = sum(h_depth * R) with R ~ N(0, 1),
    so the gradient arriving at the top has the same size whatever the network computes and any
    vanishing or exploding comes from the layers themselves. Same seed, same numbers.
    """
    depth = check_positive_int(depth, "depth")
    width = check_positive_int(width, "width")
    batch_size = check_positive_int(batch_size, "batch_size")
    act = _activations.get(activation)
    scheme = _scheme(scheme)
    std = weight_std(scheme, width, width, activation=act, scale=scale)
    x, standard, out_grad = _standard_draws(depth, width, batch_size, seed)
    if scheme == "pytorch":  # a uniform scheme: map the normal draws to U(-a, a) with the same std
        from scipy.special import ndtr

        standard = math.sqrt(3.0) * (2.0 * ndtr(standard) - 1.0)

    h, pre, hs = x, [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(depth):
            z = h @ (std * standard[layer]).T                  # (B, W)
            h = act.forward(z)
            pre.append(z)
            hs.append(h)
        dh = out_grad
        grad_norm, input_grad_std, saturated = np.zeros(depth), np.zeros(depth), np.zeros(depth)
        for layer in reversed(range(depth)):
            local = act.grad(pre[layer])
            dz = dh * local                                       # (B, W)
            below = hs[layer - 1] if layer else x
            grad_norm[layer] = np.linalg.norm(dz.T @ below)      # ||dL/dW_l||, W_l is (W, W)
            dh = dz @ (std * standard[layer])                    # (B, W) gradient for the layer below
            input_grad_std[layer] = dh.std()
            saturated[layer] = np.mean(np.abs(local) < threshold)
    spread = np.array([a.std(axis=0).mean() for a in hs])  # over the batch, per unit
    return SignalStats(act.name, scheme, std, hs, spread, saturated, grad_norm,
                       input_grad_std, threshold)


def verdict(stats) -> dict[str, str]:
    """"vanishing", "exploding" or "healthy" for the forward signal (the last layer's activation
    spread) and for the backward signal (per-layer weight-gradient norms)."""
    std, g = stats.activation_std[-1], stats.grad_norm
    forward = "exploding" if not std < 1e3 else "vanishing" if std < 1e-3 else "healthy"
    if not np.all(np.isfinite(g)) or g.max() > 1e6 or stats.gradient_ratio() > 1e3:
        backward = "exploding"
    elif g.min() < 1e-3 or stats.gradient_ratio() < 1e-3:
        backward = "vanishing"
    else:
        backward = "healthy"
    return {"forward": forward, "backward": backward}
