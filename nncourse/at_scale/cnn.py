"""A small modern CNN in PyTorch, the habits that make it train fast, and what it looks at
(notebook 06, "at scale").

The PyTorch side of :mod:`nncourse.cnn` (which builds convolution from scratch in NumPy):

* :func:`torch_cnn` - the model: VGG-style stages of 3x3 conv -> BatchNorm -> ReLU, max-pooling,
  a dropout-regularised classifier; trained with ``nncourse.fit``;
* :func:`gap_cnn` - the same convolutions without pooling and a global-average-pooling head: the
  shift experiment of section 10;
* :func:`input_gradient_of_centre` - the effective receptive field (Luo et al. 2016), section 6;
* :class:`BasicBlock` and :func:`small_resnet` - ResNet's block and a small ResNet (He et al. 2016),
  section 11 (the NumPy block is :class:`nncourse.cnn.ResidualBlock`);
* :func:`training_throughput` and :func:`speed_habits` - training samples per second with and
  without each speed habit (data on the device, ``channels_last``, bf16 autocast, a larger batch);
* :func:`saliency_maps` - ``|d score / d pixel|``, one backward pass (Simonyan et al. 2013).

This module imports torch at the top, so ``import nncourse`` does not import it:
``from nncourse.at_scale.cnn import torch_cnn``.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..validation import check_positive_int
from .training import get_device, seed_everything


def torch_cnn(image_shape=(28, 28), num_classes: int = 10, *, channels=(32, 64), hidden: int = 128,
              dropout: float = 0.25):
    """A small modern CNN for one-channel images (notebook 06, "at scale").

    Two stages of [3x3 conv -> BatchNorm -> ReLU] x 2 -> 2x2 max-pool (VGG-style: small kernels
    stacked, so after the second stage every unit sees a 16x16 patch of the input), then
    dropout -> Linear -> ReLU -> dropout -> Linear.
    x (N, 1, H, W) -> logits (N, num_classes); H and W must be multiples of 4 (8x8 digits, 28x28 MNIST).
    """
    height, width = (check_positive_int(s, "image_shape entries") for s in image_shape)
    if height % 4 or width % 4:
        raise ValueError(f"image_shape must have sides divisible by 4 (two 2x2 poolings), got {tuple(image_shape)}")
    narrow, wide = (check_positive_int(c, "channels") for c in channels)

    def conv_block(c_in, c_out):  # no conv bias: BatchNorm's shift replaces it
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *conv_block(1, narrow), *conv_block(narrow, narrow), nn.MaxPool2d(2),  # (N, narrow, H/2, W/2)
        *conv_block(narrow, wide), *conv_block(wide, wide), nn.MaxPool2d(2),   # (N, wide, H/4, W/4)
        nn.Flatten(),                                                           # (N, wide*H/4*W/4)
        nn.Dropout(dropout), nn.Linear(wide * (height // 4) * (width // 4), hidden), nn.ReLU(inplace=True),
        nn.Dropout(dropout), nn.Linear(hidden, num_classes),
    )


def gap_cnn(num_classes: int = 10, *, channels=(16, 32), in_channels: int = 1):
    """A CNN whose head is global average pooling (Lin et al. 2013, *Network in Network*; notebook 06).

    [3x3 conv -> BatchNorm -> ReLU] x 4 at full resolution (no pooling, no stride: every layer is
    equivariant to shifts, up to the border), widths ``channels[0]`` twice then ``channels[1]``
    twice, then the mean of every feature map and one Linear layer. Works for any image size:
    x (N, in_channels, H, W) -> logits (N, num_classes). A shifted image (inside the frame) gives
    almost the same logits.
    """
    narrow, wide = (check_positive_int(c, "channels") for c in channels)
    layers, c_in = [], check_positive_int(in_channels, "in_channels")
    for c_out in (narrow, narrow, wide, wide):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),          # (N, wide)
                         nn.Linear(wide, check_positive_int(num_classes, "num_classes")))


class BasicBlock(nn.Module):
    """ResNet's basic block (He et al. 2016; notebook 06, section 11), named as torchvision's.

    out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)): two 3x3 convolutions (the first
    with ``stride``), each followed by batch norm; the shortcut is the identity, or ``downsample``
    (1x1 convolution with the same stride + batch norm) when the shape changes.
    x (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class PlainBlock(BasicBlock):
    """:class:`BasicBlock` without the shortcut: relu(bn2(conv2(relu(bn1(conv1(x)))))). The control
    in a plain-versus-residual comparison (same layers, same weights, no skip)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__(in_channels, out_channels, stride)
        self.downsample = None

    def forward(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))


def small_resnet(num_classes: int = 10, *, channels=(16, 32), blocks: int = 2, in_channels: int = 1,
                 shortcuts: bool = True):
    """A small ResNet for small images (notebook 06, section 11), CIFAR-style (He et al. 2016, section 4.2).

    A 3x3 stem convolution (-> BatchNorm -> ReLU) to ``channels[0]``, then two stages of ``blocks``
    basic blocks each - the second stage starts with stride 2 and a projection shortcut to
    ``channels[1]`` - then global average pooling and one Linear layer.
    ``shortcuts=False`` gives the same network with every shortcut removed (:class:`PlainBlock`).
    x (N, in_channels, H, W) -> logits (N, num_classes), for any H, W.
    """
    narrow, wide = (check_positive_int(c, "channels") for c in channels)
    check_positive_int(blocks, "blocks")
    block = BasicBlock if shortcuts else PlainBlock
    stages = [block(narrow, narrow) for _ in range(blocks)]                          # (N, narrow, H, W)
    stages += [block(narrow, wide, stride=2)] + [block(wide, wide) for _ in range(blocks - 1)]  # (N, wide, H/2, W/2)
    return nn.Sequential(
        nn.Conv2d(check_positive_int(in_channels, "in_channels"), narrow, 3, padding=1, bias=False),
        nn.BatchNorm2d(narrow), nn.ReLU(inplace=True),
        *stages,
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(wide, check_positive_int(num_classes, "num_classes")),
    )


def training_throughput(model, X, y, *, batch_size: int = 128, data_on_device: bool = True,
                        channels_last: bool = False, bf16: bool = False, epochs: int = 1,
                        device=None, seed: int = 0) -> float:
    """Training samples per second of ``model`` on ``(X, y)`` under one set of speed habits.

    data_on_device: keep X, y on the device and slice shuffled batches there (what ``fit`` does);
        False uses the textbook ``DataLoader`` over CPU tensors, copying every batch across.
    channels_last: NHWC memory layout for the model and the batches (faster convolution kernels
        on tensor-core GPUs and on recent CPUs).
    bf16: ``torch.autocast`` in bfloat16 (half the memory traffic, tensor cores).
    A few untimed warm-up steps come first (kernel selection, allocator); then ``epochs`` epochs
    are timed one by one and the fastest counts. Adam, cross-entropy.
    """
    check_positive_int(batch_size, "batch_size")
    check_positive_int(epochs, "epochs")
    device = torch.device(device) if device is not None else get_device(verbose=False)
    seed_everything(seed)
    X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    y = torch.as_tensor(np.asarray(y)).long()
    if X.ndim != 4 or len(X) != len(y):
        raise ValueError(f"X must be images (N, C, H, W) with one label each, got X {tuple(X.shape)} and y {tuple(y.shape)}")
    model = model.to(device)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    if data_on_device:
        X_dev, y_dev = X.to(device), y.to(device)

        def batches():
            order = torch.randperm(len(X_dev), device=device)
            for i in range(0, len(X_dev), batch_size):
                idx = order[i : i + batch_size]
                yield X_dev[idx], y_dev[idx]
    else:
        loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)

        def batches():
            for xb, yb in loader:
                yield xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)

    def step(xb, yb):
        xb = xb.contiguous(memory_format=layout)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for i, (xb, yb) in enumerate(batches()):  # warm-up
        step(xb, yb)
        if i == 2:
            break
    synchronize()
    fastest = math.inf  # the fastest epoch: other work on a shared machine only ever slows one down
    for _ in range(epochs):
        start = time.perf_counter()
        for xb, yb in batches():
            step(xb, yb)
        synchronize()
        fastest = min(fastest, time.perf_counter() - start)
    return len(X) / fastest


def speed_habits(make_model, X, y, *, batch_size: int = 128, big_batch: int = 512, epochs: int = 3,
                 device=None, seed: int = 0) -> list[dict]:
    """Time each speed-run habit alone against the plain version, and all together (notebook 06).

    ``make_model()`` builds a fresh model for every run, so each starts from the same weights.
    Returns rows ``{"setup", "samples_per_sec", "speedup"}``; the speed-up is against the first
    row, the plain version (DataLoader, float32, NCHW, ``batch_size``). Each setup counts its
    fastest of ``epochs`` epochs (see :func:`training_throughput`). The last row times the plain
    version again: its distance from 1 is the run-to-run noise, the yardstick for the other rows.
    """
    plain = dict(batch_size=batch_size, data_on_device=False, channels_last=False, bf16=False)
    setups = [
        (f"plain: DataLoader, float32, NCHW, batch {batch_size}", {}),
        ("data kept on the device", {"data_on_device": True}),
        ("channels_last memory layout", {"channels_last": True}),
        ("bf16 autocast", {"bf16": True}),
        (f"larger batch ({big_batch})", {"batch_size": big_batch}),
        ("all four together", {"data_on_device": True, "channels_last": True, "bf16": True, "batch_size": big_batch}),
        ("plain again (same setup: the noise)", {}),
    ]
    rows = []
    for name, change in setups:
        speed = training_throughput(make_model(), X, y, **{**plain, **change}, epochs=epochs, device=device, seed=seed)
        rows.append({"setup": name, "samples_per_sec": speed, "speedup": speed / rows[0]["samples_per_sec"] if rows else 1.0})
    return rows


def saliency_maps(model, images, classes=None) -> np.ndarray:
    """How much each input pixel moves the class score: ``|d score_c / d x|`` (Simonyan et al. 2013).

    images (N, C, H, W) array or tensor; classes (N,) or None for the predicted classes.
    Returns (N, H, W): the absolute gradient, maximised over channels. Notebook 06.
    """
    param = next(model.parameters())
    x = torch.as_tensor(np.asarray(images, dtype=np.float32) if not torch.is_tensor(images) else images)
    if x.ndim != 4:
        raise ValueError(f"images must be 4-D (N, C, H, W), got shape {tuple(x.shape)}")
    x = x.to(param.device, param.dtype).clone().requires_grad_(True)
    was_training = model.training
    model.eval()  # dropout off, BatchNorm running statistics: the map explains the deployed model
    scores = model(x)                                   # (N, classes)
    if classes is None:
        classes = scores.argmax(dim=1)
    classes = torch.as_tensor(np.asarray(classes) if not torch.is_tensor(classes) else classes).long().to(param.device)
    if classes.shape != (len(x),):
        raise ValueError(f"classes must hold one class per image ({len(x)}), got shape {tuple(classes.shape)}")
    scores.gather(1, classes[:, None]).sum().backward()  # each image's own score: gradients do not mix
    model.train(was_training)
    return x.grad.abs().amax(dim=1).cpu().numpy()       # (N, H, W)


def input_gradient_of_centre(depth: int, size: int = 71, *, weights: str = "random", channels: int = 8,
                             inits: int = 8, seed: int = 0) -> np.ndarray:
    """How much each input pixel moves the centre unit of a stack of ``depth`` 3x3 convolutions
    (padding 1, stride 1): the effective receptive field of Luo et al. (2016). Notebook 06.

    weights="average": every kernel the 3x3 average (1/9), one channel, no nonlinearity - the
        gradient is the box convolved with itself ``depth`` times (it sums to 1, variance 2*depth/3
        per axis);
    weights="random": PyTorch's default initialisation, ``channels`` channels with a ReLU after every
        layer but the last (one output channel, so one unit); the mean of |gradient| over ``inits``
        initialisations, each at its own N(0, 1) input.
    Returns (size, size), float64. ``size`` must exceed the field, 2*depth + 1.
    """
    check_positive_int(depth, "depth")
    check_positive_int(size, "size")
    if size < 2 * depth + 1:
        raise ValueError(f"size {size} is smaller than the receptive field of {depth} 3x3 layers ({2 * depth + 1})")
    if weights not in ("average", "random"):
        raise ValueError(f"weights must be 'average' or 'random', got {weights!r}")
    centre = size // 2
    if weights == "average":
        box = torch.full((1, 1, 3, 3), 1 / 9, dtype=torch.float64)
        x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
        out = x
        for _ in range(depth):
            out = F.conv2d(out, box, padding=1)
        out[0, 0, centre, centre].backward()
        return x.grad[0, 0].numpy()
    generator = torch.Generator().manual_seed(seed)
    total = torch.zeros(size, size, dtype=torch.float64)
    for _ in range(check_positive_int(inits, "inits")):
        widths = [1] + [check_positive_int(channels, "channels")] * (depth - 1) + [1]
        convs = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            bound = 1 / math.sqrt(c_in * 9)  # nn.Conv2d's default: uniform in +-1/sqrt(fan_in)
            w = (torch.rand(c_out, c_in, 3, 3, generator=generator, dtype=torch.float64) * 2 - 1) * bound
            b = (torch.rand(c_out, generator=generator, dtype=torch.float64) * 2 - 1) * bound
            convs.append((w, b))
        x = torch.randn(1, 1, size, size, generator=generator, dtype=torch.float64, requires_grad=True)
        out = x
        for i, (w, b) in enumerate(convs):
            out = F.conv2d(out, w, b, padding=1)
            if i < depth - 1:
                out = torch.relu(out)
        out[0, 0, centre, centre].backward()
        total += x.grad[0, 0].abs()
    return (total / inits).numpy()
