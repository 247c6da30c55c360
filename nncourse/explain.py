"""Attributions from scratch (taught in notebook 14): which input features a prediction rests on,
and how to test whether an explanation is faithful to the model.

Every method explains one scalar output per example, ``f(x)`` (a class score, a logit), and
needs only one of two functions of a batch ``x (M, ...)``:

* ``score_fn(x) -> (M,)`` - the output (occlusion, LIME, Shapley values, deletion curves);
* ``grad_fn(x) -> (scores (M,), grads (M, ...))`` - the output and its gradient with respect to
  the input (gradient, gradient x input, SmoothGrad, integrated gradients).

:func:`model_score` and :func:`model_gradient` build them for any course model with
``forward``/``backward`` (a :class:`~nncourse.layers.Sequential` of NumPy layers): the backward
pass of notebook 03 with a one-hot ``dout`` is exactly ``d score / d x``.

The methods, with the paper each comes from:

=======================  ======================================================================
vanilla_gradient         d f / d x (Simonyan, Vedaldi & Zisserman 2013); ``saliency`` is its |.|
gradient_x_input         x * d f / d x (Shrikumar et al. 2016)
smoothgrad               the gradient averaged over noisy copies of x (Smilkov et al. 2017)
integrated_gradients     (x - x') * the average gradient on the straight path from a baseline x'
                         (Sundararajan, Taly & Yan 2017): **completeness**, the attributions sum to
                         f(x) - f(x'), up to the quadrature rule's error
occlusion                f(x) - f(x with a window replaced by the baseline) (Zeiler & Fergus 2014)
lime                     a weighted linear model of f on random on/off masks (Ribeiro et al. 2016)
shapley_values           exact Shapley values of the game v(S) = f(x on S, baseline elsewhere)
shapley_sampling,        estimates that converge to them: random permutations (Castro et al. 2009)
kernel_shap              and the Shapley-kernel weighted regression (Lundberg & Lee 2017)
grad_cam                 ReLU(sum_c mean(dF/dA_c) A_c) on a conv layer (Selvaraju et al. 2017)
deletion_curve           remove the top-ranked features first: a faithful map drops f fast
                         (Petsiuk, Das & Saenko 2018; "insertion" is the reverse)
randomize_layers,        the sanity checks of Adebayo et al. (2018): a map that survives random
rank_correlation         weights was not explaining the model
js_divergence            Jensen-Shannon divergence of two distributions: how far apart two
                         attention rows, or two next-character distributions, are (Jain &
                         Wallace 2019 measure how far attention distributions are apart with it)
=======================  ======================================================================

For a language model the same functions work on the token **embeddings** (T, C) of one text:
``nncourse.at_scale.explain.embedding_gradient_fn`` is the ``grad_fn``, one number per character is
the sum over C, and ``occlusion`` with ``window=(1,)`` on the ids replaces one character at a time.

Each agrees with Captum (``nncourse.at_scale.explain`` and ``tests/test_explain.py``) on the same
model and inputs: Saliency, InputXGradient, NoiseTunnel (same noise), IntegratedGradients (each
of its quadrature rules), Occlusion, ShapleyValues, LayerGradCam.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np

from .validation import as_array, check_positive_int

ScoreFn = Callable[[np.ndarray], np.ndarray]
GradFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
ValueFn = Callable[[np.ndarray], np.ndarray]

IG_METHODS = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "trapezoid", "gausslegendre")


# --- the model as a function --------------------------------------------------------------------

def _check_target(model_out: np.ndarray, target: int) -> None:
    if model_out.ndim != 2:
        raise ValueError(f"the model must return scores of shape (N, classes), got shape {model_out.shape}")
    if not 0 <= target < model_out.shape[1]:
        raise ValueError(f"target must be a class index in 0..{model_out.shape[1] - 1}, got {target}")


def _restore(model, saved: dict) -> None:
    """Put the parameter gradients back as they were (zero where there were none yet)."""
    for k, g in model.grads.items():
        g[...] = saved[k] if k in saved else 0.0


def model_score(model, target: int) -> ScoreFn:
    """``score_fn(x) = model.forward(x)[:, target]``, for a model returning (N, classes)."""
    target = int(target)

    def score_fn(x):
        out = model.forward(np.asarray(x))
        _check_target(out, target)
        return out[:, target]

    return score_fn


def model_probability(model, target: int) -> ScoreFn:
    """``score_fn(x) = softmax(model.forward(x))[:, target]``: the class probability (for deletion curves)."""
    target = int(target)

    def prob_fn(x):
        out = model.forward(np.asarray(x))
        _check_target(out, target)
        z = np.exp(out - out.max(axis=1, keepdims=True))
        return z[:, target] / z.sum(axis=1)

    return prob_fn


def model_gradient(model, target: int) -> GradFn:
    """``grad_fn(x) -> (scores (M,), d score / d x (M, ...))`` for a course model (forward +
    backward): one backward pass with ``dout`` one-hot at ``target``. The model's parameter
    gradients are left as they were before (only the input gradient is wanted)."""
    target = int(target)

    def grad_fn(x):
        x = np.asarray(x)
        saved = {k: g.copy() for k, g in model.grads.items()}
        out = model.forward(x)
        _check_target(out, target)
        dout = np.zeros_like(out)
        dout[:, target] = 1.0
        dx = model.backward(dout)
        _restore(model, saved)
        return out[:, target], dx

    return grad_fn


def _batch(x, name="x") -> np.ndarray:
    x = as_array(x, name)
    if x.ndim < 2:
        raise ValueError(f"{name} must be a batch (N, features...) with at least 2 dimensions, got shape {x.shape}")
    return x


def _baseline(baseline, x: np.ndarray) -> np.ndarray:
    """A baseline broadcast to x's shape: a number, one example (x.shape[1:]) or one per example."""
    if baseline is None:
        baseline = 0.0
    b = np.asarray(baseline, dtype=x.dtype)
    try:
        return np.broadcast_to(b, x.shape).copy()
    except ValueError:
        raise ValueError(f"baseline must be a number or have shape {x.shape[1:]} (one example) or {x.shape}, "
                         f"got shape {b.shape}") from None


# --- gradient methods ---------------------------------------------------------------------------

def vanilla_gradient(grad_fn: GradFn, x) -> np.ndarray:
    """d f / d x, (N, ...) -> (N, ...): how f changes for an infinitesimal change of each feature."""
    return grad_fn(_batch(x))[1]


def saliency(grad_fn: GradFn, x) -> np.ndarray:
    """|d f / d x| (Simonyan et al. 2013; Captum's ``Saliency`` with ``abs=True``)."""
    return np.abs(vanilla_gradient(grad_fn, x))


def gradient_x_input(grad_fn: GradFn, x) -> np.ndarray:
    """x * d f / d x (Captum's ``InputXGradient``): a first-order guess of each feature's share."""
    x = _batch(x)
    return x * grad_fn(x)[1]


def smoothgrad_noise(x_shape, n_samples: int, stdev: float, seed: int = 0) -> np.ndarray:
    """Gaussian noise (N, n_samples, ...) with standard deviation ``stdev``, from ``seed``."""
    check_positive_int(n_samples, "n_samples")
    return np.random.default_rng(seed).normal(0.0, stdev, size=(x_shape[0], n_samples, *x_shape[1:]))


def smoothgrad(grad_fn: GradFn, x, *, stdev: float = 0.1, n_samples: int = 20, noise=None,
               seed: int = 0, squared: bool = False) -> np.ndarray:
    """SmoothGrad: the mean gradient at ``n_samples`` noisy copies of each x (Smilkov et al. 2017).

    x (N, ...) -> (N, ...). ``noise`` (N, n_samples, ...) fixes the noise (to reproduce another
    library's draws); otherwise N(0, stdev^2) from ``seed``. ``squared=True`` averages squared
    gradients (Captum's ``nt_type="smoothgrad_sq"``).
    """
    x = _batch(x)
    if noise is None:
        noise = smoothgrad_noise(x.shape, n_samples, stdev, seed)
    noise = np.asarray(noise, dtype=x.dtype)
    if noise.ndim != x.ndim + 1 or noise.shape[0] != x.shape[0] or noise.shape[2:] != x.shape[1:]:
        raise ValueError(f"noise must have shape (N, n_samples, ...) = ({x.shape[0]}, S, "
                         f"{', '.join(map(str, x.shape[1:]))}), got {noise.shape}")
    n, s = noise.shape[:2]
    noisy = (x[:, None] + noise).reshape(n * s, *x.shape[1:])
    grads = grad_fn(noisy)[1].reshape(n, s, *x.shape[1:])
    return (grads ** 2 if squared else grads).mean(axis=1)


def ig_rule(method: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``alphas`` in [0, 1] and weights of a quadrature rule for the path integral.

    ``riemann_left/right/middle``: ``steps`` equal steps of 1/steps. ``trapezoid``: the textbook
    trapezoid rule on ``steps`` equally spaced nodes 0..1 (weights 1/(steps-1), halved at the
    ends; sum 1). ``riemann_trapezoid`` is Captum's rule of that name: the same nodes, but
    weights 1/steps halved at the ends, which sum to (steps-1)/steps, not 1, so its
    completeness error never falls below about 1/steps of f(x) - f(x'). ``gausslegendre``:
    Gauss-Legendre nodes and weights mapped to [0, 1] (exact for polynomials of degree
    < 2 steps; Captum's default).
    """
    steps = check_positive_int(steps, "steps")
    if method not in IG_METHODS:
        raise ValueError(f"method must be one of {IG_METHODS}, got {method!r}")
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return 0.5 * (nodes + 1.0), 0.5 * weights
    if steps < 2:
        raise ValueError(f"the {method} rule needs steps >= 2, got {steps}")
    if method == "trapezoid":
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, steps), weights
    weights = np.full(steps, 1.0 / steps)
    if method == "riemann_trapezoid":
        weights[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, steps), weights
    alphas = {"riemann_left": np.linspace(0, 1 - 1 / steps, steps),
              "riemann_right": np.linspace(1 / steps, 1, steps),
              "riemann_middle": np.linspace(1 / (2 * steps), 1 - 1 / (2 * steps), steps)}[method]
    return alphas, weights


def integrated_gradients(grad_fn: GradFn, x, baseline=0.0, *, steps: int = 50,
                         method: str = "gausslegendre") -> np.ndarray:
    """Integrated gradients (Sundararajan et al. 2017), (N, ...) -> (N, ...)::

        IG_i(x) = (x_i - x'_i) * integral_0^1 d f(x' + a (x - x')) / d x_i  da
                ~ (x_i - x'_i) * sum_k w_k * grad_i(x' + a_k (x - x'))

    with the nodes a_k and weights w_k of :func:`ig_rule`. All ``steps`` points of the N paths
    go through ``grad_fn`` as one batch (N * steps rows). Completeness:
    ``attributions.sum() == f(x) - f(baseline)`` up to the rule's error (:func:`completeness_gap`).
    """
    x = _batch(x)
    base = _baseline(baseline, x)
    alphas, weights = ig_rule(method, steps)
    shape = (1, -1) + (1,) * (x.ndim - 1)
    path = base[:, None] + alphas.reshape(shape) * (x - base)[:, None]        # (N, steps, ...)
    grads = grad_fn(path.reshape(-1, *x.shape[1:]))[1].reshape(path.shape)
    return (x - base) * np.tensordot(weights, grads, axes=([0], [1])) if x.shape[0] else np.zeros_like(x)


def completeness_gap(score_fn: ScoreFn, x, baseline, attributions) -> np.ndarray:
    """sum(attributions) - (f(x) - f(baseline)) per example, (N,): 0 for an exact integral."""
    x = _batch(x)
    attributions = np.asarray(attributions)
    if attributions.shape != x.shape:
        raise ValueError(f"attributions must have x's shape {x.shape}, got {attributions.shape}")
    base = _baseline(baseline, x)
    delta = np.asarray(score_fn(x)) - np.asarray(score_fn(base))
    return attributions.reshape(len(x), -1).sum(axis=1) - delta


def as_score_fn(fn) -> ScoreFn:
    """A score_fn from a score_fn or a grad_fn (whichever returns a pair)."""
    def score_fn(x):
        out = fn(x)
        return out[0] if isinstance(out, tuple) else out
    return score_fn


# --- perturbation methods -----------------------------------------------------------------------

def occlusion_windows(shape, window, stride) -> list[tuple[slice, ...]]:
    """The window positions Captum's Occlusion uses: along each axis ceil((n - k) / s) + 1 starts
    0, s, 2s, ... (the last window is cut at the border when it does not fit)."""
    starts = []
    for n, k, s in zip(shape, window, stride):
        if k > n:
            raise ValueError(f"the window {tuple(window)} does not fit in the input {tuple(shape)}")
        if s > k and n > k:
            raise ValueError(f"a stride {tuple(stride)} larger than the window {tuple(window)} skips features")
        starts.append([i * s for i in range(math.ceil((n - k) / s) + 1)])
    return [tuple(slice(a, min(a + k, n)) for a, k, n in zip(pos, window, shape))
            for pos in np.array(np.meshgrid(*starts, indexing="ij")).reshape(len(shape), -1).T]


def occlusion(score_fn: ScoreFn, x, window, stride=None, baseline=0.0) -> np.ndarray:
    """Occlusion (Zeiler & Fergus 2014): slide a ``window`` (a shape like one example's, e.g.
    (1, 3, 3)) over each input, replace it by the baseline, and give each feature the mean drop
    f(x) - f(occluded) over the windows that cover it (Captum's ``Occlusion``). (N, ...) -> (N, ...).
    """
    x = _batch(x)
    window = tuple(int(k) for k in np.broadcast_to(window, (x.ndim - 1,)))
    stride = window if stride is None else tuple(int(s) for s in np.broadcast_to(stride, (x.ndim - 1,)))
    base = _baseline(baseline, x)
    windows = occlusion_windows(x.shape[1:], window, stride)
    occluded = np.repeat(x[:, None], len(windows), axis=1)                  # (N, W, ...)
    for j, w in enumerate(windows):
        occluded[(slice(None), j) + w] = base[(slice(None),) + w]
    f_x = np.asarray(score_fn(x))
    drops = f_x[:, None] - np.asarray(score_fn(occluded.reshape(-1, *x.shape[1:]))).reshape(len(x), -1)
    total, counts = np.zeros_like(x), np.zeros(x.shape[1:])
    for j, w in enumerate(windows):
        total[(slice(None),) + w] += drops[:, j].reshape((-1,) + (1,) * (x.ndim - 1))
        counts[w] += 1
    return total / counts


def coalition_value_fn(score_fn: ScoreFn, x, baseline=0.0, segments=None) -> tuple[ValueFn, int]:
    """The game of one example ``x`` (no batch axis): ``v(masks (M, F) of 0/1) -> (M,)`` scores of
    x with the features of the present players kept and the rest set to the baseline. Players are
    the features, or the labels 0..F-1 of ``segments`` (x's shape): superpixels, feature groups.
    Returns (value_fn, F)."""
    x = as_array(x, "x")
    base = _baseline(baseline, x[None])[0]
    seg = np.arange(x.size).reshape(x.shape) if segments is None else np.asarray(segments)
    if seg.shape != x.shape:
        raise ValueError(f"segments must have one label per feature, shape {x.shape}, got {seg.shape}")
    n_players = int(seg.max()) + 1
    if sorted(np.unique(seg)) != list(range(n_players)):
        raise ValueError(f"segments must use the labels 0..{n_players - 1}, each at least once")

    def value_fn(masks):
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        if masks.shape[1] != n_players:
            raise ValueError(f"masks must have {n_players} columns (one per player), got shape {masks.shape}")
        keep = masks[:, seg]                                                 # (M, *x.shape)
        return np.asarray(score_fn(np.where(keep, x, base)))

    return value_fn, n_players


def all_coalitions(n_players: int) -> np.ndarray:
    """Every subset of n players as rows of 0/1, (2^n, n), row k = the binary digits of k."""
    n_players = check_positive_int(n_players, "n_players")
    if n_players > 20:
        raise ValueError(f"2^{n_players} coalitions are too many to enumerate; use shapley_sampling or kernel_shap")
    return (np.arange(2 ** n_players)[:, None] >> np.arange(n_players)) & 1


def shapley_values(value_fn: ValueFn, n_players: int) -> np.ndarray:
    """Exact Shapley values (Shapley 1953), (n_players,)::

        phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S))

    from the values of all 2^n coalitions, computed in one call of ``value_fn``. Efficiency:
    sum(phi) = v(all) - v(none).
    """
    masks = all_coalitions(n_players)
    values = np.asarray(value_fn(masks), dtype=float)
    sizes = masks.sum(axis=1)
    phi = np.zeros(n_players)
    for i in range(n_players):
        without = np.flatnonzero(masks[:, i] == 0)
        s = sizes[without]
        weight = np.array([math.factorial(k) * math.factorial(n_players - k - 1) for k in s]) / math.factorial(n_players)
        phi[i] = np.dot(weight, values[without + (1 << i)] - values[without])
    return phi


def shapley_sampling(value_fn: ValueFn, n_players: int, n_permutations: int = 100, seed: int = 0) -> np.ndarray:
    """Monte Carlo Shapley values (Castro, Gomez & Tejada 2009): each player's marginal
    contribution v(predecessors + i) - v(predecessors), averaged over random orders; unbiased,
    error ~ 1/sqrt(n_permutations). One ``value_fn`` call of n_permutations * (n + 1) rows."""
    n_players, n_permutations = check_positive_int(n_players, "n_players"), check_positive_int(n_permutations, "n_permutations")
    rng = np.random.default_rng(seed)
    orders = np.array([rng.permutation(n_players) for _ in range(n_permutations)])
    masks = np.zeros((n_permutations, n_players + 1, n_players), dtype=bool)
    for k in range(1, n_players + 1):  # row k: the first k players of the order present
        masks[:, k] = masks[:, k - 1]
        masks[np.arange(n_permutations), k, orders[:, k - 1]] = True
    values = np.asarray(value_fn(masks.reshape(-1, n_players)), dtype=float).reshape(n_permutations, n_players + 1)
    gains = np.diff(values, axis=1)                                          # gain of the k-th player in order
    phi = np.zeros(n_players)
    np.add.at(phi, orders.ravel(), gains.ravel())
    return phi / n_permutations


def shapley_kernel_weight(n_players: int, size) -> np.ndarray:
    """Lundberg & Lee's Shapley kernel (n - 1) / (C(n, |S|) |S| (n - |S|)) (infinite at 0 and n)."""
    size = np.asarray(size)
    with np.errstate(divide="ignore"):
        comb = np.array([math.comb(n_players, int(k)) for k in size.ravel()], dtype=float).reshape(size.shape)
        return (n_players - 1) / (comb * size * (n_players - size))


def kernel_shap(value_fn: ValueFn, n_players: int, n_samples: int | None = None, seed: int = 0) -> np.ndarray:
    """KernelSHAP (Lundberg & Lee 2017): the Shapley values as the weighted least-squares linear
    model of v on coalitions, constrained to sum to v(all) - v(none).

    ``n_samples=None`` uses every coalition with the Shapley kernel's weights: the result is then
    the exact Shapley values. Otherwise ``n_samples`` coalitions are drawn (size |S| with
    probability proportional to the kernel's total weight of that size, then a random set of that
    size) and weighted equally, an estimate that converges to them.
    """
    n = check_positive_int(n_players, "n_players")
    empty, full = np.zeros((1, n), dtype=bool), np.ones((1, n), dtype=bool)
    v0, v1 = (float(np.asarray(value_fn(m))[0]) for m in (empty, full))
    if n == 1:
        return np.array([v1 - v0])
    if n_samples is None:
        masks = all_coalitions(n)[1:-1].astype(bool)
        weights = shapley_kernel_weight(n, masks.sum(axis=1))
    else:
        rng = np.random.default_rng(seed)
        sizes = np.arange(1, n)
        p = shapley_kernel_weight(n, sizes) * np.array([math.comb(n, int(k)) for k in sizes])
        drawn = rng.choice(sizes, size=check_positive_int(n_samples, "n_samples"), p=p / p.sum())
        masks = np.zeros((len(drawn), n), dtype=bool)
        for row, k in enumerate(drawn):
            masks[row, rng.choice(n, size=k, replace=False)] = True
        weights = np.ones(len(drawn))
    y = np.asarray(value_fn(masks), dtype=float) - v0
    total = v1 - v0
    z = masks.astype(float)
    # eliminate the last player with the constraint: phi_last = total - sum(phi_others)
    design = z[:, :-1] - z[:, -1:]
    target = y - z[:, -1] * total
    sw = np.sqrt(weights)
    phi_rest, *_ = np.linalg.lstsq(design * sw[:, None], target * sw, rcond=None)
    return np.append(phi_rest, total - phi_rest.sum())


def lime(score_fn: ScoreFn, x, *, n_samples: int = 500, baseline=0.0, segments=None,
         kernel_width: float = 0.25, ridge: float = 1e-3, seed: int = 0) -> np.ndarray:
    """A LIME-style local surrogate (Ribeiro, Singh & Guestrin 2016) for one example ``x``: draw
    ``n_samples`` random on/off masks of the players (features, or ``segments``), score the
    masked inputs, weight each by exp(-d^2 / width^2) with d the cosine distance of its mask to
    the all-on mask, and fit a weighted ridge regression of the scores on the masks. Returns the
    coefficients spread back over x's shape (each feature gets its segment's coefficient)."""
    x = as_array(x, "x")
    value_fn, n = coalition_value_fn(score_fn, x, baseline, segments)
    rng = np.random.default_rng(seed)
    masks = rng.random((check_positive_int(n_samples, "n_samples"), n)) < 0.5
    masks[0] = True  # the example itself
    y = value_fn(masks)
    present = masks.sum(axis=1)
    distance = 1.0 - present / np.sqrt(np.maximum(present, 1) * n)          # cosine distance to all-on
    w = np.exp(-distance ** 2 / kernel_width ** 2)
    design = np.column_stack([np.ones(len(masks)), masks.astype(float)])
    penalty = ridge * np.eye(n + 1)
    penalty[0, 0] = 0.0  # no penalty on the intercept
    coef = np.linalg.solve(design.T @ (w[:, None] * design) + penalty, design.T @ (w * y))[1:]
    seg = np.arange(x.size).reshape(x.shape) if segments is None else np.asarray(segments)
    return coef[seg]


# --- Grad-CAM -----------------------------------------------------------------------------------

def layer_activations_and_gradients(model, x, target: int, layer: int):
    """For a Sequential: (scores (N,), A, dscore/dA) where A (N, C, H, W) is the output of
    ``model[layer]``: forward layer by layer keeping A, backward keeping the gradient arriving at A."""
    x = _batch(x)
    n_layers = len(model)
    if not -n_layers <= layer < n_layers:
        raise ValueError(f"layer must index one of the model's {n_layers} layers, got {layer}")
    layer = layer % n_layers
    saved = {k: g.copy() for k, g in model.grads.items()}
    h = x
    for i, lay in enumerate(model):
        h = lay.forward(h)
        if i == layer:
            activations = h
    _check_target(h, int(target))
    dout = np.zeros_like(h)
    dout[:, int(target)] = 1.0
    for i in range(n_layers - 1, layer, -1):
        dout = model[i].backward(dout)
    _restore(model, saved)
    return h[:, int(target)], activations, dout


def grad_cam(activations, gradients, *, relu: bool = True) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017), (N, C, H, W) x 2 -> (N, H, W)::

        alpha_c = mean over (H, W) of d score / d A_c        (how much channel c matters)
        map     = ReLU(sum_c alpha_c A_c)                    (where the important channels fire)

    Captum's ``LayerGradCam`` (with ``relu_attributions=True``; it returns (N, 1, H, W)).
    """
    a, g = as_array(activations, "activations", ndim=4), as_array(gradients, "gradients", ndim=4)
    if a.shape != g.shape:
        raise ValueError(f"activations and gradients must have the same shape, got {a.shape} and {g.shape}")
    cam = np.einsum("nc,nchw->nhw", g.mean(axis=(2, 3)), a)
    return np.maximum(cam, 0.0) if relu else cam


def upsample(maps, size) -> np.ndarray:
    """Nearest-neighbour upsampling (N, h, w) -> (N, H, W) for H, W multiples of h, w."""
    maps = as_array(maps, "maps", ndim=3)
    fh, fw = size[0] // maps.shape[1], size[1] // maps.shape[2]
    if fh * maps.shape[1] != size[0] or fw * maps.shape[2] != size[1]:
        raise ValueError(f"size {tuple(size)} must be a multiple of the maps' {maps.shape[1:]}")
    return maps.repeat(fh, axis=1).repeat(fw, axis=2)


# --- faithfulness: deletion and insertion -------------------------------------------------------

def deletion_curve(score_fn: ScoreFn, x, attribution, *, baseline=0.0, steps: int = 16,
                   insertion: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Deletion (insertion) curve of one example ``x`` (Petsiuk et al. 2018, RISE).

    Rank the features by ``attribution`` (largest first). Deletion: replace the top fraction
    0, 1/steps, ..., 1 of them by the baseline and score each input; a faithful ranking makes
    the score fall fast (small area). Insertion: start from the baseline and put the top features
    back; the score should rise fast (large area). Returns (fractions (steps+1,), scores (steps+1,)).
    """
    x = as_array(x, "x")
    attribution = np.asarray(attribution, dtype=float)
    if attribution.shape != x.shape:
        raise ValueError(f"attribution must have x's shape {x.shape}, got {attribution.shape}")
    steps = check_positive_int(steps, "steps")
    base = _baseline(baseline, x[None])[0].ravel()
    order = np.argsort(-attribution.ravel(), kind="stable")
    counts = np.round(np.linspace(0, x.size, steps + 1)).astype(int)
    start, other = (base, x.ravel()) if insertion else (x.ravel(), base)
    inputs = np.repeat(start[None], steps + 1, axis=0)
    for row, k in enumerate(counts):
        inputs[row, order[:k]] = other[order[:k]]
    return counts / x.size, np.asarray(score_fn(inputs.reshape(-1, *x.shape)))


def area_under_curve(fractions, scores) -> float:
    """The trapezoid area under a deletion / insertion curve."""
    f, s = np.asarray(fractions, dtype=float), np.asarray(scores, dtype=float)
    return float(np.sum((f[1:] - f[:-1]) * (s[1:] + s[:-1]) / 2))


# --- sanity checks (Adebayo et al. 2018) --------------------------------------------------------

def parameter_layers(model) -> list[int]:
    """Indices of the layers of a Sequential that have parameters, input side first."""
    return [i for i, layer in enumerate(model) if layer.params]


def randomize_layers(model, layers, seed: int = 0):
    """A copy of ``model`` whose layers ``layers`` (indices) get fresh random weights: each
    parameter array replaced by Gaussian noise of the same standard deviation as the trained one
    (the cascading randomisation of Adebayo et al. 2018 passes the top k layers). The original
    model is untouched."""
    rng = np.random.default_rng(seed)
    clone = copy.deepcopy(model)
    for i in layers:
        for name, p in clone[i].params.items():
            p[...] = rng.normal(0.0, float(p.std()) or 1.0, size=p.shape)
    return clone


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with ties given their mean rank."""
    order = np.argsort(a, kind="stable")
    ranks = np.empty(len(a))
    ranks[order] = np.arange(len(a))
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def rank_correlation(a, b, *, absolute: bool = True) -> float:
    """Spearman rank correlation of two maps (flattened), of their absolute values by default
    (Adebayo et al. compare |maps|, since a sign flip is still the same explanation)."""
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"the maps must have the same size, got {a.size} and {b.size}")
    if absolute:
        a, b = np.abs(a), np.abs(b)
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def js_divergence(p, q) -> np.ndarray:
    """Jensen-Shannon divergence of distributions along the last axis, (..., K) x (..., K) -> (...)::

        JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2,   m = (p + q) / 2,

    in nats: 0 for equal distributions, at most ln 2 (disjoint supports); symmetric and always
    finite (unlike KL). Used in notebook 14 to measure how far a replaced attention row is from the
    model's own, and how far the next-character distribution moved."""
    p, q = as_array(p, "p"), as_array(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    for name, d in (("p", p), ("q", q)):
        if d.ndim < 1 or (d < 0).any() or not np.allclose(d.sum(axis=-1), 1.0, atol=1e-6):
            raise ValueError(f"{name} must hold probability distributions along its last axis "
                             f"(non-negative, summing to 1), got sums {np.round(d.sum(axis=-1), 4).ravel()[:5]}")
    m = (p + q) / 2

    def kl(a, b):  # 0 log 0 = 0; b > 0 wherever a > 0, since b = m
        return np.where(a > 0, a * (np.log(np.where(a > 0, a, 1.0)) - np.log(np.where(a > 0, b, 1.0))), 0.0).sum(axis=-1)

    return np.maximum(kl(p, m) / 2 + kl(q, m) / 2, 0.0)
