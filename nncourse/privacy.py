"""Privacy from scratch (notebook 15): membership inference, DP-SGD and federated averaging.

On the course's NumPy networks (``nncourse.mlp``: a ``Sequential`` whose last layer gives logits):

* :func:`per_example_losses` and :func:`loss_threshold_auc` - the membership-inference attack of
  Yeom et al. (2018): training examples ("members") have lower loss than unseen ones; the AUC of
  "-loss" as a member score says how much the model leaks (0.5: nothing);
* :func:`attack_features`, :func:`fit_logistic_regression`, :func:`logistic_scores` and
  :func:`shadow_attack` - the shadow-model attack of Shokri et al. (2017): the attacker trains
  models like the target on data of its own, where it *knows* who was in, and learns from their
  outputs (the sorted softmax vector) a classifier "member or not" that it then applies to the target;
* :func:`insert_canary` and :func:`exposure` - Carlini et al.'s (2019) "Secret Sharer": a random
  secret inserted into training text, and how far up the model ranks it among all possible secrets
  (the log-perplexities come from :func:`nncourse.at_scale.privacy.candidate_log_perplexity`);
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


def attack_features(probs: np.ndarray) -> np.ndarray:
    """The shadow attack's view of one prediction: the softmax vector sorted from largest to
    smallest, as log-probabilities. probs (N, K) -> (N, K).

    Sorting makes the features the same for every class, so one attack model serves all of them
    (Salem et al. 2019; Shokri et al. trained one attack model per class on the unsorted vector);
    the logarithm spreads out what matters on an overfit model, the small probabilities (a member's
    runner-up classes get far less probability than a non-member's: 0.00001 against 0.01).
    """
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2:
        raise ValueError(f"probs must be (N, classes) softmax outputs, got shape {probs.shape}")
    return np.log(np.clip(-np.sort(-probs, axis=1), 1e-30, None))


def fit_logistic_regression(X: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, steps: int = 50) -> dict:
    """Logistic regression p(y=1 | x) = sigmoid(w.x + b), fit by Newton's method on the mean
    log-loss + (l2 / 2) |w|^2 (the bias is not penalised). Features are standardised first (their
    mean and std are kept in the result), so ``l2`` means the same for any scale.

    X (N, D), y (N,) of 0/1 -> {"w": (D,), "b": float, "mean": (D,), "std": (D,)}; use with
    :func:`logistic_scores`. Equal to scikit-learn's ``LogisticRegression(C=1 / (l2 * N))`` on the
    standardised features (the tests check it).
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    if X.ndim != 2 or y.shape != (len(X),):
        raise ValueError(f"X must be (N, D) and y (N,), got {X.shape} and {y.shape}")
    if not np.isin(y, (0, 1)).all() or y.min() == y.max():
        raise ValueError("y must hold 0s and 1s, both present (non-member / member)")
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-12
    Z = np.hstack([(X - mean) / std, np.ones((len(X), 1))])      # (N, D + 1): the last column is the bias
    penalty = np.full(Z.shape[1], l2)
    penalty[-1] = 0.0
    theta = np.zeros(Z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(Z @ theta)))
        grad = Z.T @ (p - y) / len(Z) + penalty * theta
        hessian = (Z * (p * (1 - p))[:, None]).T @ Z / len(Z) + np.diag(penalty) + 1e-12 * np.eye(Z.shape[1])
        step = np.linalg.solve(hessian, grad)
        theta -= step
        if np.abs(step).max() < 1e-12:
            break
    return {"w": theta[:-1], "b": float(theta[-1]), "mean": mean, "std": std}


def logistic_scores(model: dict, X: np.ndarray) -> np.ndarray:
    """The fitted logistic regression's logit w.z + b for each row of X (N, D) -> (N,)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != len(model["w"]):
        raise ValueError(f"X must be (N, {len(model['w'])}), got shape {X.shape}")
    return ((X - model["mean"]) / model["std"]) @ model["w"] + model["b"]


def shadow_attack(shadow_outputs, *, l2: float = 1e-2) -> dict:
    """Train the shadow-model attack (Shokri et al. 2017).

    shadow_outputs: one pair ``(member_probs, nonmember_probs)`` per shadow model - its softmax
    outputs (N_in, K) on its own training data and (N_out, K) on data it never saw. Returns the
    logistic regression (see :func:`fit_logistic_regression`) that tells them apart from
    :func:`attack_features`; score the target with ``logistic_scores(attack, attack_features(probs))``.
    """
    features, labels = [], []
    for member_probs, nonmember_probs in shadow_outputs:
        features += [attack_features(member_probs), attack_features(nonmember_probs)]
        labels += [np.ones(len(member_probs)), np.zeros(len(nonmember_probs))]
    if not features:
        raise ValueError("shadow_outputs is empty: need at least one (member_probs, nonmember_probs) pair")
    return fit_logistic_regression(np.vstack(features), np.concatenate(labels), l2=l2)


# --------------------------------------------------------------------------------------------
# Memorised secrets: canaries and exposure
# --------------------------------------------------------------------------------------------
def insert_canary(text: str, canary: str, times: int, *, seed: int = 0) -> str:
    """``text`` with ``canary`` inserted ``times`` times, each as a line of its own at a random line
    break (different line breaks, so the copies are spread through the text)."""
    if not isinstance(times, (int, np.integer)) or times < 0:
        raise ValueError(f"times must be a non-negative integer, got {times!r}")
    lines = text.split("\n")
    if times > len(lines):
        raise ValueError(f"the text has {len(lines)} lines: cannot insert the canary {times} times")
    where = set(np.random.default_rng(seed).choice(len(lines), times, replace=False).tolist())
    out = []
    for i, line in enumerate(lines):
        if i in where:
            out.append(canary)
        out.append(line)
    return "\n".join(out)


def exposure(log_perplexities: np.ndarray, secret: int) -> float:
    """Carlini et al.'s exposure of the secret among all candidates:
    log2(number of candidates) - log2(rank), where rank 1 is the candidate with the lowest
    log-perplexity (the model's favourite). log_perplexities (R,) over every candidate; ``secret``
    is the index of the inserted one. Ties count in the secret's favour (rank = 1 + the number of
    candidates strictly more likely). Exposure 0: the secret is the least likely; log2(R): the
    most likely; 1/ln 2 = 1.44 on average for a secret the model never saw (a uniform rank).
    """
    scores = np.asarray(log_perplexities, dtype=float)
    if scores.ndim != 1 or not 0 <= secret < len(scores):
        raise ValueError(f"need log-perplexities (R,) and a secret index in [0, R), got shape {scores.shape} "
                         f"and index {secret!r}")
    rank = 1 + np.sum(scores < scores[secret])
    return float(np.log2(len(scores)) - np.log2(rank))


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
