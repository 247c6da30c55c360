"""Training at scale, from scratch in NumPy (notebook 11).

What PyTorch's distributed and mixed-precision machinery does, in kernels that read like the math:

* **Data parallelism**: :func:`ring_allreduce` (reduce-scatter then all-gather, as NCCL and gloo do
  it) averages K workers' gradients while each worker sends only 2(K-1)/K of a gradient;
  :func:`parameter_server_allreduce` is the naive alternative it is counted against.
  :func:`data_parallel_step` is one SGD step of K workers on K shards of a batch, equal to one step
  on the whole batch; :func:`accumulated_gradient` is gradient accumulation over micro-batches.
* **Mixed precision**: :func:`float16_facts` (range and resolution) and :class:`DynamicLossScaler`
  (scale, check for inf/NaN, skip and halve, grow), the rule of ``torch.amp.GradScaler``.
* **Activation memory**: a deep tanh MLP whose backward keeps its activations
  (:func:`mlp_forward` / :func:`mlp_backward`) against :func:`checkpointed_mlp_gradients`, which
  keeps only segment boundaries and recomputes one segment at a time (peak memory ~ 2 sqrt(L)
  activations for L layers, one extra forward); :class:`MemoryMeter` counts what is held.
* **Memory formulas** (:func:`training_memory`) for the *Will it fit?* widget, the
  :func:`fit_power_law` of scaling laws and FLOPs → GPU-hours → kWh → CO2 accounting.

No torch here: the tests and the notebook compare these with PyTorch.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

# --- data parallelism: the ring all-reduce ---------------------------------------------------------


@dataclass
class CommStats:
    """Elements each worker sent (``sent[i]``) and the number of communication steps."""
    sent: np.ndarray
    steps: int = 0

    @property
    def max_sent(self) -> int:
        return int(self.sent.max())


def _as_worker_arrays(grads: Sequence[np.ndarray]) -> list[np.ndarray]:
    if len(grads) < 1:
        raise ValueError("give at least one worker's gradient")
    arrays = [np.asarray(g, dtype=float) for g in grads]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"every worker's gradient must have the same shape, got shapes {sorted(shapes)}")
    return arrays


def ring_reduce_scatter(chunks: list[list[np.ndarray]], stats: CommStats) -> None:
    """In place: ``chunks[i][c]`` is worker i's copy of chunk c (K workers, K chunks).

    K-1 steps; at step s worker i sends its chunk (i - s) mod K to worker i+1, which adds it to its
    own. Afterwards worker i holds the full sum of chunk (i + 1) mod K.
    """
    K = len(chunks)
    for s in range(K - 1):
        # every worker sends at the same time: read all messages before anyone adds
        messages = [(i, (i - s) % K, chunks[i][(i - s) % K].copy()) for i in range(K)]
        for i, c, data in messages:
            chunks[(i + 1) % K][c] += data
            stats.sent[i] += data.size
        stats.steps += 1


def ring_all_gather(chunks: list[list[np.ndarray]], stats: CommStats) -> None:
    """In place, after :func:`ring_reduce_scatter`: K-1 steps; at step s worker i passes the finished
    chunk (i + 1 - s) mod K on to worker i+1, which overwrites its copy. Then every worker has all."""
    K = len(chunks)
    for s in range(K - 1):
        messages = [(i, (i + 1 - s) % K, chunks[i][(i + 1 - s) % K].copy()) for i in range(K)]
        for i, c, data in messages:
            chunks[(i + 1) % K][c] = data
            stats.sent[i] += data.size
        stats.steps += 1


def ring_allreduce(grads: Sequence[np.ndarray], *, average: bool = True) -> tuple[list[np.ndarray], CommStats]:
    """All-reduce K workers' gradients around a ring: reduce-scatter, then all-gather.

    grads: K arrays of one shape. Returns (K arrays, each the mean (or sum) of all, same shape) and
    the :class:`CommStats`: every worker sends 2(K-1) chunks of ~n/K elements, 2(K-1)/K * n in all,
    whatever K is (a parameter server's busiest link carries K * n).
    """
    arrays = _as_worker_arrays(grads)
    K, shape = len(arrays), arrays[0].shape
    chunks = [list(np.array_split(a.ravel().copy(), K)) for a in arrays]   # (K workers) x (K chunks)
    stats = CommStats(sent=np.zeros(K, dtype=np.int64))
    ring_reduce_scatter(chunks, stats)
    ring_all_gather(chunks, stats)
    out = [np.concatenate(c).reshape(shape) for c in chunks]
    return ([o / K for o in out] if average else out), stats


def parameter_server_allreduce(grads: Sequence[np.ndarray], *, average: bool = True):
    """The naive way: every worker sends its whole gradient to a server, which sends the result back.

    Returns (K results, CommStats over K + 1 parties: ``sent[:K]`` the workers (n each), ``sent[K]``
    the server (K * n))."""
    arrays = _as_worker_arrays(grads)
    K, n = len(arrays), arrays[0].size
    total = np.sum(arrays, axis=0)
    result = total / K if average else total
    stats = CommStats(sent=np.array([n] * K + [K * n], dtype=np.int64), steps=2)
    return [result.copy() for _ in range(K)], stats


# --- data-parallel SGD and gradient accumulation ---------------------------------------------------

GradFn = Callable[[dict, np.ndarray, np.ndarray], dict]  # (params, X, y) -> mean gradient over the rows


def shard(X: np.ndarray, y: np.ndarray, workers: int):
    """Split a batch into ``workers`` equal shards (as DistributedSampler does): list of (X_k, y_k)."""
    if workers < 1 or len(X) % workers:
        raise ValueError(f"a batch of {len(X)} rows does not split into {workers} equal shards")
    return list(zip(np.split(X, workers), np.split(y, workers)))


def data_parallel_step(params: dict, X, y, grad_fn: GradFn, *, lr: float, workers: int,
                       allreduce=ring_allreduce) -> dict:
    """One SGD step by ``workers`` replicas: each computes the mean gradient on its shard, the
    gradients are averaged with ``allreduce``, every replica takes the same step. Equals one SGD step
    on the whole batch (equal shards: the mean of the shard means is the batch mean)."""
    local = [grad_fn(params, Xk, yk) for Xk, yk in shard(X, y, workers)]
    new = {}
    for name in params:
        averaged, _ = allreduce([g[name] for g in local])
        new[name] = params[name] - lr * averaged[0]
    return new


def accumulated_gradient(params: dict, X, y, grad_fn: GradFn, *, micro_batches: int) -> dict:
    """Gradient accumulation: sum micro-batch gradients weighted by their share of the rows (the
    ``loss / accumulation_steps`` of a PyTorch loop). Equals the whole batch's mean gradient for any
    model whose rows do not interact (batch norm's do: its statistics change with the batch)."""
    total = {name: np.zeros_like(p, dtype=float) for name, p in params.items()}
    for Xk, yk in zip(np.array_split(X, micro_batches), np.array_split(y, micro_batches)):
        g = grad_fn(params, Xk, yk)
        for name in total:
            total[name] += g[name] * (len(Xk) / len(X))
    return total


def mlp_mse_gradients(params: dict, X, y) -> dict:
    """Mean-squared-error gradients of the small model y ≈ tanh(X W1 + b1) W2 + b2 (rows independent).

    params: W1 (D, H), b1 (H,), W2 (H, O), b2 (O,); X (B, D), y (B, O). Returns a dict of the same
    shapes: the gradient of mean over rows of 0.5 * ||out - y||^2."""
    h = np.tanh(X @ params["W1"] + params["b1"])          # (B, H)
    out = h @ params["W2"] + params["b2"]                 # (B, O)
    dout = (out - y) / len(X)
    dh = dout @ params["W2"].T * (1 - h**2)
    return {"W1": X.T @ dh, "b1": dh.sum(0), "W2": h.T @ dout, "b2": dout.sum(0)}


# --- mixed precision ------------------------------------------------------------------------------

def float16_facts(dtype=np.float16) -> dict:
    """Largest value, smallest normal and subnormal, and the spacing of numbers near 1 of a float type."""
    info = np.finfo(dtype)
    return {"max": float(info.max), "smallest_normal": float(info.smallest_normal),
            "smallest_subnormal": float(info.smallest_subnormal), "eps": float(info.eps),
            "decimal_digits": int(info.precision)}


def underflow_fraction(values, scale: float = 1.0) -> float:
    """Share of the non-zero ``values`` that become 0 when ``values * scale`` is stored in float16."""
    values = np.asarray(values, dtype=np.float64)
    nonzero = values != 0
    if not nonzero.any():
        return 0.0
    with np.errstate(over="ignore"):
        stored = (values[nonzero] * scale).astype(np.float16)
    return float(np.mean(stored == 0))


@dataclass
class DynamicLossScaler:
    """Dynamic loss scaling (Micikevicius et al. 2018), the rule of ``torch.amp.GradScaler``.

    Multiply the loss by ``scale`` so small gradients survive float16; before the optimizer step
    divide the gradients by it. If any gradient is inf/NaN the step is **skipped** and the scale
    multiplied by ``backoff_factor``; after ``growth_interval`` good steps in a row it is multiplied
    by ``growth_factor``. Defaults are GradScaler's.
    """
    scale: float = 2.0**16
    growth_factor: float = 2.0
    backoff_factor: float = 0.5
    growth_interval: int = 2000
    good_steps: int = 0
    history: list = field(default_factory=list)   # (scale used, skipped) per step

    def unscale(self, scaled_grads: Sequence[np.ndarray]) -> tuple[list[np.ndarray], bool]:
        """Gradients divided by the scale (in float32) and whether any was inf or NaN."""
        found_inf = any(not np.all(np.isfinite(g)) for g in scaled_grads)
        return [np.asarray(g, dtype=np.float32) / np.float32(self.scale) for g in scaled_grads], found_inf

    def update(self, found_inf: bool) -> None:
        """Halve after an overflow (and restart counting), grow after ``growth_interval`` good steps."""
        self.history.append((self.scale, bool(found_inf)))
        if found_inf:
            self.scale *= self.backoff_factor
            self.good_steps = 0
        else:
            self.good_steps += 1
            if self.good_steps == self.growth_interval:
                self.scale *= self.growth_factor
                self.good_steps = 0

    def step(self, params: list[np.ndarray], scaled_grads: Sequence[np.ndarray], lr: float) -> bool:
        """Unscale, SGD-update ``params`` in place unless a gradient overflowed, update the scale.
        Returns True if the step was taken."""
        grads, found_inf = self.unscale(scaled_grads)
        if not found_inf:
            for p, g in zip(params, grads):
                p -= lr * g
        self.update(found_inf)
        return not found_inf


# --- activation memory and checkpointing ----------------------------------------------------------

class MemoryMeter:
    """Counts the elements held for the backward pass: ``hold(name, array)``, ``free(name)``, ``peak``."""

    def __init__(self):
        self.held: dict = {}
        self.current = self.peak = 0

    def hold(self, name, array: np.ndarray) -> np.ndarray:
        if name in self.held:
            self.free(name)
        self.held[name] = array
        self.current += array.size
        self.peak = max(self.peak, self.current)
        return array

    def free(self, name) -> None:
        self.current -= self.held.pop(name).size


def mlp_forward(x: np.ndarray, weights: Sequence[np.ndarray], meter: MemoryMeter | None = None,
                start: int = 0) -> list[np.ndarray]:
    """h_{l+1} = tanh(h_l @ W_l). Returns [h_start, ..., h_end] (each (B, W)); every one is held in
    ``meter`` (the backward needs h_l for W_l's gradient and h_{l+1} for tanh's)."""
    hs = [x]
    if meter is not None:
        meter.hold(start, x)
    for l, W in enumerate(weights):
        hs.append(np.tanh(hs[-1] @ W))
        if meter is not None:
            meter.hold(start + l + 1, hs[-1])
    return hs


def mlp_backward(dout: np.ndarray, hs: list[np.ndarray], weights: Sequence[np.ndarray]):
    """Backward through :func:`mlp_forward`'s layers given their activations. Returns (dx, [dW_l])."""
    dWs = [None] * len(weights)
    dh = dout
    for l in reversed(range(len(weights))):
        dz = dh * (1 - hs[l + 1] ** 2)       # tanh'
        dWs[l] = hs[l].T @ dz
        dh = dz @ weights[l].T
    return dh, dWs


def checkpointed_mlp_gradients(x, weights, dout, *, segment: int, meter: MemoryMeter | None = None):
    """The same gradients as mlp_forward + mlp_backward, holding only each segment's input during the
    forward and recomputing one segment's activations at a time during the backward.

    Returns (out, dx, [dW_l], layer_evaluations): 2 L, one extra forward (all layers recomputed).
    Peak held: ceil(L / segment) boundaries + segment activations; least near segment = sqrt(L).
    """
    if segment < 1:
        raise ValueError(f"segment must be a positive number of layers, got {segment}")
    meter = meter if meter is not None else MemoryMeter()
    L = len(weights)
    starts = list(range(0, L, segment))
    h, evaluations = x, 0
    for s in starts:                     # forward: keep only each segment's input
        meter.hold(("boundary", s), h)
        for W in weights[s:s + segment]:
            h = np.tanh(h @ W)
            evaluations += 1
    out = h
    dWs = [None] * L
    dh = dout
    for s in reversed(starts):           # backward: recompute one segment, backprop through it, drop it
        seg_weights = weights[s:s + segment]
        boundary = meter.held[("boundary", s)]
        hs = [boundary]
        for l, W in enumerate(seg_weights):
            hs.append(meter.hold(("recomputed", s + l + 1), np.tanh(hs[-1] @ W)))
            evaluations += 1
        dh, seg_dWs = mlp_backward(dh, hs, seg_weights)
        dWs[s:s + len(seg_weights)] = seg_dWs
        for l in range(len(seg_weights)):
            meter.free(("recomputed", s + l + 1))
        meter.free(("boundary", s))
    return out, dh, dWs, evaluations


def mlp_activation_elements(batch: int, width: int, depth: int, segment: int | None = None) -> int:
    """Formula for the peak activation elements held: (L + 1) B W without checkpointing; with
    segments of ``segment`` layers, while segment j (from 0) is recomputed: the j + 1 boundaries still
    held plus its layers' outputs, at most ceil(L / segment) + segment activations of B x W."""
    if segment is None:
        return (depth + 1) * batch * width
    starts = range(0, depth, segment)
    return max(j + 1 + min(segment, depth - s) for j, s in enumerate(starts)) * batch * width


# --- memory of training a transformer (the *Will it fit?* widget) ---------------------------------

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2}  # float32 numbers kept per parameter


@dataclass(frozen=True)
class TransformerShape:
    """A GPT-like model: ``layers`` blocks of width ``hidden``, ``vocab`` tokens, ``heads`` heads."""
    name: str
    layers: int
    hidden: int
    heads: int
    vocab: int = 50_257

    @property
    def params(self) -> int:
        """12 L h^2 (attention 4h^2 + MLP 8h^2 per block) + the embedding V h."""
        return 12 * self.layers * self.hidden**2 + self.vocab * self.hidden


# GPT-2's shapes (Radford et al. 2019) and the 7B / 13B / 65B shapes of LLaMA (Touvron et al. 2023),
# counted with the plain 12 L h^2 formula (LLaMA's gated MLP differs a little)
MODELS = (TransformerShape("GPT-2 small (124M)", 12, 768, 12), TransformerShape("GPT-2 XL (1.5B)", 48, 1600, 25),
          TransformerShape("7B (32 x 4096)", 32, 4096, 32, 32_000),
          TransformerShape("13B (40 x 5120)", 40, 5120, 40, 32_000),
          TransformerShape("65B (80 x 8192)", 80, 8192, 64, 32_000))

GPUS = {"16 GB (T4, V100)": 16, "24 GB (RTX 4090)": 24, "40 GB (A100)": 40, "80 GB (A100, H100)": 80,
        "141 GB (H200)": 141}


def training_memory(model: TransformerShape, *, precision: str = "bf16", optimizer: str = "adam",
                    batch: int = 1, seq_len: int = 1024, checkpointing: bool = False, zero_stage: int = 0,
                    gpus: int = 1) -> dict[str, float]:
    """Bytes per GPU to train ``model``: weights, gradients, optimizer state, activations.

    precision "fp32": 4-byte weights and gradients, float32 optimizer states. "bf16"/"fp16" (mixed):
    2-byte weights and gradients, plus a float32 master copy counted with the optimizer state
    (Adam: 2 + 2 + 12 = 16 bytes per parameter, Rajbhandari et al. 2020, ZeRO). ZeRO stage 1 shards
    the optimizer state over ``gpus``, stage 2 also the gradients, stage 3 also the weights.
    Activations (per GPU, micro-batch ``batch``): 34 s b h bytes per layer in 16-bit with fused
    attention (Korthikanti et al. 2022, without the 5 a s^2 b term), twice that in fp32; with full
    activation checkpointing only each layer's input (2 s b h) plus one layer's activations.
    """
    if precision not in BYTES:
        raise ValueError(f"precision must be one of {sorted(BYTES)}, got {precision!r}")
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZER_STATES)}, got {optimizer!r}")
    if zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage must be 0, 1, 2 or 3, got {zero_stage!r}")
    N, b = model.params, BYTES[precision]
    states = 4 * OPTIMIZER_STATES[optimizer] + (4 if precision != "fp32" else 0)  # + fp32 master weights
    weights, grads, opt = b * N, b * N, states * N
    if zero_stage >= 1:
        opt /= gpus
    if zero_stage >= 2:
        grads /= gpus
    if zero_stage >= 3:
        weights /= gpus
    per_layer = 34 * seq_len * batch * model.hidden * (b / 2)
    if checkpointing:
        acts = model.layers * 2 * seq_len * batch * model.hidden * (b / 2) + per_layer
    else:
        acts = model.layers * per_layer
    return {"weights": float(weights), "gradients": float(grads), "optimizer": float(opt), "activations": float(acts)}


# --- scaling laws and the cost of compute ---------------------------------------------------------

def fit_power_law(x, y) -> tuple[float, float]:
    """Least squares on log-log axes: y ≈ a * x**(-alpha). Returns (a, alpha)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError(f"need at least 2 positive (x, y) pairs of one shape, got shapes {x.shape} and {y.shape}")
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(np.exp(intercept)), float(-slope)


def training_flops(params: float, tokens: float) -> float:
    """6 N D: a forward (2 N per token) and a backward (4 N per token) over D tokens (Kaplan et al. 2020)."""
    return 6.0 * params * tokens


def compute_cost(flops: float, *, peak_flops: float, utilization: float, gpu_watts: float,
                 pue: float, kg_co2_per_kwh: float) -> dict[str, float]:
    """FLOPs -> GPU-hours (at ``utilization`` of ``peak_flops``) -> kWh (GPU power x PUE) -> kg CO2e."""
    if not 0 < utilization <= 1:
        raise ValueError(f"utilization is a fraction in (0, 1], got {utilization}")
    gpu_hours = flops / (peak_flops * utilization) / 3600
    kwh = gpu_hours * gpu_watts / 1000 * pue
    return {"gpu_hours": gpu_hours, "kwh": kwh, "kg_co2": kwh * kg_co2_per_kwh}
