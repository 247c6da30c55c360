"""The layer protocol and the basic layers: Linear, activation layers, Sequential.

Taught in notebooks 01–03; every later concept module (cnn, rnn, attention, ...) adds layers
that follow the same protocol:

* ``params`` and ``grads``: dicts of NumPy arrays keyed by the *same names* as the parameters
  of the PyTorch twin (``named_parameters()``), in PyTorch's layouts;
* ``forward(x)`` returns the output and remembers what ``backward`` needs; the dtype of ``x``
  is kept (float32 for speed, float64 for checks);
* ``backward(dout)`` returns ``dx`` and fills ``grads`` (overwriting them: one backward per
  forward, as in cs231n; PyTorch instead accumulates into ``.grad``);
* ``to_torch()`` returns an equivalent ``torch.nn.Module`` holding the same weights;
* constructors take ``seed=`` so initialisation is reproducible.
"""
from __future__ import annotations

import math

import numpy as np

from . import activations as _activations
from .validation import as_array, check_last_dim, check_positive_int


class Layer:
    """Base class of every from-scratch layer. Subclasses implement forward, backward, to_torch."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True
        self._cache: dict | None = None  # what backward needs, filled by forward

    # --- the protocol --------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_torch(self):
        raise NotImplementedError

    # --- conveniences shared by all layers -------------------------------------------------
    def __call__(self, x):
        return self.forward(x)

    def train(self, mode: bool = True) -> "Layer":
        """Training mode (matters for Dropout and BatchNorm); returns self, like PyTorch."""
        self.training = bool(mode)
        return self

    def eval(self) -> "Layer":
        return self.train(False)

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g[...] = 0

    def astype(self, dtype) -> "Layer":
        """Convert every parameter to ``dtype`` in place (like ``module.double()``)."""
        for name, p in self.params.items():
            self.params[name] = p.astype(dtype)
        return self

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def _saved(self) -> dict:
        """The forward cache, or a clear error when backward comes first."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward(): "
                               "run forward(x) first so the layer has inputs to differentiate")
        return self._cache

    def _check_dout(self, dout, out_shape) -> np.ndarray:
        dout = as_array(dout, "dout")
        if dout.shape != tuple(out_shape):
            raise ValueError(f"{type(self).__name__}.backward: dout must have the shape of the "
                             f"forward output {tuple(out_shape)}, got {dout.shape}")
        return dout

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _to_tensor(arr: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(arr).copy())


def _torch_dtype(dtype):
    import torch

    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]


def load_into_torch(module, params: dict[str, np.ndarray]):
    """Copy ``params`` into a torch module whose ``named_parameters()`` have the same names."""
    import torch

    named = dict(module.named_parameters())
    if set(named) != set(params):
        raise ValueError(f"parameter names differ: torch has {sorted(named)}, NumPy has {sorted(params)}")
    with torch.no_grad():
        for name, p in named.items():
            if tuple(p.shape) != params[name].shape:
                raise ValueError(f"{name}: torch shape {tuple(p.shape)} != NumPy shape {params[name].shape}")
            p.copy_(_to_tensor(params[name]))
    return module


class Linear(Layer):
    """y = x W^T + b, PyTorch's ``nn.Linear`` from scratch (notebooks 01 and 03).

    Parameters: ``weight`` (out_features, in_features) and ``bias`` (out_features,), initialised
    as PyTorch does: uniform in [-1/sqrt(in_features), 1/sqrt(in_features)].

    forward: x (..., in_features) -> (..., out_features).
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, seed: int = 0,
                 dtype=np.float64):
        super().__init__()
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        rng = np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(in_features)
        self.params["weight"] = rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype)
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, out_features).astype(dtype)

    def forward(self, x):
        x = as_array(x, "x")
        if x.ndim == 0:
            raise ValueError(f"x must have at least 1 dimension (..., {self.in_features}), got a scalar")
        check_last_dim(x, self.in_features, "x")
        w = self.params["weight"].astype(x.dtype, copy=False)
        out = x @ w.T
        if "bias" in self.params:
            out = out + self.params["bias"].astype(x.dtype, copy=False)
        self._cache = {"x": x, "out_shape": out.shape}
        return out

    def backward(self, dout):
        cache = self._saved()
        x = cache["x"]
        dout = self._check_dout(dout, cache["out_shape"]).astype(x.dtype, copy=False)
        x2 = x.reshape(-1, self.in_features)          # (batch, in)
        d2 = dout.reshape(-1, self.out_features)      # (batch, out)
        self.grads["weight"] = (d2.T @ x2).astype(self.params["weight"].dtype, copy=False)
        if "bias" in self.params:
            self.grads["bias"] = d2.sum(axis=0).astype(self.params["bias"].dtype, copy=False)
        return dout @ self.params["weight"].astype(x.dtype, copy=False)

    def to_torch(self):
        import torch.nn as nn

        module = nn.Linear(self.in_features, self.out_features, bias="bias" in self.params,
                           dtype=_torch_dtype(self.params["weight"].dtype))
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return (f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={'bias' in self.params})")


class ActivationLayer(Layer):
    """An elementwise activation as a layer: forward f(x), backward dout * f'(x). No parameters.

    ``ActivationLayer("gelu")`` works for any name in ``activations.names()``; the named
    subclasses below (``ReLU()``, ``Tanh()``, ...) mirror ``torch.nn``.
    """

    def __init__(self, activation="relu"):
        super().__init__()
        self.fn = _activations.get(activation)

    def forward(self, x):
        x = as_array(x, "x")
        self._cache = {"x": x}
        return self.fn.forward(x)

    def backward(self, dout):
        x = self._saved()["x"]
        dout = self._check_dout(dout, x.shape)
        return dout * self.fn.grad(x)

    def to_torch(self):
        return self.fn.to_torch()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()" if type(self) is not ActivationLayer else f"ActivationLayer({self.fn.name!r})"


class Sigmoid(ActivationLayer):
    def __init__(self):
        super().__init__("sigmoid")


class Tanh(ActivationLayer):
    def __init__(self):
        super().__init__("tanh")


class ReLU(ActivationLayer):
    def __init__(self):
        super().__init__("relu")


class LeakyReLU(ActivationLayer):
    def __init__(self, negative_slope: float = 0.01):
        super().__init__(_activations.LeakyReLU(negative_slope))


class ELU(ActivationLayer):
    def __init__(self, alpha: float = 1.0):
        super().__init__(_activations.ELU(alpha))


class GELU(ActivationLayer):
    def __init__(self):
        super().__init__("gelu")


class SiLU(ActivationLayer):
    def __init__(self):
        super().__init__("silu")


class Softplus(ActivationLayer):
    def __init__(self):
        super().__init__("softplus")


class Identity(ActivationLayer):
    def __init__(self):
        super().__init__("linear")


class Sequential(Layer):
    """Layers applied one after another, like ``torch.nn.Sequential``.

    ``params``/``grads`` are views over the children keyed ``"<index>.<name>"`` (``"0.weight"``,
    ``"2.bias"``), exactly as PyTorch names them, and they share the children's arrays, so an
    optimizer updating ``params`` in place updates the layers.
    """

    def __init__(self, *layers: Layer):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential takes Layer objects, got {type(layer).__name__} at position {i}")
        self.layers = list(layers)

    @property
    def params(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    @params.setter
    def params(self, value):  # Layer.__init__ assigns {}; the children own the arrays
        pass

    @property
    def grads(self):
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    @grads.setter
    def grads(self, value):
        pass

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def train(self, mode: bool = True):
        self.training = bool(mode)
        for layer in getattr(self, "layers", []):
            layer.train(mode)
        return self

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def astype(self, dtype):
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def to_torch(self):
        import torch.nn as nn

        return nn.Sequential(*(layer.to_torch() for layer in self.layers))

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


def mlp(sizes: list[int], activation="relu", *, seed: int = 0, dtype=np.float64,
        batch_norm: bool = False, dropout: float = 0.0) -> Sequential:
    """A multilayer perceptron ``Linear -> act -> ... -> Linear`` (no activation after the last).

    ``sizes`` lists the widths, input first: ``mlp([2, 8, 8, 1], "tanh")``. Layer ``i`` is
    seeded with ``seed + i`` so the whole network is reproducible from one seed. Notebook 05's
    regularizers slot into every hidden layer: ``batch_norm=True`` puts a ``BatchNorm1d`` before
    the activation and ``dropout=p`` a ``Dropout(p)`` after it.
    """
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output width, got {sizes}")
    if batch_norm or dropout:
        from .regularization import BatchNorm1d, Dropout  # regularization builds on this module
    layers: list[Layer] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(n_in, n_out, seed=seed + i, dtype=dtype))
        if i < len(sizes) - 2:
            if batch_norm:
                layers.append(BatchNorm1d(n_out, dtype=dtype))
            layers.append(ActivationLayer(activation))
            if dropout:
                layers.append(Dropout(dropout, seed=seed + 1000 + i))
    return Sequential(*layers)
