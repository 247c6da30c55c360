"""Captum, the maintained attribution library for PyTorch, on the course's models (notebook 14,
"at scale"): the same methods as :mod:`nncourse.explain`, run on any ``nn.Module``, on the GPU
when there is one.

* :func:`captum_attribute` - one call per method name (``"saliency"``, ``"gradient"``,
  ``"gradient_x_input"``, ``"smoothgrad"``, ``"integrated_gradients"``, ``"occlusion"``,
  ``"grad_cam"``, ``"shapley"``), arrays in, arrays out;
* :func:`captum_noise` - the Gaussian noise Captum's ``NoiseTunnel`` draws after
  ``torch.manual_seed(seed)``, so the NumPy SmoothGrad can be fed exactly the same noise;
* :func:`train_torch_cnn_for` - fill a NumPy ``Sequential`` with weights trained by its PyTorch
  twin (``to_torch()``), so the from-scratch methods explain a well-trained network;
* :func:`deletion_scores` - deletion / insertion curves for a batch of images, batched on the device;
* language models (the character GPT of :mod:`nncourse.at_scale.gpt`): :func:`token_embeddings` and
  :func:`embedding_gradient_fn` let the NumPy methods work on the token embeddings,
  :func:`captum_layer_integrated_gradients` is Captum's ``LayerIntegratedGradients`` on the
  embedding layer, and :func:`logits_with_attention` runs the GPT with one layer's attention
  weights replaced (permuted, uniform, ...) to test whether the output depends on them.

This module imports torch and captum at the top: ``from nncourse.at_scale.explain import ...``.
"""
from __future__ import annotations

import numpy as np
import torch
from captum.attr import (
    InputXGradient, IntegratedGradients, LayerGradCam, NoiseTunnel, Occlusion, Saliency, ShapleyValues,
)

METHODS = ("saliency", "gradient", "gradient_x_input", "smoothgrad", "integrated_gradients", "occlusion",
           "grad_cam", "shapley")


def _tensor(x, like: torch.Tensor) -> torch.Tensor:
    t = x if torch.is_tensor(x) else torch.as_tensor(np.asarray(x))
    return t.to(like.device, like.dtype)


def captum_noise(x_shape, n_samples: int, stdev: float, seed: int) -> np.ndarray:
    """The noise (N, n_samples, ...) that ``NoiseTunnel.attribute(..., nt_samples=n_samples,
    stdevs=stdev)`` adds after ``torch.manual_seed(seed)`` on the CPU: one ``torch.normal`` call
    over the (N * n_samples, ...) inputs, each example repeated n_samples times in a row (float32,
    as Captum draws it)."""
    torch.manual_seed(seed)
    size = (x_shape[0] * n_samples, *x_shape[1:])
    noise = torch.normal(0, torch.tensor(stdev).repeat(size))
    return noise.double().numpy().reshape(x_shape[0], n_samples, *x_shape[1:])


def captum_attribute(model, x, target, method: str, *, baseline=0.0, steps: int = 50,
                     ig_method: str = "gausslegendre", stdev: float = 0.1, n_samples: int = 20,
                     seed: int = 0, window=None, stride=None, layer=None, feature_mask=None,
                     internal_batch_size: int | None = None, relu: bool = True) -> np.ndarray:
    """Attributions from Captum for the PyTorch ``model`` (put in eval mode), as a NumPy array of x's shape.

    x: (N, ...) array or tensor, moved to the model's device and dtype; target: a class index or
    one per example. ``method`` is one of :data:`METHODS`:

    * ``saliency`` |grad| / ``gradient`` grad (``Saliency``); ``gradient_x_input`` (``InputXGradient``);
    * ``smoothgrad``: ``NoiseTunnel(Saliency(abs=False))``, ``nt_type="smoothgrad"``, drawn after
      ``torch.manual_seed(seed)`` (see :func:`captum_noise`);
    * ``integrated_gradients``: ``IntegratedGradients`` with ``steps`` and ``ig_method``;
    * ``occlusion``: ``Occlusion`` with ``window`` / ``stride`` (shapes like one example);
    * ``grad_cam``: ``LayerGradCam`` on ``layer`` (a module of the model), (N, h, w), ReLU applied
      unless ``relu=False``;
    * ``shapley``: exact ``ShapleyValues`` over the groups of ``feature_mask`` (one example's shape).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    param = next(model.parameters())
    model.eval()
    # Captum differentiates with respect to the inputs (and warns when they do not require gradients);
    # detach() first, so the caller's tensor is left as it was
    inputs = _tensor(x, param).detach().requires_grad_(True)
    if isinstance(target, (int, np.integer)):
        target = int(target)
    else:
        target = torch.as_tensor(np.asarray(target)).long().to(param.device)
    base = baseline if isinstance(baseline, (int, float)) else _tensor(baseline, param).expand_as(inputs)
    if method in ("saliency", "gradient"):
        out = Saliency(model).attribute(inputs, target=target, abs=method == "saliency")
    elif method == "gradient_x_input":
        out = InputXGradient(model).attribute(inputs, target=target)
    elif method == "smoothgrad":
        torch.manual_seed(seed)
        out = NoiseTunnel(Saliency(model)).attribute(inputs, nt_type="smoothgrad", nt_samples=n_samples,
                                                     stdevs=float(stdev), target=target, abs=False)
    elif method == "integrated_gradients":
        out = IntegratedGradients(model).attribute(inputs, baselines=base, target=target, n_steps=steps,
                                                   method=ig_method, internal_batch_size=internal_batch_size)
    elif method == "occlusion":
        if window is None:
            raise ValueError("occlusion needs window= (a shape like one example's, e.g. (1, 3, 3))")
        out = Occlusion(model).attribute(inputs, sliding_window_shapes=tuple(window),
                                         strides=tuple(stride) if stride is not None else tuple(window),
                                         baselines=base, target=target)
    elif method == "grad_cam":
        if layer is None:
            raise ValueError("grad_cam needs layer= (the convolutional module whose output to explain)")
        out = LayerGradCam(model, layer).attribute(inputs, target=target, relu_attributions=relu)[:, 0]
    else:
        mask = None if feature_mask is None else _tensor(feature_mask, param).long()[None]
        out = ShapleyValues(model).attribute(inputs, baselines=base, target=target, feature_mask=mask)
    return out.detach().double().cpu().numpy()


def train_torch_cnn_for(numpy_model, train, val=None, *, epochs: int = 10, lr: float = 3e-3,
                        batch_size: int = 64, seed: int = 0, device=None, verbose: bool = False):
    """Train the PyTorch twin of a NumPy ``Sequential`` (``numpy_model.to_torch()``) with
    ``nncourse.fit`` and copy the trained weights back into the NumPy model (same parameter
    names: "1.weight", ...). Returns the fit's History."""
    from .training import fit

    twin = numpy_model.to_torch().float()
    history = fit(twin, train, val, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device,
                  progress=verbose, verbose=verbose)
    state = {k: v.detach().cpu().double().numpy() for k, v in twin.state_dict().items()}
    for name, p in numpy_model.params.items():
        p[...] = state[name].astype(p.dtype)
    return history


@torch.no_grad()
def deletion_scores(model, images, attributions, target, *, steps: int = 16, baseline: float = 0.0,
                    insertion: bool = False) -> np.ndarray:
    """Deletion (or insertion) curves for a batch: images (N, ...) and attributions of the same
    shape -> scores (N, steps + 1) of ``target`` (an int or one per image) as the top 0, 1/steps,
    ..., 1 of each image's features (ranked by its attribution) are replaced by ``baseline``
    (deletion) or put back onto it (insertion). The same curves as :func:`nncourse.explain.deletion_curve`,
    all images and steps in one batch on the model's device."""
    param = next(model.parameters())
    model.eval()
    x = _tensor(images, param)
    n = x.shape[0]
    flat = x.reshape(n, -1)
    order = torch.argsort(-_tensor(attributions, param).reshape(n, -1), dim=1, stable=True)
    counts = torch.round(torch.linspace(0, flat.shape[1], steps + 1)).long()
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(flat.shape[1], device=x.device).expand(n, -1))
    chosen = rank[:, None, :] < counts.to(x.device)[None, :, None]                # (N, steps+1, D)
    base = torch.full_like(flat, baseline)
    start, other = (base, flat) if insertion else (flat, base)
    inputs = torch.where(chosen, other[:, None], start[:, None]).reshape(n * (steps + 1), *x.shape[1:])
    scores = model(inputs).reshape(n, steps + 1, -1)
    targets = torch.as_tensor(np.broadcast_to(np.asarray(target), (n,)).copy()).long().to(x.device)
    return scores.gather(2, targets[:, None, None].expand(n, steps + 1, 1))[..., 0].double().cpu().numpy()


# --- language models: attributions on the token embeddings, and attention replaced -----------------

def _ids(ids, device) -> torch.Tensor:
    t = ids if torch.is_tensor(ids) else torch.as_tensor(np.asarray(ids))
    if t.dim() == 1:
        t = t[None]
    if t.dim() != 2 or t.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"ids must be integer token ids of shape (T,) or (B, T), got shape {tuple(t.shape)} "
                         f"and dtype {t.dtype}")
    return t.long().to(device)


def embedding_gradient_fn(model, ids, target: int, *, position: int = -1, embedding=None):
    """A ``grad_fn`` for :mod:`nncourse.explain` over a language model's token embeddings.

    ``model`` maps ids (B, T) to logits (B, T, vocab); ``embedding`` (default ``model.wte``, the
    token embedding of :class:`~nncourse.at_scale.gpt.GPT`) is the module whose output is
    replaced. ``grad_fn(e)`` takes embeddings e (M, T, C) (NumPy), runs the model on the one
    sequence ``ids`` (T,) with its token embeddings replaced by each e[m] (a forward hook: the
    position embeddings and everything after stay as they are), and returns the scores (M,)
    ``logits[m, position, target]`` and their gradients d score / d e (M, T, C). So
    ``explain.integrated_gradients(grad_fn, e, e_baseline)`` is integrated gradients on the
    embeddings (taught in notebook 14).
    """
    embedding = model.wte if embedding is None else embedding
    param = next(model.parameters())
    seq = _ids(ids, param.device)
    if seq.shape[0] != 1:
        raise ValueError(f"embedding_gradient_fn explains one sequence, got {seq.shape[0]}")
    model.eval()
    target = int(target)

    def grad_fn(e):
        e = torch.as_tensor(np.asarray(e), dtype=param.dtype, device=param.device).requires_grad_(True)
        if e.dim() != 3 or e.shape[1] != seq.shape[1]:
            raise ValueError(f"embeddings must have shape (M, T={seq.shape[1]}, C), got {tuple(e.shape)}")
        handle = embedding.register_forward_hook(lambda module, args, output: e)
        try:
            scores = model(seq.expand(e.shape[0], -1))[:, position, target]     # (M,)
        finally:
            handle.remove()
        (grads,) = torch.autograd.grad(scores.sum(), e)
        return scores.detach().double().cpu().numpy(), grads.double().cpu().numpy()

    return grad_fn


def token_embeddings(model, ids, *, embedding=None) -> np.ndarray:
    """The output of the token-embedding module (default ``model.wte``) for ids (T,) or (B, T):
    (B, T, C) as a NumPy float64 array (the points integrated gradients starts and ends at)."""
    embedding = model.wte if embedding is None else embedding
    param = next(model.parameters())
    with torch.no_grad():
        return embedding(_ids(ids, param.device)).double().cpu().numpy()


def captum_layer_integrated_gradients(model, ids, target: int, baseline_ids, *, position: int = -1,
                                      steps: int = 50, method: str = "gausslegendre", embedding=None):
    """Captum's ``LayerIntegratedGradients`` on the token embedding (default ``model.wte``) for the
    logit of ``target`` at ``position``: ids (T,) or (B, T) and baseline ids of the same shape ->
    (attributions (B, T, C), completeness delta (B,)) as NumPy arrays. Sum over C for one number
    per position."""
    from captum.attr import LayerIntegratedGradients

    embedding = model.wte if embedding is None else embedding
    param = next(model.parameters())
    model.eval()
    seq, base = _ids(ids, param.device), _ids(baseline_ids, param.device)
    if base.shape != seq.shape:
        raise ValueError(f"baseline_ids must have the shape of ids {tuple(seq.shape)}, got {tuple(base.shape)}")
    lig = LayerIntegratedGradients(lambda idx: model(idx)[:, position], embedding)
    attr, delta = lig.attribute(seq, baselines=base, target=int(target), n_steps=steps, method=method,
                                return_convergence_delta=True)
    return attr.detach().double().cpu().numpy(), delta.detach().double().cpu().numpy()


def logits_with_attention(model, ids, layer: int, weights) -> torch.Tensor:
    """Logits (B, T, vocab) of a :class:`~nncourse.at_scale.gpt.GPT` whose block ``layer`` uses the
    given attention ``weights`` (B, nh, T, T) (rows summing to 1) instead of its own softmax.

    Everything else is computed as usual; only the mixing of the value vectors in that one layer
    changes: ``y = c_proj(weights @ v)``. With ``weights = model.attention_maps(ids)[layer]``
    the logits equal ``model(ids)`` (tested). Used in notebook 14 to ask whether the output
    depends on *which* positions the attention picked ("attention is not explanation").
    """
    param = next(model.parameters())
    seq = _ids(ids, param.device)
    attention = model.blocks[layer].attn
    weights = torch.as_tensor(weights).to(param.device, param.dtype)
    n_head = attention.n_head
    if weights.shape != (seq.shape[0], n_head, seq.shape[1], seq.shape[1]):
        raise ValueError(f"weights must have shape (B, nh, T, T) = {(seq.shape[0], n_head, seq.shape[1], seq.shape[1])}, "
                         f"got {tuple(weights.shape)}")

    def replace(module, args, output):
        x = args[0]                                                     # (B, T, C): the block's ln_1 output
        B, T, C = x.shape
        v = module.c_attn(x)[..., 2 * C:].view(B, T, n_head, C // n_head).transpose(1, 2)  # (B, nh, T, hs)
        y = (weights @ v).transpose(1, 2).reshape(B, T, C)              # (B, T, C): heads side by side
        return module.c_proj(y)

    model.eval()
    handle = attention.register_forward_hook(replace)
    try:
        with torch.no_grad():
            return model(seq)
    finally:
        handle.remove()
