"""Convolutional layers from scratch: Conv2d, MaxPool2d, AvgPool2d, Flatten (notebook 06).

Every layer follows the protocol of :mod:`nncourse.layers` and works on images laid out as
PyTorch lays them out, ``(N, C, H, W)``: batch, channels, height, width.

The convolution of deep learning is a *cross-correlation* (the kernel is not flipped)::

    out[n, o, i, j] = bias[o] + sum_{c, u, v} weight[o, c, u, v] * x_pad[n, c, s*i + u, s*j + v]

with ``s`` the stride and ``x_pad`` the input with ``padding`` zeros on every side. Three ways
to compute it live here, from slowest to fastest:

* :func:`conv2d_naive` - the formula as six nested loops, to read and to time;
* :func:`im2col` + one matrix multiply (:func:`conv2d_forward`): every receptive field becomes
  a column, so the whole layer is ``weight (O, C*kh*kw) @ columns (C*kh*kw, Ho*Wo)``;
* the backward pass (:func:`conv2d_backward`) uses the same columns for the weight gradient and
  scatters the column gradients back onto the image with :func:`col2im`: one strided add per
  kernel offset (kh*kw adds of whole images), instead of one ``np.add.at`` per pixel.
"""
from __future__ import annotations

import math
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .layers import Layer, _torch_dtype, load_into_torch
from .validation import as_array, check_positive_int


def _pair(value, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """``3 -> (3, 3)``, ``(3, 5) -> (3, 5)``, with a clear error for anything else."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    ok = len(items) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in items)
    if not ok:
        kind = "positive integer" if minimum >= 1 else "non-negative integer"
        raise ValueError(f"{name} must be a {kind} or a pair of them (height, width), got {value!r}")
    return int(items[0]), int(items[1])


def output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """Length of a convolution or pooling output along one axis (notebook 06).

    ``floor((size + 2 * padding - kernel_size) / stride) + 1``: the number of positions where a
    window of ``kernel_size`` fits in the padded input when it moves ``stride`` pixels at a time.
    Raises if the window does not fit even once.
    """
    for value, name in ((size, "size"), (kernel_size, "kernel_size"), (stride, "stride")):
        check_positive_int(value, name)
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"padding must be a non-negative integer, got {padding!r}")
    padded = size + 2 * padding
    if kernel_size > padded:
        raise ValueError(f"kernel_size {kernel_size} is larger than the padded input "
                         f"({size} + 2*{padding} = {padded}): there is no position for the window")
    return (padded - kernel_size) // stride + 1


def _check_images(x, name: str, channels: int | None, layer: str) -> np.ndarray:
    x = as_array(x, name)
    if x.ndim != 4:
        raise ValueError(f"{layer}: {name} must be 4-D (N, C, H, W), got a {x.ndim}-D array of shape "
                         f"{x.shape}" + (" - add a batch axis with x[None]" if x.ndim == 3 else ""))
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{layer}: {name} must have {channels} channel(s) in axis 1 (N, C, H, W), "
                         f"got shape {x.shape} ({x.shape[1]} channels)")
    return x


def _output_hw(x_shape, kernel, stride, padding, layer: str) -> tuple[int, int]:
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    height, width = x_shape[2], x_shape[3]
    if height + 2 * ph < kh or width + 2 * pw < kw:
        raise ValueError(f"{layer}: the {kh}x{kw} window does not fit in the input of {height}x{width} "
                         f"with padding {(ph, pw)}: the padded input must be at least the kernel size")
    return output_size(height, kh, sh, ph), output_size(width, kw, sw, pw)


# --------------------------------------------------------------------------------------------
# The slow, readable convolution
# --------------------------------------------------------------------------------------------


def conv2d_naive(x, weight, bias=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The convolution formula as plain loops - to read, not to use (it is hundreds of times slower).

    x (N, C, H, W), weight (O, C, kh, kw), bias (O,) or None -> (N, O, Ho, Wo).
    """
    x = _check_images(x, "x", None, "conv2d_naive")
    weight = as_array(weight, "weight", ndim=4)
    out_channels, in_channels, kh, kw = weight.shape
    _check_images(x, "x", in_channels, "conv2d_naive")
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding", minimum=0)
    out_h, out_w = _output_hw(x.shape, (kh, kw), (sh, sw), (ph, pw), "conv2d_naive")
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # zeros around every image
    out = np.zeros((len(x), out_channels, out_h, out_w), dtype=np.result_type(x, weight))
    for n in range(len(x)):                       # every image
        for o in range(out_channels):             # every filter
            for i in range(out_h):                # every output row ...
                for j in range(out_w):            # ... and column
                    total = 0.0 if bias is None else bias[o]
                    for c in range(in_channels):  # the window: all input channels,
                        for u in range(kh):       # kh rows
                            for v in range(kw):   # and kw columns
                                total += weight[o, c, u, v] * x_pad[n, c, sh * i + u, sw * j + v]
                    out[n, o, i, j] = total
    return out


# --------------------------------------------------------------------------------------------
# im2col / col2im and the vectorised convolution, forward and backward side by side
# --------------------------------------------------------------------------------------------


def im2col(x, kernel_size, stride=1, padding=0) -> np.ndarray:
    """Every receptive field of ``x`` as a column of one big matrix.

    x (N, C, H, W) -> columns (C*kh*kw, N*Ho*Wo), where ``columns[:, (n*Ho + i)*Wo + j]`` lists
    the input values (channel by channel, row by row) that output pixel (i, j) of image n sees.
    With all images side by side, the whole layer is a single matrix multiply.
    """
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
    ph, pw = _pair(padding, "padding", minimum=0)
    n, c = x.shape[:2]
    out_h, out_w = _output_hw(x.shape, (kh, kw), (sh, sw), (ph, pw), "im2col")
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    # A view, no copy: windows[n, c, i, j, u, v] = x_pad[n, c, i + u, j + v] (stride 1) ...
    windows = sliding_window_view(x_pad, (kh, kw), axis=(2, 3))  # (N, C, Hp-kh+1, Wp-kw+1, kh, kw)
    windows = windows[:, :, ::sh, ::sw][:, :, :out_h, :out_w]    # ... keep every stride-th: (N, C, Ho, Wo, kh, kw)
    # The one copy: rows (c, u, v), columns (n, i, j). With (i, j) innermost the copy reads
    # x_pad along its rows, which is what makes it fast.
    columns = windows.transpose(1, 4, 5, 0, 2, 3)                # (C, kh, kw, N, Ho, Wo)
    return columns.reshape(c * kh * kw, n * out_h * out_w)       # (C*kh*kw, N*Ho*Wo)


def col2im(columns, x_shape, kernel_size, stride=1, padding=0) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every column entry back onto the pixel it came from.

    columns (C*kh*kw, N*Ho*Wo) -> (N, C, H, W). A pixel inside several receptive fields
    receives the sum of their entries: that is the backward pass of weight sharing.
    """
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
    ph, pw = _pair(padding, "padding", minimum=0)
    n, c, height, width = x_shape
    out_h, out_w = _output_hw(x_shape, (kh, kw), (sh, sw), (ph, pw), "col2im")
    columns = columns.reshape(c, kh, kw, n, out_h, out_w)        # (C, kh, kw, N, Ho, Wo)
    x_pad = np.zeros((c, n, height + 2 * ph, width + 2 * pw), dtype=columns.dtype)  # (C, N, Hp, Wp)
    for u in range(kh):  # kernel offset (u, v) touched pixels (u + s*i, v + s*j): one strided add
        for v in range(kw):
            x_pad[:, :, u : u + sh * out_h : sh, v : v + sw * out_w : sw] += columns[:, u, v]
    return x_pad[:, :, ph : ph + height, pw : pw + width].transpose(1, 0, 2, 3)  # (N, C, H, W)


def conv2d_forward(x, weight, bias=None, stride=1, padding=0):
    """Convolution as one matrix multiply; returns ``(out, cache)``.

    x (N, C, H, W), weight (O, C, kh, kw), bias (O,) or None -> out (N, O, Ho, Wo).
    ``cache`` holds what :func:`conv2d_backward` needs (the columns, shapes, stride, padding).
    """
    out_channels, _, kh, kw = weight.shape
    out_h, out_w = _output_hw(x.shape, (kh, kw), _pair(stride, "stride"), _pair(padding, "padding", minimum=0),
                              "conv2d")
    columns = im2col(x, (kh, kw), stride, padding)                 # (K, N*P), K = C*kh*kw, P = Ho*Wo
    out = weight.reshape(out_channels, -1) @ columns               # (O, K) @ (K, N*P) -> (O, N*P)
    if bias is not None:
        out += bias[:, None]
    out = out.reshape(out_channels, len(x), out_h, out_w).transpose(1, 0, 2, 3)  # (N, O, Ho, Wo)
    cache = {"columns": columns, "x_shape": x.shape, "weight": weight, "stride": stride, "padding": padding}
    return np.ascontiguousarray(out), cache


def conv2d_backward(dout, cache):
    """Gradients of :func:`conv2d_forward`: ``dout (N, O, Ho, Wo) -> (dx, dweight, dbias)``.

    dweight = dout (O, N*P) @ columns^T (N*P, K)   - every window, weighted by its output's error;
    dcolumns = weight^T (K, O) @ dout (O, N*P)     - every error, sent back through the weights,
               then col2im adds them onto the pixels they came from;
    dbias = dout summed over images and positions.
    """
    columns, weight = cache["columns"], cache["weight"]
    out_channels = weight.shape[0]
    dout = dout.transpose(1, 0, 2, 3).reshape(out_channels, -1)      # (O, N*P)
    dweight = dout @ columns.T                                       # (O, N*P) @ (N*P, K) -> (O, K)
    dbias = dout.sum(axis=1)                                         # (O,)
    dcolumns = weight.reshape(out_channels, -1).T @ dout             # (K, O) @ (O, N*P) -> (K, N*P)
    dx = col2im(dcolumns, cache["x_shape"], weight.shape[2:], cache["stride"], cache["padding"])
    return dx, dweight.reshape(weight.shape), dbias


class Conv2d(Layer):
    """PyTorch's ``nn.Conv2d`` from scratch (notebook 06).

    Parameters ``weight`` (out_channels, in_channels, kh, kw) and ``bias`` (out_channels,),
    initialised as PyTorch does: uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] with
    fan_in = in_channels * kh * kw. ``kernel_size``, ``stride`` and ``padding`` take an int or a
    (height, width) pair.

    forward: x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo), Ho = output_size(H, kh, stride, padding).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, *,
                 bias: bool = True, seed: int = 0, dtype=np.float64):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding", minimum=0)
        rng = np.random.default_rng(seed)
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        self.params["weight"] = rng.uniform(-bound, bound, (out_channels, in_channels, *self.kernel_size)).astype(dtype)
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, out_channels).astype(dtype)

    def forward(self, x):
        x = _check_images(x, "x", self.in_channels, "Conv2d")
        _output_hw(x.shape, self.kernel_size, self.stride, self.padding, "Conv2d")
        weight = self.params["weight"].astype(x.dtype, copy=False)
        bias = self.params["bias"].astype(x.dtype, copy=False) if "bias" in self.params else None
        out, self._cache = conv2d_forward(x, weight, bias, self.stride, self.padding)
        self._cache["out_shape"] = out.shape
        return out

    def backward(self, dout):
        cache = self._saved()
        dout = self._check_dout(dout, cache["out_shape"]).astype(cache["weight"].dtype, copy=False)
        dx, dweight, dbias = conv2d_backward(dout, cache)
        self.grads["weight"] = dweight.astype(self.params["weight"].dtype, copy=False)
        if "bias" in self.params:
            self.grads["bias"] = dbias.astype(self.params["bias"].dtype, copy=False)
        return dx

    def to_torch(self):
        import torch.nn as nn

        module = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding,
                           bias="bias" in self.params, dtype=_torch_dtype(self.params["weight"].dtype))
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={'bias' in self.params})")


class _Pool2d(Layer):
    """Shared by the pooling layers: a window of ``kernel_size`` moved ``stride`` pixels at a time
    (``stride`` defaults to ``kernel_size``: windows side by side, as in PyTorch). No parameters."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")

    def _windows(self, x):
        """x (N, C, H, W) -> a view (N, C, Ho, Wo, kh, kw) of every pooling window."""
        name = type(self).__name__
        x = _check_images(x, "x", None, name)
        out_h, out_w = _output_hw(x.shape, self.kernel_size, self.stride, (0, 0), name)
        (sh, sw) = self.stride
        windows = sliding_window_view(x, self.kernel_size, axis=(2, 3))  # (N, C, H-kh+1, W-kw+1, kh, kw)
        return x, windows[:, :, ::sh, ::sw][:, :, :out_h, :out_w]       # (N, C, Ho, Wo, kh, kw)

    def _scatter(self, per_offset, x_shape, dtype) -> np.ndarray:
        """Add ``per_offset(u, v)`` (N, C, Ho, Wo) onto the input pixels at kernel offset (u, v)."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        dx = np.zeros(x_shape, dtype=dtype)
        for u in range(kh):
            for v in range(kw):
                part = per_offset(u, v)
                out_h, out_w = part.shape[2:]
                dx[:, :, u : u + sh * out_h : sh, v : v + sw * out_w : sw] += part
        return dx

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2d(_Pool2d):
    """PyTorch's ``nn.MaxPool2d`` (no padding, floor mode) from scratch (notebook 06).

    forward: x (N, C, H, W) -> (N, C, Ho, Wo), the largest value of each window.
    backward: each window's gradient goes to its arg-max pixel only (the first one on ties, as
    PyTorch does); pixels that won no window get zero.
    """

    def forward(self, x):
        x, windows = self._windows(x)
        n, c, out_h, out_w, kh, kw = windows.shape
        flat = windows.reshape(n, c, out_h, out_w, kh * kw)  # (N, C, Ho, Wo, kh*kw), a copy
        winner = flat.argmax(axis=-1)                         # (N, C, Ho, Wo): index of the max in its window
        out = np.take_along_axis(flat, winner[..., None], axis=-1)[..., 0]
        self._cache = {"x_shape": x.shape, "dtype": x.dtype, "winner": winner, "out_shape": out.shape}
        return out

    def backward(self, dout):
        cache = self._saved()
        dout = self._check_dout(dout, cache["out_shape"])
        kw = self.kernel_size[1]
        winner = cache["winner"]
        return self._scatter(lambda u, v: np.where(winner == u * kw + v, dout, 0), cache["x_shape"],
                             np.result_type(cache["dtype"], dout))

    def to_torch(self):
        import torch.nn as nn

        return nn.MaxPool2d(self.kernel_size, self.stride)


class AvgPool2d(_Pool2d):
    """PyTorch's ``nn.AvgPool2d`` (no padding, floor mode) from scratch (notebook 06).

    forward: x (N, C, H, W) -> (N, C, Ho, Wo), the mean of each window.
    backward: each window's gradient is shared equally by its kh*kw pixels.
    """

    def forward(self, x):
        x, windows = self._windows(x)
        out = windows.mean(axis=(-2, -1))                      # (N, C, Ho, Wo)
        self._cache = {"x_shape": x.shape, "dtype": x.dtype, "out_shape": out.shape}
        return out

    def backward(self, dout):
        cache = self._saved()
        dout = self._check_dout(dout, cache["out_shape"])
        share = dout / (self.kernel_size[0] * self.kernel_size[1])
        return self._scatter(lambda u, v: share, cache["x_shape"], np.result_type(cache["dtype"], dout))

    def to_torch(self):
        import torch.nn as nn

        return nn.AvgPool2d(self.kernel_size, self.stride)


class Flatten(Layer):
    """PyTorch's ``nn.Flatten()``: x (N, d1, d2, ...) -> (N, d1*d2*...), the bridge from
    convolutional feature maps to a Linear classifier (notebook 06)."""

    def forward(self, x):
        x = as_array(x, "x")
        if x.ndim < 2:
            raise ValueError(f"Flatten: x must have a batch axis and at least one more, got shape {x.shape}")
        self._cache = {"x_shape": x.shape}
        return x.reshape(len(x), -1)  # (N, d1*d2*...)

    def backward(self, dout):
        x_shape = self._saved()["x_shape"]
        dout = self._check_dout(dout, (x_shape[0], int(np.prod(x_shape[1:]))))
        return dout.reshape(x_shape)

    def to_torch(self):
        import torch.nn as nn

        return nn.Flatten()


class Unflatten(Layer):
    """PyTorch's ``nn.Unflatten(1, shape)``: x (N, prod(shape)) -> (N, *shape).

    Lets a CNN take flat rows, e.g. the digits' (N, 64) -> (N, 1, 8, 8), so the training loops
    written for flat data (``nncourse.training.train``) drive it unchanged (notebook 06).
    """

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(check_positive_int(s, "shape entries") for s in shape)

    def forward(self, x):
        x = as_array(x, "x")
        size = int(np.prod(self.shape))
        if x.ndim != 2 or x.shape[1] != size:
            raise ValueError(f"Unflatten: x must be 2-D (N, {size}) to become (N, {', '.join(map(str, self.shape))}), "
                             f"got shape {x.shape}")
        self._cache = {"x_shape": x.shape}
        return x.reshape(len(x), *self.shape)  # (N, *shape)

    def backward(self, dout):
        x_shape = self._saved()["x_shape"]
        dout = self._check_dout(dout, (x_shape[0], *self.shape))
        return dout.reshape(x_shape)

    def to_torch(self):
        import torch.nn as nn

        return nn.Unflatten(1, self.shape)

    def __repr__(self) -> str:
        return f"Unflatten(shape={self.shape})"


# --------------------------------------------------------------------------------------------
# At scale, in PyTorch: the model, the speed-run habits, and what the network looks at
# --------------------------------------------------------------------------------------------


def torch_cnn(image_shape=(28, 28), num_classes: int = 10, *, channels=(32, 64), hidden: int = 128,
              dropout: float = 0.25):
    """A small modern CNN for one-channel images (notebook 06, "at scale").

    Two stages of [3x3 conv -> BatchNorm -> ReLU] x 2 -> 2x2 max-pool (VGG-style: small kernels
    stacked, so after the second stage every unit sees a 16x16 patch of the input), then
    dropout -> Linear -> ReLU -> dropout -> Linear.
    x (N, 1, H, W) -> logits (N, num_classes); H and W must be multiples of 4 (8x8 digits, 28x28 MNIST).
    """
    import torch.nn as nn

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
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    from .at_scale.training import get_device, seed_everything

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
    import torch

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
