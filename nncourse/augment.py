"""Data augmentation from scratch for small grey images (notebook 05).

A digit moved by a pixel, turned by a few degrees or written with a slightly wobbly hand is
still the same digit. Training on such variants - fresh ones each time - teaches the network
these invariances and acts as a regulariser: the training set looks bigger than it is. Three
transformations, each on one image (H, W), built on ``scipy.ndimage``:

* :func:`shift` - move by (dy, dx) pixels (fractional shifts interpolate);
* :func:`rotate` - turn by ``degrees`` about the centre;
* :func:`elastic` - Simard et al. (2003)'s elastic distortion: a random displacement field,
  smoothed by a Gaussian of width ``sigma`` and scaled by ``alpha`` pixels, moves every pixel a
  little and its neighbours nearly the same way.

:func:`random_augment` draws one random shift, rotation and distortion per image of a batch
(N, H, W), and :func:`augment_dataset` makes ``copies`` variants of every image of a flattened
data set (N, H*W), as ``nncourse.fit`` wants it. Outside pixels read as 0 (background).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .validation import as_array, check_positive_int


def _image(image) -> np.ndarray:
    return as_array(image, "image", ndim=2)


def shift(image, dy: float, dx: float) -> np.ndarray:
    """The image (H, W) moved down by ``dy`` and right by ``dx`` pixels (bilinear), zeros coming in."""
    return ndimage.shift(_image(image), (dy, dx), order=1, mode="constant", cval=0.0)


def rotate(image, degrees: float) -> np.ndarray:
    """The image (H, W) turned anticlockwise by ``degrees`` about its centre (bilinear), same size."""
    return ndimage.rotate(_image(image), degrees, reshape=False, order=1, mode="constant", cval=0.0)


def displacement_field(shape: tuple[int, int], alpha: float, sigma: float, rng) -> np.ndarray:
    """A smooth random field (2, H, W) of pixel displacements (dy, dx): uniform noise in [-1, 1],
    Gaussian-smoothed with width ``sigma`` pixels, times ``alpha``. Uses two draws of ``rng``."""
    noise = rng.uniform(-1, 1, (2, *shape))
    return np.stack([ndimage.gaussian_filter(n, sigma, mode="constant") for n in noise]) * alpha


def elastic(image, alpha: float, sigma: float, rng) -> np.ndarray:
    """Simard et al. (2003)'s elastic distortion of one image (H, W): every pixel reads the image at
    its own position plus :func:`displacement_field` (bilinear interpolation)."""
    image = _image(image)
    if not (alpha >= 0 and sigma > 0):
        raise ValueError(f"elastic needs alpha >= 0 and sigma > 0 (in pixels), got alpha={alpha!r}, sigma={sigma!r}")
    rng = np.random.default_rng(rng)
    dy, dx = displacement_field(image.shape, alpha, sigma, rng)
    rows, cols = np.meshgrid(np.arange(image.shape[0]), np.arange(image.shape[1]), indexing="ij")
    return ndimage.map_coordinates(image, [rows + dy, cols + dx], order=1, mode="constant", cval=0.0)


def random_augment(images, *, max_shift: float = 1.0, max_degrees: float = 10.0, alpha: float = 0.0,
                   sigma: float = 1.0, seed=0) -> np.ndarray:
    """One random variant of each image of a batch (N, H, W) -> (N, H, W), same dtype.

    Per image: a rotation uniform in [-max_degrees, max_degrees], a shift uniform in
    [-max_shift, max_shift] pixels along each axis, then (if ``alpha`` > 0) an elastic distortion.
    ``seed``: an int or a ``np.random.Generator``.
    """
    images = as_array(images, "images", ndim=3)
    rng = np.random.default_rng(seed)
    out = np.empty_like(images)
    for i, image in enumerate(images):
        image = rotate(image, rng.uniform(-max_degrees, max_degrees))
        image = shift(image, *rng.uniform(-max_shift, max_shift, 2))
        if alpha > 0:
            image = elastic(image, alpha, sigma, rng)
        out[i] = image
    return out


def augment_dataset(X, y, image_shape: tuple[int, int], *, copies: int, seed: int = 0, **kwargs):
    """``copies`` random variants of every image of a flattened data set.

    X (N, H*W), y (N,), ``image_shape`` (H, W) -> (X_aug (copies*N, H*W), y_aug (copies*N,)):
    copy k holds one :func:`random_augment` variant of every image, in the order of X. The keyword
    arguments go to :func:`random_augment`.
    """
    X = as_array(X, "X", ndim=2)
    y = np.asarray(y)
    copies = check_positive_int(copies, "copies")
    height, width = image_shape
    if X.shape[1] != height * width:
        raise ValueError(f"X has {X.shape[1]} columns, but image_shape {tuple(image_shape)} has {height * width} pixels")
    if len(y) != len(X):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    rng = np.random.default_rng(seed)
    images = X.reshape(-1, height, width)
    variants = [random_augment(images, seed=rng, **kwargs).reshape(len(X), -1) for _ in range(copies)]
    return np.concatenate(variants), np.tile(y, copies)
