"""Exercises of notebook 06 (convolutional networks).

Warm-ups: ``conv_output_size``, ``sobel_x`` (a kernel by hand), ``max_pool``. The substantial one:
``conv_backward`` (dx, dw, db of a stride-1 convolution with padding), whose result then trains the
notebook's NumPy CNN through ``exercises.conv_backward.use(conv_backward)``. The expected answers
come from ``nncourse.cnn`` (tested against PyTorch); the answers to show are in
``nncourse.exercises.solutions.cnn``.
"""
from __future__ import annotations

import numpy as np

from ..cnn import conv2d_backward, conv2d_forward, output_size
from . import Exercise
from .solutions import cnn as solutions

# -- warm-up 1: the output size --------------------------------------------------------------------

_SIZE_CASES = [(28, 3, 1, 0), (28, 3, 1, 1), (28, 5, 1, 2), (32, 3, 2, 1), (7, 3, 2, 0),
               (8, 2, 2, 0), (224, 11, 4, 2), (5, 5, 1, 0), (10, 4, 3, 1), (13, 1, 3, 0)]

conv_output_size = Exercise(
    "conv_output_size", solution=solutions.conv_output_size, reference=output_size, cases=_SIZE_CASES,
    describe=lambda case: "size={}, kernel_size={}, stride={}, padding={}".format(*case),
    hints=["Count the positions where the window fits: in the padded input, the window's first pixel can "
           "sit at 0, stride, 2*stride, ... as long as the whole window stays inside.",
           "The padded input has size + 2*padding pixels; the last start position is at most "
           "size + 2*padding - kernel_size. How many multiples of stride are there from 0 up to that?",
           "Use integer division (//): a window that does not fit completely is not counted."],
    mistakes=[(lambda n, k, s, p: (n + 2 * p - k) / s + 1,
               "your result is a fraction: a window that only partly fits is not an output position."),
              (lambda n, k, s, p: (n + p - k) // s + 1,
               "the padding is added on both sides of the input, not on one."),
              (lambda n, k, s, p: (n + 2 * p - k) // s,
               "one position short: count the first position of the window (at 0) too."),
              (lambda n, k, s, p: n - k + 1,
               "right for stride 1 without padding only: the stride and the padding change the count.")])

# -- warm-up 2: a Sobel kernel by hand -------------------------------------------------------------

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)


def _compare_sobel(got, want, case) -> str | None:
    """Sobel x or any positive multiple of it (the notebook says the scale does not matter)."""
    try:
        k = np.asarray(got, dtype=float)
    except (TypeError, ValueError) as err:
        return f"could not read your kernel as numbers ({err}); write a 3x3 list of lists."
    if k.shape != (3, 3):
        return f"the kernel must be 3x3, your sobel_x has shape {k.shape}."
    if np.allclose(k, 0):
        return "not attempted yet: replace the zeros with the nine weights."
    scale = float(np.sum(k * want) / np.sum(want * want))  # the best multiple of Sobel x
    if scale > 0 and np.allclose(k, scale * want, rtol=1e-6, atol=1e-9 * np.abs(k).max()):
        return None
    if scale < 0 and np.allclose(k, scale * want, rtol=1e-6, atol=1e-9 * np.abs(k).max()):
        return ("the signs are mirrored: this kernel answers brightness that *falls* from left to right "
                "(convolution layers do not flip the kernel).")
    sobel_y = want.T
    if np.allclose(np.abs(k) / np.abs(k).max(), np.abs(sobel_y) / 2):
        return "this differences rows, so it finds *horizontal* edges (that is Sobel y)."
    if abs(k.sum()) > 1e-9:
        return (f"the weights add up to {k.sum():g}, so a flat grey image would give a response; an edge "
                "detector answers 0 where nothing changes.")
    if not np.allclose(k[:, 1], 0):
        return "the middle column should not count: Sobel x compares the left and right neighbours."
    return ("close: the difference (right minus left) is right in spirit, but the vertical smoothing is not "
            "Sobel's weights 1, 2, 1.")


sobel_x = Exercise(
    "sobel_x", solution=solutions.SOBEL_X, reference=lambda: SOBEL_X, cases=[()], compare=_compare_sobel,
    describe=lambda case: "your 3x3 kernel",
    hints=["Sobel x is a difference: the right column minus the left column, so the weights sum to 0.",
           "Smooth that difference vertically with weights 1, 2, 1: the centre row counts twice.",
           "Positive weights on the right: no flip in a convolution layer (it is a cross-correlation)."])

# -- warm-up 3: max pooling ------------------------------------------------------------------------


def _max_pool_cases():
    rng = np.random.default_rng(1998)  # LeNet-5's year
    cases = [(np.arange(16, dtype=float).reshape(4, 4), 2), (np.array([[1.0, -2.0], [-3.0, -4.0]]), 2)]
    cases += [(rng.normal(size=shape), size) for shape, size in (((6, 6), 3), ((7, 9), 2), ((5, 4), 1), ((8, 6), 2))]
    cases.append((-rng.uniform(1, 2, size=(4, 6)), 2))  # every window negative
    return cases


max_pool = Exercise(
    "max_pool", solution=solutions.max_pool, cases=_max_pool_cases,
    reference=lambda image, size: solutions.max_pool(image, size),
    hints=["The output has H // size rows and W // size columns: rows and columns left over at the edge "
           "are dropped.",
           "out[i, j] is the largest value of image[i*size:(i+1)*size, j*size:(j+1)*size]. Loops are fine.",
           "The fast way: cut the image to a multiple of size, reshape it to (H//size, size, W//size, size) "
           "and take the max over axes 1 and 3."],
    mistakes=[(lambda image, size: np.maximum(solutions.max_pool(image, size), 0),
               "wrong where every value of a window is negative: does your maximum start from 0?"),
              (lambda image, size: image[:image.shape[0] // size * size:size, :image.shape[1] // size * size:size],
               "you kept the top-left pixel of each window (subsampling), not its largest value."),
              (lambda image, size: image[:image.shape[0] // size * size, :image.shape[1] // size * size]
               .reshape(image.shape[0] // size, size, image.shape[1] // size, size).mean(axis=(1, 3)),
               "you averaged each window (that is average pooling)."),
              (lambda image, size: image[:image.shape[0] // size * size, :image.shape[1] // size * size]
               .reshape(image.shape[0] // size, image.shape[1] // size, size, size).max(axis=(2, 3)),
               "your windows are not size x size blocks of the image: the reshape mixes rows and columns "
               "(which axes of the reshaped array belong to the rows?).")])

# -- the substantial one: the backward pass of a convolution ---------------------------------------


def _conv_backward_reference(dout, x, w, padding):
    b = np.zeros(w.shape[0])
    _, cache = conv2d_forward(x, w, b, 1, padding)
    return conv2d_backward(dout, cache)


def _conv_backward_cases():
    rng = np.random.default_rng(1989)  # LeCun et al.'s zip codes, the first CNN trained by backprop
    cases = []
    # (N, C, H, W, O, k, padding): one channel first, then channels, padding, a 5x5 and a 1x1 kernel
    for n, c, h, w, o, k, p in ((1, 1, 5, 5, 1, 3, 0), (2, 3, 6, 7, 4, 3, 0), (2, 3, 6, 6, 2, 3, 1),
                                (3, 2, 5, 6, 3, 3, 2), (2, 2, 8, 7, 3, 5, 2), (2, 4, 4, 5, 3, 1, 0)):
        x, weight = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, k, k))
        dout = rng.standard_normal((n, o, h + 2 * p - k + 1, w + 2 * p - k + 1))
        cases.append((dout, x, weight, p))
    return cases


def _describe_conv_case(case) -> str:
    dout, x, w, p = case
    return f"x {x.shape}, w {w.shape}, padding={p}, dout {dout.shape}"


def _unflipped(dout, x, w, padding):
    dx, dw, db = _conv_backward_reference(dout, x, w[:, :, ::-1, ::-1], padding)
    return dx, _conv_backward_reference(dout, x, w, padding)[1], db


def _cropped_at_the_corner(dout, x, w, padding):
    dx, dw, db = _conv_backward_reference(dout, x, w, padding)
    k = w.shape[-1]
    full, _ = conv2d_forward(dout, w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3), padding=k - 1)
    return full[:, :, :x.shape[2], :x.shape[3]], dw, db


def _dw_flipped(dout, x, w, padding):
    dx, dw, db = _conv_backward_reference(dout, x, w, padding)
    return dx, dw[:, :, ::-1, ::-1], db


def _db_first_image(dout, x, w, padding):
    dx, dw, db = _conv_backward_reference(dout, x, w, padding)
    return dx, dw, dout[0].sum(axis=(1, 2))


def _db_mean(dout, x, w, padding):
    dx, dw, db = _conv_backward_reference(dout, x, w, padding)
    return dx, dw, dout.mean(axis=(0, 2, 3))


def _compare_conv_backward(got, want, case) -> str | None:
    """Shape nudges that name the usual cause, then the general comparison (with the named mistakes)."""
    dout, x, w, p = case
    if isinstance(got, (tuple, list)) and len(got) == 3:
        shapes = [np.shape(g) for g in got]
        if shapes[0] != x.shape and len(shapes[0]) == 4 and shapes[0][:2] == x.shape[:2]:
            extra = shapes[0][2] - x.shape[2]
            return (f"'dx' has shape {shapes[0]}, but x has shape {x.shape}: dx must have x's shape. Yours has "
                    f"{extra:+d} rows - the padding of dout for the full convolution, or the cropping of the "
                    "padded input's border, is off.")
        if shapes[1] != w.shape and len(shapes[1]) == 4:
            if shapes[1][:2] == w.shape[1::-1] and w.shape[0] != w.shape[1]:
                return (f"'dw' has shape {shapes[1]}, but w has shape {w.shape}: the in- and out-channel axes "
                        "are swapped.")
            if shapes[1][:2] == w.shape[:2]:
                return (f"'dw' has shape {shapes[1]}, but w has shape {w.shape}: the windows the kernel saw "
                        "were taken from the padded input.")
        if shapes[2] != (w.shape[0],):
            return (f"'db' has shape {shapes[2]}, expected ({w.shape[0]},): one number per output channel - the "
                    "bias is shared by every image and every position.")
    return conv_backward.default_compare(got, want, case)


conv_backward = Exercise(
    "conv_backward", solution=solutions.conv_backward, reference=_conv_backward_reference,
    cases=_conv_backward_cases, describe=_describe_conv_case, output_names=("dx", "dw", "db"),
    compare=lambda got, want, case: _compare_conv_backward(got, want, case),
    hints=["Three gradients, three sums. db[o]: every dout[n, o, i, j] that the bias b[o] was added to. "
           "dw[o, c, u, v]: every product dout[n, o, i, j] * x_pad[n, c, i + u, j + v]. Write them with loops "
           "first if you like; conv2d_forward(inputs, kernels, padding=...) does any correlation in one call.",
           "dw is a correlation of the padded input with dout: dout plays the kernel (Ho x Wo) and the batch "
           "axis plays the channel axis that is summed - transpose x_pad and dout to (C, N, ...) and (O, N, ...).",
           "dx: each dout[n, o, i, j] sends w[o, :, u, v] * dout back to pixel (i + u, j + v) of x_pad. As a "
           "correlation over dout, that is dout padded by k - 1 on each side, correlated with the kernel "
           "flipped in both spatial axes and with in/out channels swapped: (C, O, k, k).",
           "The full convolution gives the gradient of the *padded* input, (H + 2p) x (W + 2p): the padding "
           "zeros are not inputs, so cut `padding` rows and columns off every side."],
    mistakes=[(_unflipped, "'dx' is wrong: the kernel was not flipped. As a correlation over dout, the backward "
                           "pass meets the kernel back to front."),
              (_cropped_at_the_corner, "'dx' is the right size but shifted: the padding was cut from one "
                                       "side only (bottom/right); the padded input had zeros on every side."),
              (_dw_flipped, "'dw' is the right gradient flipped back to front: dw is a correlation (no flip)."),
              (_db_first_image, "'db' counts the first image only: the bias is shared by every image in the batch."),
              (_db_mean, "'db' is an average; the loss adds the bias's effect over every image and position: a sum.")])
