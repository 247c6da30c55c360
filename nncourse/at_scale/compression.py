"""The PyTorch side of notebook 12 (efficient inference): quantization-aware training, pruning with
``torch.nn.utils.prune``, knowledge distillation, ONNX export + ONNX Runtime, latency.

* :func:`mlp` - the small ReLU networks the notebook compresses.
* :func:`quantize_weights` - post-training quantization (PTQ) of every ``nn.Linear`` weight,
  simulated with ``torch.fake_quantize_per_tensor_affine`` / ``per_channel_affine`` on the grid
  :func:`nncourse.compression.calibrate` chooses.
* :class:`QuantLinear`, :func:`to_qat` - quantization-aware training (QAT): the forward pass uses
  the fake-quantized weight, the backward pass treats rounding as the identity (the
  *straight-through estimator*, Bengio et al. 2013), so the float weights learn to sit well on the grid.
* :func:`prune_model`, :func:`shrink` - magnitude pruning (``prune.l1_unstructured`` or
  ``prune.ln_structured`` on whole neurons); ``shrink`` removes structurally pruned neurons so the
  network really becomes smaller (dense hardware only gets faster that way).
* :func:`distill` - train a student on ``alpha * T^2 KL(teacher_T || student_T) + (1 - alpha) * CE``.
* :func:`export_onnx`, :func:`ort_session`, :func:`ort_int8` - the deployment path: ``torch.onnx.export``
  (the torch.export-based exporter), ONNX Runtime, and ONNX Runtime's maintained int8 route
  (``onnxruntime.quantization.quantize_dynamic``).
* :func:`latency` - p50/p95 milliseconds per call and throughput.
"""
from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import prune

from .. import compression
from .training import History, _check_pair, evaluate, seed_everything


def mlp(sizes, seed: int = 0) -> nn.Sequential:
    """Linear-ReLU-...-Linear with layer sizes ``[in, h1, ..., out]``, seeded."""
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output size, got {sizes!r}")
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


# --- quantization ---------------------------------------------------------------------------------

def fake_quantize_tensor(w: torch.Tensor, bits: int, *, per_channel: bool = False, scheme: str = "symmetric",
                         method: str = "minmax") -> torch.Tensor:
    """``w`` on the grid :func:`nncourse.compression.calibrate` picks (per output channel: axis 0),
    computed by PyTorch's fake-quantize kernels."""
    qp = compression.calibrate(w.detach().cpu().float().numpy(), bits, scheme,
                               axis=0 if per_channel else None, method=method)
    if per_channel:
        return torch.fake_quantize_per_channel_affine(
            w, torch.as_tensor(qp.scale, dtype=torch.float32, device=w.device),
            torch.as_tensor(qp.zero_point, dtype=torch.int32, device=w.device), 0, qp.qmin, qp.qmax)
    return torch.fake_quantize_per_tensor_affine(w, float(qp.scale), int(qp.zero_point), qp.qmin, qp.qmax)


def quantize_weights(model: nn.Module, bits: int, *, per_channel: bool = False, scheme: str = "symmetric",
                     method: str = "minmax") -> nn.Module:
    """Post-training quantization: a copy of ``model`` whose every ``nn.Linear`` weight is snapped
    to a ``bits``-bit grid (biases stay float, as in int8 kernels that keep them in int32)."""
    model = copy.deepcopy(model)
    with torch.no_grad():
        for layer in linears(model):
            layer.weight.copy_(fake_quantize_tensor(layer.weight, bits, per_channel=per_channel,
                                                    scheme=scheme, method=method))
    return model


def ste_fake_quantize(w: torch.Tensor, bits: int, per_channel: bool = True) -> torch.Tensor:
    """Forward: the symmetric fake-quantized ``w``; backward: the gradient passes straight through
    (d out / d w = 1), the straight-through estimator. The scale follows max|w| (no gradient)."""
    with torch.no_grad():
        qmax = 2 ** (bits - 1) - 1
        amax = w.abs().amax(dim=1, keepdim=True) if per_channel else w.abs().max()
        scale = amax.clamp_min(1e-8) / qmax
    w_q = torch.clamp(torch.round(w / scale), -qmax - 1, qmax) * scale
    return w + (w_q - w).detach()


class QuantLinear(nn.Linear):
    """``nn.Linear`` that computes with its weight fake-quantized to ``bits`` (STE for training)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, bits: int = 4,
                 per_channel: bool = True):
        super().__init__(in_features, out_features, bias)
        self.bits, self.per_channel = compression._check_bits(bits), bool(per_channel)

    def forward(self, x):
        return F.linear(x, ste_fake_quantize(self.weight, self.bits, self.per_channel), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bits={self.bits}, per_channel={self.per_channel}"


def to_qat(model: nn.Module, bits: int, *, per_channel: bool = True) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` replaced by a :class:`QuantLinear` holding the same
    weights: fine-tune it with ``fit`` (quantization-aware training), then :func:`quantize_weights`."""
    model = copy.deepcopy(model)
    for name, child in model.named_children():
        if isinstance(child, nn.Linear) and not isinstance(child, QuantLinear):
            q = QuantLinear(child.in_features, child.out_features, child.bias is not None, bits=bits,
                            per_channel=per_channel)
            q.load_state_dict(child.state_dict())
            setattr(model, name, q)
        else:
            setattr(model, name, to_qat(child, bits, per_channel=per_channel))
    return model


# --- pruning --------------------------------------------------------------------------------------

def prune_model(model: nn.Module, amount: float, *, structured: bool = False, n: int = 2,
                permanent: bool = True) -> nn.Module:
    """A pruned copy of ``model`` (an MLP). Unstructured: ``prune.l1_unstructured`` on every
    Linear's weight (the smallest ``amount`` of each layer). Structured: ``prune.ln_structured``
    removes whole hidden neurons (rows of every Linear but the output layer, by L_n norm).

    ``permanent=False`` keeps PyTorch's masks (weight = weight_orig * weight_mask, re-applied on every
    forward), so fine-tuning with ``fit`` keeps the pruned weights at zero; :func:`make_permanent`
    then folds them in.
    """
    model = copy.deepcopy(model)
    layers = linears(model)
    if not layers:
        raise ValueError("the model has no nn.Linear layer to prune")
    for k, layer in enumerate(layers):
        if structured:
            if k < len(layers) - 1:  # never remove output classes
                prune.ln_structured(layer, "weight", amount=amount, n=n, dim=0)
        else:
            prune.l1_unstructured(layer, "weight", amount=amount)
    return make_permanent(model) if permanent else model


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold every pruning mask into its weight (``prune.remove``); the zeros stay."""
    for layer in linears(model):
        if prune.is_pruned(layer) and hasattr(layer, "weight_mask"):
            prune.remove(layer, "weight")
    return model


def shrink(model: nn.Sequential) -> nn.Sequential:
    """A smaller dense MLP computing the same function: hidden neurons whose incoming weights and
    bias are all zero (output ReLU(0) = 0) are removed, with the matching input columns of the next
    layer. After structured pruning this is what makes the network faster on ordinary hardware."""
    model = copy.deepcopy(model)
    layers = linears(model)
    for layer, following in zip(layers[:-1], layers[1:]):
        alive = (layer.weight != 0).any(dim=1)
        if layer.bias is not None:
            alive |= layer.bias != 0
        keep = alive.nonzero().flatten()
        with torch.no_grad():
            layer.weight = nn.Parameter(layer.weight[keep].clone())
            if layer.bias is not None:
                layer.bias = nn.Parameter(layer.bias[keep].clone())
            following.weight = nn.Parameter(following.weight[:, keep].clone())
        layer.out_features = following.in_features = len(keep)
    return model


def zero_pruned_biases(model: nn.Module) -> nn.Module:
    """Zero the bias of every neuron whose incoming weights are all zero (structured pruning leaves
    the bias; without it the neuron is a constant, and removing it entirely is what :func:`shrink` does)."""
    with torch.no_grad():
        for layer in linears(model)[:-1]:
            if layer.bias is not None:
                layer.bias[(layer.weight == 0).all(dim=1)] = 0
    return model


# --- cost -----------------------------------------------------------------------------------------

def model_cost(model: nn.Module, *, weight_bits: int = 32, sparse: bool = False) -> dict:
    """Parameters, bytes and MACs per example of an MLP's Linear layers. ``sparse``: count only
    nonzero weights (values + a 1-bit-per-weight bitmap), as a sparse format and kernel would."""
    total = {"params": 0, "bytes": 0.0, "macs": 0}
    for layer in linears(model):
        weights = layer.weight.numel()
        nonzero = int((layer.weight != 0).sum()) if sparse else weights
        biases = layer.bias.numel() if layer.bias is not None else 0
        total["params"] += weights + biases
        total["bytes"] += nonzero * weight_bits / 8 + biases * 4 + (weights / 8 if sparse else 0)
        total["macs"] += nonzero
    return total


# --- distillation ---------------------------------------------------------------------------------

def distillation_loss(student_logits, teacher_logits, y, *, T: float = 4.0, alpha: float = 0.9):
    """alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * cross-entropy(y)."""
    soft = F.kl_div(F.log_softmax(student_logits / T, dim=-1), F.softmax(teacher_logits / T, dim=-1),
                    reduction="batchmean") * T ** 2
    return alpha * soft + (1 - alpha) * F.cross_entropy(student_logits, y)


def distill(student: nn.Module, teacher: nn.Module, train, val=None, *, T: float = 4.0, alpha: float = 0.9,
            epochs: int = 10, lr: float = 1e-3, batch_size: int = 64, weight_decay: float = 0.0,
            seed: int = 0, progress: bool = True, verbose: bool = True) -> History:
    """Train ``student`` (in place) to match ``teacher``'s softened outputs and the labels; the same
    loop as ``fit`` (Adam, shuffled mini-batches, validation accuracy per epoch)."""
    from tqdm.auto import tqdm

    if not (isinstance(T, (int, float)) and T > 0) or not 0 <= alpha <= 1:
        raise ValueError(f"need T > 0 and 0 <= alpha <= 1, got T={T!r}, alpha={alpha!r}")
    device = next(student.parameters()).device
    teacher = teacher.to(device).eval()
    X, y = _check_pair(train, "train", device)
    with torch.no_grad():
        teacher_logits = teacher(X)
    seed_everything(seed)
    opt = torch.optim.Adam(student.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    history = History(device=device.type)
    steps = math.ceil(len(X) / batch_size)
    with tqdm(total=epochs * steps, desc="distilling", unit="batch", disable=not progress) as bar:
        for _ in range(epochs):
            student.train()
            start, total = time.perf_counter(), 0.0
            order = torch.randperm(len(X), generator=generator).to(device)
            for i in range(0, len(X), batch_size):
                idx = order[i: i + batch_size]
                loss = distillation_loss(student(X[idx]), teacher_logits[idx], y[idx], T=T, alpha=alpha)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                bar.update(1)
            history.seconds += time.perf_counter() - start
            history.train_loss.append(total / len(X))
            if val is not None:
                result = evaluate(student, val, device=device)
                history.val_loss.append(result.pop("loss"))
                history.metrics.setdefault("val_accuracy", []).append(result["accuracy"])
    history.samples_per_sec = epochs * len(X) / max(history.seconds, 1e-9)
    if verbose:
        print(history.summary())
    return history


# --- deployment: ONNX, ONNX Runtime, latency ------------------------------------------------------

def export_onnx(model: nn.Module, example: torch.Tensor, path) -> str:
    """Export ``model`` with ``torch.onnx.export`` (torch.export-based; any batch size), return the path."""
    import logging
    import warnings

    model = model.eval()
    # the exporter logs "torchvision is not installed. Skipping torchvision::nms" (and three more ops)
    # where torchvision is absent, as in this course: nothing the learner needs to act on
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's FutureWarnings about its own internals
            torch.onnx.export(model, (example,), str(path), input_names=["x"], output_names=["logits"],
                              dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
    finally:
        registration.setLevel(level)
    return str(path)


def onnx_bytes(path) -> int:
    """The size of an ONNX model on disk: the file plus its external weights (``<path>.data``, where
    the exporter puts them)."""
    from pathlib import Path

    path = Path(path)
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.exists() else 0)


def ort_session(path, threads: int = 1):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads (the same as PyTorch gets)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_run(session, x: np.ndarray) -> np.ndarray:
    """The session's output for the float32 batch ``x``."""
    return session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(x, dtype=np.float32)})[0]


def ort_int8(path, out_path, *, per_channel: bool = True, reduce_range: bool = True) -> str:
    """ONNX Runtime's int8 route: weights stored as int8 (per channel), activations quantized to
    uint8 on the fly per batch (``quantize_dynamic``), MatMuls run by integer kernels (MatMulInteger).

    ``reduce_range`` keeps the weights to 7 bits: x86 CPUs without VNNI multiply uint8 x int8 pairs
    and add two products in a saturating int16 (``pmaddubsw``), which 8-bit weights can overflow
    (ONNX Runtime's documentation recommends it there; the notebook measures the difference)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process the model, printed each time
    quantize_dynamic(str(path), str(out_path), weight_type=QuantType.QInt8, per_channel=per_channel,
                     reduce_range=reduce_range)
    return str(out_path)


def latency(fn, x, *, repeats: int = 100, warmup: int = 10) -> dict:
    """Time ``fn(x)`` ``repeats`` times after ``warmup`` calls: p50 and p95 in milliseconds, and
    throughput in examples per second (batch size / median time). Never assert on these: they
    depend on the machine and on what else runs on it."""
    if repeats < 2:
        raise ValueError(f"repeats must be at least 2, got {repeats!r}")
    for _ in range(warmup):
        fn(x)
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn(x)
        times[i] = time.perf_counter() - start
    p50, p95 = np.percentile(times, [50, 95]) * 1e3
    return {"p50_ms": float(p50), "p95_ms": float(p95), "per_sec": float(len(x) / (p50 / 1e3))}


def torch_predictor(model: nn.Module):
    """``x (numpy) -> logits (numpy)`` under ``torch.inference_mode`` (for :func:`latency`)."""
    model = model.eval()

    def predict(x):
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()

    return predict
