"""Transfer learning and self-supervision in NumPy (notebook 10).

* :func:`augment` - random rotations, scalings, shifts and pixel noise for a batch of images, one
  vectorised ``scipy.ndimage.map_coordinates`` call (SimCLR's "two views of the same image").
* :func:`nt_xent_forward` / :func:`nt_xent_backward` - the contrastive loss of SimCLR (Chen et al.
  2020), "normalised temperature-scaled cross-entropy", in cs231n's ``(out, cache)`` style.
  For ``2N`` embeddings ``z`` where rows ``i`` and ``i + N`` are two views of the same image::

      u_i = z_i / |z_i|,   s_ij = u_i . u_j / tau,
      loss = mean_i [ -s_{i,p(i)} + log sum_{k != i} exp(s_ik) ],   p(i) = i + N mod 2N

  a cross-entropy over the other ``2N - 1`` rows whose "correct class" is the other view.
* :func:`probe_loss_and_grad` / :func:`fit_linear_probe` - a **linear probe**: an L2-regularised
  softmax regression on frozen features, fitted to its optimum with L-BFGS (convex, so the fit does
  not depend on a seed or a learning rate).
* :func:`nearest_class_mean` - few-shot classification by the nearest class mean.
* :func:`sample_per_class` and :func:`summarize` - the label-budget experiment's bookkeeping.
* :func:`python_source_texts` - the source code of a few standard-library modules: the small,
  different text that the language part fine-tunes a character GPT on (offline, in every Python).

The PyTorch side (encoder, pretraining, fine-tuning, SimCLR) is :mod:`nncourse.at_scale.transfer`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import as_array, check_positive_int

# --------------------------------------------------------------------------------------------
# Augmentations
# --------------------------------------------------------------------------------------------


def augment(images, rng: np.random.Generator, *, max_rotation: float = 15.0, scale=(0.9, 1.1),
            max_shift: float = 1.0, noise: float = 0.05) -> np.ndarray:
    """A random view of every image: rotate by up to ``max_rotation`` degrees, scale by a factor in
    ``scale``, shift by up to ``max_shift`` pixels (all about the centre, bilinear, zeros outside),
    then add Gaussian noise of std ``noise`` and clip to [0, 1].

    images: (N, H, W) or (N, 1, H, W); returns float64 of the same shape. One
    ``map_coordinates`` call for the whole batch (the image index is an exact coordinate, so
    images never mix).
    """
    x = as_array(images, "images", ndim=(3, 4))
    if x.ndim == 4 and x.shape[1] != 1:
        raise ValueError(f"images must be (N, H, W) or (N, 1, H, W), got shape {x.shape}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    from scipy import ndimage

    stack = x.reshape(len(x), *x.shape[-2:])                               # (N, H, W)
    n, h, w = stack.shape
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation, n))      # (N,)
    zoom = rng.uniform(scale[0], scale[1], n)                             # (N,)
    shift = rng.uniform(-max_shift, max_shift, (n, 2))                    # (N, 2) rows, cols
    cy, cx = (h - 1) / 2, (w - 1) / 2
    rows, cols = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")  # output grid (H, W)
    cos, sin = (np.cos(angle) / zoom)[:, None, None], (np.sin(angle) / zoom)[:, None, None]
    # each output pixel reads the input at the inverse transform of its position
    src_r = cos * (rows - shift[:, :1, None]) - sin * (cols - shift[:, 1:, None]) + cy
    src_c = sin * (rows - shift[:, :1, None]) + cos * (cols - shift[:, 1:, None]) + cx
    index = np.broadcast_to(np.arange(n, dtype=float)[:, None, None], src_r.shape)
    out = ndimage.map_coordinates(stack, [index, src_r, src_c], order=1, mode="constant", cval=0.0)
    if noise:
        out = out + rng.normal(0.0, noise, out.shape)
    return np.clip(out, 0.0, 1.0).reshape(x.shape)


# --------------------------------------------------------------------------------------------
# NT-Xent, the SimCLR loss
# --------------------------------------------------------------------------------------------


def nt_xent_forward(z: np.ndarray, temperature: float = 0.5):
    """z (2N, D): rows i and i + N are the two views of image i. Returns (loss, cache)."""
    two_n = len(z)
    norm = np.linalg.norm(z, axis=1, keepdims=True)                       # (2N, 1)
    u = z / norm                                                          # unit vectors
    s = u @ u.T / temperature                                             # (2N, 2N) similarities
    np.fill_diagonal(s, -np.inf)                                          # an embedding is not its own pair
    s_max = s.max(axis=1, keepdims=True)
    log_p = s - s_max - np.log(np.exp(s - s_max).sum(axis=1, keepdims=True))  # log-softmax over the rows
    positive = (np.arange(two_n) + two_n // 2) % two_n                    # p(i): the other view
    loss = -log_p[np.arange(two_n), positive].mean()
    return float(loss), (u, norm, np.exp(log_p), positive, temperature)


def nt_xent_backward(dloss: float, cache) -> np.ndarray:
    """d loss / d z, (2N, D), from the cache of :func:`nt_xent_forward`."""
    u, norm, p, positive, temperature = cache
    two_n = len(u)
    ds = p.copy()                                                         # softmax - one-hot, per row
    ds[np.arange(two_n), positive] -= 1.0
    ds *= dloss / two_n                                                   # the mean over 2N rows
    du = (ds + ds.T) @ u / temperature                                    # s = u u^T / tau: u on both sides
    return (du - u * (u * du).sum(axis=1, keepdims=True)) / norm          # through u = z / |z|


def nt_xent(z1, z2, temperature: float = 0.5) -> float:
    """The NT-Xent loss of two batches of embeddings (N, D) of the same N images, two views each."""
    a, b = as_array(z1, "z1", ndim=2), as_array(z2, "z2", ndim=2)
    if a.shape != b.shape:
        raise ValueError(f"z1 and z2 must have the same shape (N, D): got {a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"NT-Xent needs at least 2 images (the others are the negatives), got {len(a)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    if (np.linalg.norm(a, axis=1) == 0).any() or (np.linalg.norm(b, axis=1) == 0).any():
        raise ValueError("an embedding is all zeros: NT-Xent divides by its length")
    return nt_xent_forward(np.concatenate([a, b]), temperature)[0]


# --------------------------------------------------------------------------------------------
# Linear probe
# --------------------------------------------------------------------------------------------


def probe_loss_and_grad(W, b, X, y, l2):
    """Softmax regression's mean cross-entropy + (l2 / 2) |W|^2 and its gradients.

    W (D, C), b (C,), X (N, D), y (N,) integer classes 0..C-1. Returns (loss, dW, db).
    """
    logits = X @ W + b                                                    # (N, C)
    logits = logits - logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    n = len(X)
    loss = -log_p[np.arange(n), y].mean() + 0.5 * l2 * (W * W).sum()
    dlogits = np.exp(log_p)
    dlogits[np.arange(n), y] -= 1.0
    dlogits /= n
    return float(loss), X.T @ dlogits + l2 * W, dlogits.sum(axis=0)


@dataclass
class LinearProbe:
    """A fitted linear probe: standardise the features with the training mean/std, then ``X W + b``.
    ``classes[k]`` is the label of output ``k``."""

    W: np.ndarray
    b: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    classes: np.ndarray

    def logits(self, features) -> np.ndarray:
        X = as_array(features, "features", ndim=2)
        if X.shape[1] != len(self.mean):
            raise ValueError(f"features must have {len(self.mean)} columns (the probe's), got {X.shape[1]}")
        return (X - self.mean) / self.std @ self.W + self.b

    def predict(self, features) -> np.ndarray:
        return self.classes[self.logits(features).argmax(axis=1)]

    def accuracy(self, features, labels) -> float:
        return float((self.predict(features) == np.asarray(labels)).mean())


def fit_linear_probe(features, labels, *, l2: float = 1e-2, max_iter: int = 500,
                     loss_and_grad=probe_loss_and_grad) -> LinearProbe:
    """Fit softmax regression on frozen ``features`` (N, D) to ``labels`` (N,) with L-BFGS.

    The features are standardised (training mean and std); ``l2`` penalises |W|^2 (not b), which
    keeps the optimum finite when a handful of examples are separable. ``loss_and_grad`` has the
    signature of :func:`probe_loss_and_grad` (the notebook passes the learner's).
    """
    from scipy.optimize import minimize

    X = as_array(features, "features", ndim=2)
    y = np.asarray(labels)
    if y.shape != (len(X),):
        raise ValueError(f"labels must be one per row of features ({len(X)},), got shape {y.shape}")
    if not l2 >= 0:
        raise ValueError(f"l2 must be >= 0, got {l2!r}")
    classes, index = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"a probe needs at least 2 classes among the labels, got {classes.tolist()}")
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-8
    Xs = (X - mean) / std
    d, c = X.shape[1], len(classes)

    def objective(theta):
        loss, dW, db = loss_and_grad(theta[: d * c].reshape(d, c), theta[d * c:], Xs, index, l2)
        return loss, np.concatenate([np.ravel(dW), np.ravel(db)])

    result = minimize(objective, np.zeros(d * c + c), jac=True, method="L-BFGS-B",
                      options={"maxiter": check_positive_int(max_iter, "max_iter"), "ftol": 1e-12, "gtol": 1e-8})
    return LinearProbe(result.x[: d * c].reshape(d, c), result.x[d * c:], mean, std, classes)


# --------------------------------------------------------------------------------------------
# Nearest class mean, label budgets
# --------------------------------------------------------------------------------------------


def nearest_class_mean(train_features, train_labels, test_features) -> np.ndarray:
    """The label of the nearest class mean (Euclidean) for every test row: the few-shot classifier
    of prototypical networks (Snell et al. 2017). (N, D), (N,), (M, D) -> (M,) labels."""
    X = as_array(train_features, "train_features", ndim=2)
    Q = as_array(test_features, "test_features", ndim=2)
    y = np.asarray(train_labels)
    if y.shape != (len(X),):
        raise ValueError(f"train_labels must be one per row of train_features ({len(X)},), got shape {y.shape}")
    if Q.shape[1] != X.shape[1]:
        raise ValueError(f"test_features must have {X.shape[1]} columns like train_features, got {Q.shape[1]}")
    classes = np.unique(y)
    means = np.stack([X[y == c].mean(axis=0) for c in classes])          # (C, D)
    distances = ((Q[:, None, :] - means[None]) ** 2).sum(axis=-1)        # (M, C)
    return classes[distances.argmin(axis=1)]


def sample_per_class(labels, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` examples of every class in ``labels``, drawn without replacement (sorted)."""
    y = np.asarray(labels)
    k = check_positive_int(k, "k")
    chosen = []
    for c in np.unique(y):
        where = np.flatnonzero(y == c)
        if len(where) < k:
            raise ValueError(f"class {c} has only {len(where)} examples, cannot draw k={k}")
        chosen.append(rng.choice(where, size=k, replace=False))
    return np.sort(np.concatenate(chosen))


def summarize(records, key="accuracy"):
    """{(method, budget): (mean, std, n)} over the seeds of a list of records (dicts with
    ``method``, ``budget``, ``seed`` and ``key``); std is the sample standard deviation (ddof=1)."""
    groups: dict = {}
    for r in records:
        groups.setdefault((r["method"], r["budget"]), []).append(r[key])
    return {g: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v))
            for g, v in groups.items()}


# --------------------------------------------------------------------------------------------
# Language: a second, small text
# --------------------------------------------------------------------------------------------

SOURCE_MODULES = ("textwrap", "string", "heapq", "bisect", "colorsys")


def python_source_texts(modules=SOURCE_MODULES) -> dict[str, str]:
    """{module name: its Python source code} for standard-library modules (``inspect.getsource``).

    Code is a different "language" from the English documentation the GPT is pretrained on
    (indentation, ``self.``, operators), and every CPython install carries it, so no download is
    needed. The text is fixed for a given Python version.
    """
    import importlib
    import inspect

    if isinstance(modules, str) or not len(modules):
        raise ValueError(f"modules must be a non-empty list of module names, got {modules!r}")
    texts = {}
    for name in modules:
        try:
            texts[name] = inspect.getsource(importlib.import_module(name))
        except (ImportError, OSError, TypeError) as err:
            raise ValueError(f"no Python source for module {name!r} ({err}); pick a pure-Python "
                             f"standard-library module such as {SOURCE_MODULES[0]!r}") from None
    return texts
