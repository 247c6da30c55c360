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

Layers made of layers derive from :class:`Container`: their parameters are their children's,
named ``"<child>.<param>"`` as PyTorch's ``named_parameters()`` does, and ``train()``/``eval()``
reach every child. The maths of a layer lives in pure kernel functions (cs231n's pattern:
``linear_forward(x, weight, bias) -> (out, cache)``, ``linear_backward(dout, cache)``); the layer
class adds the checks and the dtype handling around them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

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


@dataclass
class LinearCache:
    """What :func:`linear_backward` needs from the forward pass."""

    x: np.ndarray        # the input, (..., in_features)
    weight: np.ndarray   # (out_features, in_features)
    has_bias: bool


def linear_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None):
    """out = x W^T + b.

    x (..., in_features), weight (out_features, in_features), bias (out_features,) or None
    -> out (..., out_features), and the cache for :func:`linear_backward`.
    """
    out = x @ weight.T
    if bias is not None:
        out = out + bias
    return out, LinearCache(x=x, weight=weight, has_bias=bias is not None)


def linear_backward(dout: np.ndarray, cache: LinearCache):
    """The gradients of out = x W^T + b, given dL/dout (..., out_features).

    Returns (dx, dweight, dbias) with the shapes of x, weight and bias (dbias is None without a
    bias). Each is a vector-Jacobian product:

    * dx = dout W       (..., in): every output unit that x fed sends its gradient back (a sum over outputs);
    * dW = dout^T x     (out, in): each example contributed to every weight (a sum over the batch);
    * db = sum of dout over the batch (out,): b was added to every example.
    """
    x, weight = cache.x, cache.weight
    x2 = x.reshape(-1, x.shape[-1])            # (batch, in): leading axes are all "batch"
    d2 = dout.reshape(-1, dout.shape[-1])      # (batch, out)
    dx = dout @ weight
    dweight = d2.T @ x2
    dbias = d2.sum(axis=0) if cache.has_bias else None
    return dx, dweight, dbias


class Linear(Layer):
    """y = x W^T + b, PyTorch's ``nn.Linear`` from scratch (notebooks 01 and 03).

    Parameters: ``weight`` (out_features, in_features) and ``bias`` (out_features,), initialised
    as PyTorch does: uniform in [-1/sqrt(in_features), 1/sqrt(in_features)].

    forward: x (..., in_features) -> (..., out_features), computed by :func:`linear_forward`;
    backward by :func:`linear_backward`. The layer checks shapes and computes in the dtype of x.
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
        weight = self.params["weight"].astype(x.dtype, copy=False)
        bias = self.params["bias"].astype(x.dtype, copy=False) if "bias" in self.params else None
        out, cache = linear_forward(x, weight, bias)
        self._cache = {"kernel": cache, "out_shape": out.shape}
        return out

    def backward(self, dout):
        saved = self._saved()
        cache: LinearCache = saved["kernel"]
        dout = self._check_dout(dout, saved["out_shape"]).astype(cache.x.dtype, copy=False)
        dx, dweight, dbias = linear_backward(dout, cache)
        self.grads["weight"] = dweight.astype(self.params["weight"].dtype, copy=False)
        if dbias is not None:
            self.grads["bias"] = dbias.astype(self.params["bias"].dtype, copy=False)
        return dx

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


class Container(Layer):
    """A layer made of layers (PyTorch's ``nn.Module`` holding sub-modules).

    Assigning a :class:`Layer` to an attribute (``self.linear1 = Linear(...)``) registers it as a
    child under that name, in order, as PyTorch does; :meth:`add` registers one under any name.
    A container owns no arrays itself:

    * ``params``/``grads`` gather the children's, keyed ``"<child>.<name>"`` (nested containers
      give ``"block.linear1.weight"``), exactly PyTorch's ``named_parameters()`` names; the values
      *are* the children's arrays (no copies), so an optimizer updating ``params`` in place
      updates the children, and a child's own update is seen through the container;
    * ``train()``/``eval()``, ``zero_grad()`` and ``astype()`` are passed on to every child.

    Subclasses write ``forward``/``backward`` (the order in which children are called) and, where
    a PyTorch twin exists, ``to_torch()`` (``load_into_torch(module, self.params)`` fills it).
    """

    def __init__(self):
        # No Layer.__init__: params and grads are read-only views of the children.
        object.__setattr__(self, "_children", {})
        self.training = True
        self._cache = None

    def __setattr__(self, name: str, value) -> None:
        children = self.__dict__.get("_children")
        if children is None and isinstance(value, Layer):
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning the "
                               f"sub-layer {name!r}, so that the container can register it")
        if children is not None and not name.startswith("_"):
            if isinstance(value, Layer):
                children[name] = value
            else:
                children.pop(name, None)  # an attribute that stops being a layer stops being a child
        object.__setattr__(self, name, value)

    def add(self, name: str, layer: "Layer") -> "Layer":
        """Register ``layer`` as the child ``name`` (for names that are not identifiers, like "0")."""
        if not isinstance(layer, Layer):
            raise TypeError(f"{type(self).__name__}: a child must be a Layer, got {type(layer).__name__} for {name!r}")
        self._children[str(name)] = layer
        return layer

    def named_children(self) -> dict[str, "Layer"]:
        """The children by name, in the order they were registered (a subclass holding its children
        some other way, like Sequential's list, overrides this one method)."""
        return dict(self._children)

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {f"{c}.{k}": v for c, layer in self.named_children().items() for k, v in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{c}.{k}": v for c, layer in self.named_children().items() for k, v in layer.grads.items()}

    def train(self, mode: bool = True) -> "Container":
        self.training = bool(mode)
        for layer in self.named_children().values():
            layer.train(mode)
        return self

    def zero_grad(self) -> None:
        for layer in self.named_children().values():
            layer.zero_grad()

    def astype(self, dtype) -> "Container":
        for layer in self.named_children().values():
            layer.astype(dtype)
        return self


class Sequential(Container):
    """Layers applied one after another, like ``torch.nn.Sequential``.

    The children are the list ``layers``, named ``"0"``, ``"1"``, ... so ``params`` are
    ``"0.weight"``, ``"2.bias"``, exactly as PyTorch names them (see :class:`Container`).
    ``model[1] = Tanh()`` (or ``model.layers[1] = ...``) swaps a layer.
    """

    def __init__(self, *layers: Layer):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential takes Layer objects, got {type(layer).__name__} at position {i}")
        self.layers = list(layers)

    def named_children(self) -> dict[str, Layer]:
        return {str(i): layer for i, layer in enumerate(self.layers)}

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def to_torch(self):
        import torch.nn as nn

        return nn.Sequential(*(layer.to_torch() for layer in self.layers))

    def __getitem__(self, i):
        return self.layers[i]

    def __setitem__(self, i, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes Layer objects, got {type(layer).__name__}")
        self.layers[i] = layer

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
