"""Privacy from scratch (notebook 15): membership inference, DP-SGD and federated averaging.

On the course's NumPy networks (``nncourse.mlp``: a ``Sequential`` whose last layer gives logits):

* :func:`per_example_losses` and :func:`loss_threshold_auc` - the membership-inference attack of
  Yeom et al. (2018): training examples ("members") have lower loss than unseen ones; the AUC of
  "-loss" as a member score says how much the model leaks (0.5: nothing);
* :func:`per_example_gradients`, :func:`clip_per_example` and :func:`dp_sgd_step` - DP-SGD
  (Abadi et al. 2016): each example's gradient clipped to L2 norm at most C, the clipped
  gradients summed, Gaussian noise of std σC added, divided by the batch size. The privacy
  budget ε of a run comes from Opacus's accountant (:mod:`nncourse.at_scale.privacy`);
* :func:`split_clients` and :func:`fedavg` - federated averaging (McMahan et al. 2017) with IID
  or label-skewed (non-IID) clients.
"""
from __future__ import annotations

import numpy as np

from . import losses
from .activations import log_softmax


# --------------------------------------------------------------------------------------------
# Membership inference
# --------------------------------------------------------------------------------------------
def per_example_losses(model, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cross-entropy of every example: X (N, D), y (N,) -> (N,)."""
    y = np.asarray(y)
    logp = log_softmax(model.forward(X))
    return -logp[np.arange(len(y)), y]


def loss_threshold_auc(member_losses: np.ndarray, nonmember_losses: np.ndarray) -> float:
    """AUC of the loss-threshold attack: "member if loss < t", over every threshold t.
    0.5 means the losses do not tell members apart; 1 means they always do."""
    from .robustness import roc_auc

    return roc_auc(-np.asarray(member_losses), -np.asarray(nonmember_losses))


# --------------------------------------------------------------------------------------------
# DP-SGD
# --------------------------------------------------------------------------------------------
def per_example_gradients_loop(model, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The gradient of each example's own loss, one backward per example (any model).

    X (B, D), y (B,) -> {parameter name: (B, *parameter shape)}. Plain but slow.
    """
    X, y = _check_batch(X, y)
    grads = {name: np.zeros((len(X),) + p.shape, dtype=p.dtype) for name, p in model.params.items()}
    for i in range(len(X)):
        _, dlogits = losses.cross_entropy(model.forward(X[i : i + 1]), y[i : i + 1])
        model.backward(dlogits)
        for name, g in model.grads.items():
            grads[name][i] = g
    return grads


def per_example_gradients(model, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Per-example gradients from one batched backward through a ``Sequential`` of ``Linear`` and
    activation layers (an ``nncourse.mlp``); other models fall back to :func:`per_example_gradients_loop`.

    The trick (also Opacus's, with hooks): a Linear layer's batch gradient is dW = sum_i dout_i x_i^T,
    so keep the terms apart: dW_i = dout_i x_i^T, db_i = dout_i. X (B, D), y (B,) ->
    {parameter name: (B, *parameter shape)}.
    """
    from .layers import ActivationLayer, Linear, Sequential

    X, y = _check_batch(X, y)
    if not (isinstance(model, Sequential) and all(isinstance(l, (Linear, ActivationLayer)) for l in model)):
        return per_example_gradients_loop(model, X, y)
    _, dlogits = losses.cross_entropy(model.forward(X), y)
    dout = dlogits * len(X)                      # (B, C): row i = the gradient of example i's own loss
    grads = {}
    for index in reversed(range(len(model))):
        layer = model[index]
        if isinstance(layer, Linear):
            x = layer._cache["kernel"].x         # (B, in): the layer's input, saved by forward
            grads[f"{index}.weight"] = np.einsum("bo,bi->boi", dout, x)   # (B, out, in)
            if "bias" in layer.params:
                grads[f"{index}.bias"] = dout.copy()                        # (B, out)
        dout = layer.backward(dout)
    return {name: grads[name] for name in model.params}


def _check_batch(X, y):
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or y.shape != (len(X),):
        raise ValueError(f"X must be (B, D) and y (B,), got {X.shape} and {y.shape}")
    return X, y


def clip_per_example(grads: dict[str, np.ndarray], max_norm: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Scale each example's whole gradient (all parameters together) to L2 norm at most ``max_norm``.

    grads: {name: (B, ...)} -> (clipped grads of the same shapes, the norms before clipping (B,)).
    The factor is min(1, C / (norm + 1e-6)), exactly as Opacus computes it.
    """
    if not (np.isscalar(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be a positive number, got {max_norm!r}")
    flat = np.concatenate([g.reshape(len(g), -1) for g in grads.values()], axis=1)   # (B, all params)
    norms = np.linalg.norm(flat, axis=1)
    factor = np.minimum(1.0, max_norm / (norms + 1e-6))
    return {name: g * factor.reshape((-1,) + (1,) * (g.ndim - 1)) for name, g in grads.items()}, norms


def dp_sgd_step(model, X: np.ndarray, y: np.ndarray, *, lr: float, max_grad_norm: float,
                noise_multiplier: float, rng: np.random.Generator, batch_size: int | None = None) -> dict[str, np.ndarray]:
    """One DP-SGD step on the batch (X, y), updating ``model.params`` in place.

    g = (sum_i clip_C(g_i) + N(0, (σ C)^2 I)) / B with B = ``batch_size`` (the *expected* batch size
    under Poisson sampling; default len(X)); then params -= lr * g. Returns the noisy gradient g.
    """
    if not (np.isscalar(noise_multiplier) and noise_multiplier >= 0):
        raise ValueError(f"noise_multiplier must be a non-negative number, got {noise_multiplier!r}")
    clipped, _ = clip_per_example(per_example_gradients(model, X, y), max_grad_norm)
    B = len(X) if batch_size is None else batch_size
    noisy = {}
    for name, g in clipped.items():
        noise = rng.normal(0.0, noise_multiplier * max_grad_norm, g.shape[1:])
        noisy[name] = (g.sum(axis=0) + noise) / B
        model.params[name] -= lr * noisy[name].astype(model.params[name].dtype)
    return noisy


# --------------------------------------------------------------------------------------------
# Federated averaging
# --------------------------------------------------------------------------------------------
def split_clients(y: np.ndarray, n_clients: int, *, iid: bool, classes_per_client: int = 2,
                  seed: int = 0) -> list[np.ndarray]:
    """Indices of each client's data. IID: a random equal split. Non-IID (McMahan et al.'s
    pathological split): sort by label, cut into ``n_clients * classes_per_client`` shards, give each
    client ``classes_per_client`` random shards - so most clients see only a few classes."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    if n_clients < 1 or n_clients > len(y):
        raise ValueError(f"n_clients must be 1..{len(y)}, got {n_clients!r}")
    if iid:
        return [np.sort(part) for part in np.array_split(rng.permutation(len(y)), n_clients)]
    order = np.argsort(y, kind="stable")
    shards = np.array_split(order, n_clients * classes_per_client)
    picks = rng.permutation(len(shards)).reshape(n_clients, classes_per_client)
    return [np.sort(np.concatenate([shards[s] for s in row])) for row in picks]


def local_sgd(model, X: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, batch_size: int,
              rng: np.random.Generator) -> None:
    """Plain mini-batch SGD on one client's data, in place."""
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for i in range(0, len(X), batch_size):
            idx = order[i : i + batch_size]
            _, dlogits = losses.cross_entropy(model.forward(X[idx]), y[idx])
            model.backward(dlogits)
            for name, g in model.grads.items():
                model.params[name] -= lr * g


def fedavg(model, X: np.ndarray, y: np.ndarray, clients: list[np.ndarray], *, rounds: int, local_epochs: int = 1,
           lr: float = 0.1, batch_size: int = 32, seed: int = 0, evaluate=None) -> list:
    """Federated averaging: each round every client starts from the global weights, trains
    ``local_epochs`` on its own data, and the server averages the clients' weights, each weighted by
    its number of examples. ``model`` holds the global weights (changed in place). ``evaluate(model)``,
    if given, is called after every round; its results are returned as a list."""
    rng = np.random.default_rng(seed)
    sizes = np.array([len(c) for c in clients], dtype=float)
    history = []
    for _ in range(rounds):
        start = {name: p.copy() for name, p in model.params.items()}
        total = {name: np.zeros_like(p) for name, p in start.items()}
        for idx, weight in zip(clients, sizes / sizes.sum()):
            for name in start:
                model.params[name][...] = start[name]       # the client downloads the global model
            local_sgd(model, X[idx], y[idx], epochs=local_epochs, lr=lr, batch_size=batch_size, rng=rng)
            for name, p in model.params.items():
                total[name] += weight * p                   # ... and uploads its weights, never its data
        for name in start:
            model.params[name][...] = total[name]
        if evaluate is not None:
            history.append(evaluate(model))
    return history
