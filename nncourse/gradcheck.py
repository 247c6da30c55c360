"""Two ways to trust a backward pass (taught in notebook 03).

* :func:`gradcheck` compares a layer's analytic gradients with centred finite differences
  (float64), as in cs231n's ``gradient_check.py``.
* :func:`compare_with_torch` runs the same input through the layer and through its
  ``to_torch()`` twin and reports the largest difference in the output, in ``dx`` and in every
  parameter gradient.

Both use the scalar loss ``L = sum(out * R)`` with a fixed random ``R``, so ``dL/dout = R``
exercises every output element with a different weight.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .validation import as_array


def numeric_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by centred differences ``(f(x + eps) - f(x - eps)) / 2 eps``, one element at a time.

    ``f`` takes no arguments and reads ``x``, which is perturbed in place and always restored.
    Costs two evaluations of ``f`` per element of ``x``. Returns an array shaped like ``x``.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        f_plus = f()
        x[i] = old - eps
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``max|a - n| / max(max|a|, max|n|)``: ~1e-9 for a correct float64 gradient, ~1e-1 for a bug."""
    scale = max(float(np.max(np.abs(analytic), initial=0.0)), float(np.max(np.abs(numeric), initial=0.0)), 1e-12)
    return float(np.max(np.abs(analytic - numeric), initial=0.0)) / scale


def _require_float64(layer) -> None:
    bad = [name for name, p in layer.params.items() if p.dtype != np.float64]
    if bad:
        raise ValueError(f"gradient checks need float64 parameters, got {layer.params[bad[0]].dtype} for "
                         f"{bad}; call layer.astype(np.float64) first")


def gradcheck(layer, x, *, seed: int = 0, eps: float = 1e-6, tol: float = 1e-6,
              raise_on_fail: bool = True) -> dict[str, float]:
    """Check ``layer.backward`` against finite differences; return the relative error per tensor.

    Keys are ``"x"`` (the input gradient) and every parameter name. With ``raise_on_fail`` an
    ``AssertionError`` lists the tensors whose error exceeds ``tol``.
    """
    _require_float64(layer)
    x = as_array(x, "x").astype(np.float64, copy=True)
    rng = np.random.default_rng(seed)
    out_grad = rng.standard_normal(np.shape(layer.forward(x)))

    def loss() -> float:
        return float(np.sum(layer.forward(x) * out_grad))

    layer.forward(x)
    dx = layer.backward(out_grad)
    analytic = {"x": np.array(dx, copy=True)}
    analytic.update({name: np.array(g, copy=True) for name, g in layer.grads.items()})

    errors = {"x": relative_error(analytic["x"], numeric_gradient(loss, x, eps))}
    for name, p in layer.params.items():
        if name not in analytic:
            raise AssertionError(f"backward() did not fill grads[{name!r}]")
        errors[name] = relative_error(analytic[name], numeric_gradient(loss, p, eps))
    if raise_on_fail:
        failed = {k: v for k, v in errors.items() if not v <= tol}
        if failed:
            raise AssertionError(f"gradient check failed (tol {tol:g}): {failed}")
    return errors


def compare_with_torch(layer, x, *, seed: int = 0, torch_call: Callable | None = None) -> dict[str, float]:
    """Max absolute difference between ``layer`` and ``layer.to_torch()`` (forward, dx, each grad).

    ``torch_call(module, x_tensor) -> tensor`` adapts modules whose call signature differs
    (``nn.MultiheadAttention`` takes q, k, v; ``nn.LSTM`` returns a tuple); by default
    ``module(x_tensor)``. Returns ``{"out": ..., "x": ..., <param name>: ...}``.
    """
    import torch

    x = as_array(x, "x")
    module = layer.to_torch()
    module.train(layer.training)
    x_t = torch.from_numpy(np.array(x, copy=True)).requires_grad_(True)
    out_t = torch_call(module, x_t) if torch_call is not None else module(x_t)

    out = layer.forward(x)
    if tuple(out_t.shape) != np.shape(out):
        raise AssertionError(f"output shapes differ: NumPy {np.shape(out)}, torch {tuple(out_t.shape)}")
    out_grad = np.random.default_rng(seed).standard_normal(np.shape(out)).astype(out.dtype)
    dx = layer.backward(out_grad)
    (out_t * torch.from_numpy(out_grad)).sum().backward()

    errors = {
        "out": float(np.max(np.abs(out - out_t.detach().numpy()), initial=0.0)),
        "x": float(np.max(np.abs(dx - x_t.grad.numpy()), initial=0.0)),
    }
    torch_params = dict(module.named_parameters())
    if set(torch_params) != set(layer.params):
        raise AssertionError(f"parameter names differ: torch {sorted(torch_params)}, NumPy {sorted(layer.params)}")
    for name, p in torch_params.items():
        if name not in layer.grads:
            raise AssertionError(f"backward() did not fill grads[{name!r}]")
        errors[name] = float(np.max(np.abs(layer.grads[name] - p.grad.numpy()), initial=0.0))
    return errors
