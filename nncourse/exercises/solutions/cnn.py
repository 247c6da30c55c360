"""Answers to the exercises of notebook 06 (convolutional networks)."""
import numpy as np

from ...cnn import conv2d_forward


def conv_output_size(size, kernel_size, stride, padding):
    return (size + 2 * padding - kernel_size) // stride + 1  # positions where the window fits


SOBEL_X = """sobel_x = [[-1, 0, 1],
           [-2, 0, 2],
           [-1, 0, 1]]  # right minus left, the centre row counted twice"""


def max_pool(image, size):
    h, w = image.shape[0] // size, image.shape[1] // size   # leftover rows/columns are dropped
    blocks = image[:h * size, :w * size].reshape(h, size, w, size)  # blocks[i, :, j, :] is one window
    return blocks.max(axis=(1, 3))


def conv_backward(dout, x, w, padding):
    kh, kw = w.shape[2:]
    H, W = x.shape[2:]
    db = dout.sum(axis=(0, 2, 3))                     # the bias touched every image and position
    # dw[o, c, u, v] = sum_{n,i,j} dout[n, o, i, j] * x_pad[n, c, i + u, j + v]:
    # a correlation of the padded input with dout (the batch axis plays the channel axis)
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dw_t, _ = conv2d_forward(x_pad.transpose(1, 0, 2, 3), dout.transpose(1, 0, 2, 3))  # (C, O, kh, kw)
    dw = dw_t.transpose(1, 0, 2, 3)
    # dx: a full convolution of dout with the flipped kernel (in and out channels swapped) ...
    w_flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, O, kh, kw)
    dx_pad, _ = conv2d_forward(dout, w_flipped, padding=(kh - 1, kw - 1))  # (N, C, H + 2p, W + 2p)
    dx = dx_pad[:, :, padding:padding + H, padding:padding + W]  # ... then drop the padding's rows
    return dx, dw, db
