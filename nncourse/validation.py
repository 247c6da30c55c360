"""Input checks that fail early with a message naming what was expected and what was given.

Every public function of the course calls these instead of letting a NumPy broadcasting
error surface three frames deep.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np


def as_array(x, name: str, *, ndim: int | Iterable[int] | None = None, float_dtype: bool = True) -> np.ndarray:
    """Return ``x`` as a NumPy array, checking its number of dimensions.

    Floating arrays keep their dtype (float32 for speed, float64 for checks); integer and
    boolean input is converted to float64 when ``float_dtype`` is true.
    """
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like, got {type(x).__name__} ({err})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got an array of dtype {arr.dtype}")
    if float_dtype and not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got a {arr.ndim}-D array of shape {arr.shape}")
    return arr


def check_last_dim(x: np.ndarray, size: int, name: str, what: str = "features") -> None:
    """Raise if the last axis of ``x`` is not ``size`` long."""
    if x.shape[-1] != size:
        raise ValueError(
            f"{name} must have {size} {what} in its last dimension, got shape {x.shape} "
            f"(last dimension {x.shape[-1]})"
        )


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise unless ``a`` and ``b`` have exactly the same shape (no broadcasting)."""
    if a.shape != b.shape:
        raise ValueError(f"{name_b} must have the same shape as {name_a} {a.shape}, got {b.shape}")


def check_finite(x: np.ndarray, name: str) -> None:
    """Raise if ``x`` holds NaN or infinity, saying how many and where the first one is."""
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must be finite, got {int(bad.sum())} NaN/inf value(s) (first at index {first})"
        )


def check_labels(y, allowed: Iterable, name: str = "y") -> np.ndarray:
    """Return ``y`` as a 1-D array, raising if any label is outside ``allowed``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per example), got shape {y.shape}")
    allowed = sorted(set(allowed))
    unexpected = sorted(set(np.unique(y).tolist()) - set(allowed))
    if unexpected:
        raise ValueError(f"{name} must only hold labels {allowed}, got unexpected value(s) {unexpected[:10]}")
    return y


def check_positive_int(value, name: str) -> int:
    """Return ``value`` if it is an int >= 1, else raise naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_1d(values, name: str) -> np.ndarray:
    """One value per example: array-likes, tensors and pandas objects; (N, 1) is squeezed like fairlearn does."""
    if hasattr(values, "detach") and hasattr(values, "numpy"):  # a torch tensor
        values = values.detach().cpu().numpy()
    if hasattr(values, "to_numpy"):  # pandas
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)  # (N, 1) or (1, N) -> (N,)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per example), got shape {arr.shape}")
    return arr


def check_sample_weight(sample_weight, n: int, *, require_positive: bool = False) -> np.ndarray:
    """Per-example weights as float64 (n,): numbers, finite, >= 0; with ``require_positive`` not all zero
    (a weighted mean over them must exist)."""
    w = as_1d(sample_weight, "sample_weight")
    if len(w) != n:
        raise ValueError(f"sample_weight must have one weight per example ({n}), got {len(w)}")
    if not np.issubdtype(w.dtype, np.number) or w.dtype == bool or np.issubdtype(w.dtype, np.complexfloating):
        raise TypeError(f"sample_weight must hold real numbers, got dtype {w.dtype}")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        with warnings.catch_warnings():  # all NaN: nanmin/nanmax warn, and the message says NaN anyway
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanmin(w), np.nanmax(w)
        raise ValueError(f"sample_weight must be finite and non-negative, got values in [{low:g}, {high:g}]"
                         + (" with NaN/inf" if not np.all(np.isfinite(w)) else ""))
    if require_positive and w.sum() <= 0:
        raise ValueError("sample_weight must not be all zero")
    return w
