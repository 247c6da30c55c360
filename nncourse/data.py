"""Datasets: seeded 2-D toy sets, the bundled digits, and real data through one download helper.

* Toy 2-D classification sets in the TensorFlow Playground family (``circle``, ``xor``,
  ``gaussian``, ``spiral``, ``moons``) with a ``noise`` knob, on the Playground's
  coordinates (about [-6, 6]^2), plus the four logic gates (notebooks 01, 03, 04).
* ``load_digits()``: scikit-learn's bundled 8x8 digits (1,797 images) - works offline.
* ``download()``: cache directory (``NNCOURSE_DATA`` overrides it), SHA-256 verification,
  atomic writes, and a clear message when offline.
* ``load_mnist()`` / ``load_fashion_mnist()``: the four IDX files parsed with NumPy, checksums
  pinned; ``load_image_data(quick)`` picks MNIST in full mode and the digits otherwise, and carves a
  validation split out of the training data (``ImageData.with_validation``).

Three splits, three jobs (notebook 01 says why): train on ``train``, choose everything - epochs,
learning rates, thresholds - on ``val``, and look at ``test`` once, at the end.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .validation import check_positive_int

# --------------------------------------------------------------------------------------------
# Toy 2-D datasets (after TensorFlow Playground's dataset.ts, re-implemented)
# --------------------------------------------------------------------------------------------


def _check_toy_args(n, noise):
    check_positive_int(n, "n")
    if not 0 <= noise <= 1:
        raise ValueError(f"noise must be in [0, 1] (the Playground's 0-50% is 0-0.5), got {noise!r}")


def circle(n: int = 200, noise: float = 0.0, seed: int = 0):
    """Class 1 inside radius 2.5, class 0 in a ring from 3.5 to 5. Returns X (n, 2), y (n,) in {0, 1}."""
    _check_toy_args(n, noise)
    rng = np.random.default_rng(seed)
    radius = 5.0
    y = (np.arange(n) < n // 2).astype(np.int64)
    r = np.where(y == 1, rng.uniform(0, 0.5 * radius, n), rng.uniform(0.7 * radius, radius, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    X += rng.uniform(-radius, radius, (n, 2)) * noise
    return _shuffled(X, y, rng)


def xor(n: int = 200, noise: float = 0.0, seed: int = 0):
    """Points in [-5, 5]^2 labelled 1 where x1 * x2 > 0 (same-sign quadrants); noise jitters points."""
    _check_toy_args(n, noise)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-5, 5, (n, 2))
    X += np.where(X > 0, 0.3, -0.3)  # keep a small margin around the axes
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    X += rng.uniform(-5, 5, (n, 2)) * noise
    return X, y


def gaussian(n: int = 200, noise: float = 0.0, seed: int = 0):
    """Two Gaussian blobs centred at (2, 2) (class 1) and (-2, -2) (class 0); noise widens them."""
    _check_toy_args(n, noise)
    rng = np.random.default_rng(seed)
    std = np.sqrt(0.5 + 3.5 * noise)  # variance from 0.5 to 4, as in the Playground
    y = (np.arange(n) < n // 2).astype(np.int64)
    centre = np.where(y[:, None] == 1, 2.0, -2.0)
    X = centre + rng.normal(0, std, (n, 2))
    return _shuffled(X, y, rng)


def spiral(n: int = 200, noise: float = 0.0, seed: int = 0):
    """Two interleaved spirals of radius up to 5 (1.75 turns each)."""
    _check_toy_args(n, noise)
    rng = np.random.default_rng(seed)
    half = n // 2
    parts, labels = [], []
    for label, offset in ((1, 0.0), (0, np.pi)):
        count = half if label == 1 else n - half
        s = np.arange(count) / count
        r = 5 * s
        t = 1.75 * s * 2 * np.pi + offset
        pts = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        pts += rng.uniform(-1, 1, (count, 2)) * noise
        parts.append(pts)
        labels.append(np.full(count, label, dtype=np.int64))
    return _shuffled(np.concatenate(parts), np.concatenate(labels), rng)


def moons(n: int = 200, noise: float = 0.0, seed: int = 0):
    """scikit-learn's two moons (``sklearn.datasets.make_moons``), centred and scaled to the Playground."""
    _check_toy_args(n, noise)
    from sklearn.datasets import make_moons

    # sklearn's noise is a Gaussian std in its own units (moons of radius 1); scaling by 2.5
    # maps a Playground-style noise of 0.5 to a std of 0.25 before scaling.
    X, y = make_moons(n_samples=n, noise=noise * 0.5 if noise else None, random_state=seed)
    X = (X - np.array([0.5, 0.25])) * 2.5
    return X, y.astype(np.int64)


LOGIC_GATES = {
    "and": [0, 0, 0, 1],
    "or": [0, 1, 1, 1],
    "nand": [1, 1, 1, 0],
    "nor": [1, 0, 0, 0],
    "xor": [0, 1, 1, 0],
}


def logic_gate(name: str):
    """The truth table of a two-input gate: X (4, 2) with rows 00, 01, 10, 11, and y (4,) in {0, 1}."""
    key = str(name).lower()
    if key not in LOGIC_GATES:
        raise ValueError(f"unknown logic gate {name!r}; known gates: {', '.join(LOGIC_GATES)}")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, np.array(LOGIC_GATES[key], dtype=np.int64)


TOY_DATASETS = {"circle": circle, "xor": xor, "gaussian": gaussian, "spiral": spiral, "moons": moons}


def toy_dataset(name: str, n: int = 200, noise: float = 0.0, seed: int = 0):
    """Any toy set by name (see ``TOY_DATASETS``); returns X (n, 2) float64, y (n,) int64 in {0, 1}."""
    key = str(name).lower()
    if key not in TOY_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(TOY_DATASETS)}")
    return TOY_DATASETS[key](n=n, noise=noise, seed=seed)


def _shuffled(X, y, rng):
    order = rng.permutation(len(X))
    return X[order], y[order]


def train_test_split(X, y, test_fraction: float = 0.25, seed: int = 0):
    """Seeded random split -> X_train, X_test, y_train, y_test (like scikit-learn's)."""
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of examples, got {len(X)} and {len(y)}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = max(1, int(round(len(X) * test_fraction)))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def train_val_split(X, y, val_fraction: float = 1 / 6, seed: int = 0):
    """Carve a validation split out of *training* data -> (X_train, y_train), (X_val, y_val).

    The test set is never touched: select models on the validation split, report the test set once.
    The default 1/6 turns MNIST's 60,000 training images into the usual 50,000 + 10,000.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction!r}")
    X_train, X_val, y_train, y_val = train_test_split(X, y, val_fraction, seed)
    return (X_train, y_train), (X_val, y_val)


# --------------------------------------------------------------------------------------------
# Image classification data
# --------------------------------------------------------------------------------------------


class Splits:
    """The splits of a dataset class as ``(X, y)`` pairs: ``data.train``, ``data.val``, ``data.test``
    (for ``fit(model, data.train, data.val)``). Expects ``X_train``/``y_train``, ``X_val``/``y_val``
    (``None`` until a validation split is carved), ``X_test``/``y_test`` and ``name``."""

    _no_val_hint = "use data.with_validation()"

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X_train, self.y_train

    @property
    def val(self) -> tuple[np.ndarray, np.ndarray]:
        if self.X_val is None:
            raise ValueError(f"{self.name} has no validation split; {self._no_val_hint}")
        return self.X_val, self.y_val

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X_test, self.y_test


@dataclass
class ImageData(Splits):
    """A labelled image dataset split into train, validation (optional) and test.

    X_*: (N, H*W) float32 in [0, 1]; y_*: (N,) int64; ``image_shape`` is (H, W).
    ``X_val``/``y_val`` are ``None`` until :meth:`with_validation` carves them out of the training data.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int]
    classes: list[str] = field(default_factory=lambda: [str(i) for i in range(10)])
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    _no_val_hint = "use data.with_validation() (load_image_data makes one)"

    def with_validation(self, fraction: float = 1 / 6, seed: int = 0) -> "ImageData":
        """A copy whose training data is split into train and validation (the test set is untouched)."""
        if self.X_val is not None:
            raise ValueError(f"{self.name} already has a validation split ({len(self.X_val):,} images)")
        (X_train, y_train), (X_val, y_val) = train_val_split(self.X_train, self.y_train, fraction, seed)
        return replace(self, X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val)

    def images(self, split: str = "train") -> np.ndarray:
        """The split (``"train"``, ``"val"`` or ``"test"``) as images (N, 1, H, W), the layout
        convolutions expect."""
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        X = getattr(self, split)[0]
        return X.reshape(len(X), 1, *self.image_shape)  # (N, C=1, H, W)

    def __repr__(self) -> str:
        h, w = self.image_shape
        val = "" if self.X_val is None else f"{len(self.X_val):,} validation / "
        return (f"ImageData({self.name!r}: {len(self.X_train):,} train / {val}{len(self.X_test):,} test "
                f"images of {h}x{w}, {len(self.classes)} classes)")


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> ImageData:
    """scikit-learn's bundled handwritten digits: 1,797 images of 8x8 pixels, 10 classes. Offline."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    X = (bunch.data / 16.0).astype(np.float32)  # pixel values 0..16 -> [0, 1]
    y = bunch.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction, seed)
    return ImageData("digits (scikit-learn, 8x8)", X_train, y_train, X_test, y_test, (8, 8))


# --------------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------------


class DownloadError(RuntimeError):
    """A file could not be fetched (offline, server error) - the message says what to do."""


class ChecksumError(RuntimeError):
    """A downloaded file's SHA-256 does not match the pinned one."""


def cache_dir() -> Path:
    """Where downloads are kept: ``$NNCOURSE_DATA`` if set, else ``~/.cache/nncourse``."""
    return Path(os.environ.get("NNCOURSE_DATA") or Path.home() / ".cache" / "nncourse")


def sha256sum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(urls: str | list[str], sha256: str, filename: str | None = None, *,
             directory: Path | str | None = None, timeout: float = 60.0, progress: bool = True) -> Path:
    """Fetch a file once, verify its SHA-256, and return its cached path.

    ``urls`` may list mirrors, tried in order. A cached file with the right checksum is
    returned without any network access. Data are written to a temporary file in the cache
    directory and moved into place only once the checksum matches, so an interrupted or
    corrupted download never leaves a file that looks valid.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise ValueError("download needs at least one URL")
    directory = Path(directory) if directory is not None else cache_dir()
    filename = filename or urls[0].rstrip("/").rsplit("/", 1)[-1]
    target = directory / filename
    if target.exists() and sha256sum(target) == sha256:
        return target
    directory.mkdir(parents=True, exist_ok=True)

    failures = []
    for url in urls:
        try:
            return _fetch_verified(url, sha256, target, timeout, progress)
        except ChecksumError:
            raise
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            failures.append(f"{url}: {getattr(err, 'reason', err)}")
    raise DownloadError(
        f"could not download {filename}; tried:\n  " + "\n  ".join(failures) + "\n"
        f"If this machine is offline: download the file on another machine and copy it to {target} "
        f"(set NNCOURSE_DATA to use another folder), or run in quick mode (NNCOURSE_QUICK=1), "
        f"which uses only bundled data."
    )


def _fetch_verified(url: str, sha256: str, target: Path, timeout: float, progress: bool) -> Path:
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _progress_bar(total, target.name) if progress else None
            for chunk in iter(lambda: response.read(1 << 16), b""):
                out.write(chunk)
                digest.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
        if digest.hexdigest() != sha256:
            raise ChecksumError(f"{url} has SHA-256 {digest.hexdigest()}, expected {sha256}; "
                                "the file is corrupt or was changed upstream - not using it")
        os.replace(tmp_name, target)  # atomic on the same file system
        return target
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)


def _progress_bar(total, name):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {name}", leave=False)


def read_idx(path: Path | str) -> np.ndarray:
    """Parse an IDX file (the MNIST format; gzip-compressed or not) into a NumPy array.

    Header: two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions, then one
    big-endian uint32 size per dimension.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    code, ndim = raw[2], raw[3]
    if code not in dtypes:
        raise ValueError(f"{path}: unknown IDX data type code 0x{code:02x}")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=dtypes[code], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape} but holds {data.size} values")
    return data.reshape(shape).astype(np.dtype(dtypes[code]).newbyteorder("="))


MNIST = {
    "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/"],
    "sha256": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "classes": [str(i) for i in range(10)],
}
FASHION_MNIST = {
    "mirrors": ["https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "sha256": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    "classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


def _load_idx_dataset(name: str, spec: dict, directory, mirrors) -> ImageData:
    folder = Path(directory) if directory is not None else cache_dir() / name.lower().replace(" ", "-")
    arrays = {}
    for filename, sha in spec["sha256"].items():
        urls = [m + filename for m in (mirrors or spec["mirrors"])]
        arrays[filename.split("-")[0] + "-" + filename.split("-")[1]] = read_idx(
            download(urls, sha, filename, directory=folder))

    def images(key):
        return (arrays[key].reshape(len(arrays[key]), -1) / 255.0).astype(np.float32)  # (N, 784)

    return ImageData(
        name,
        images("train-images"), arrays["train-labels"].astype(np.int64),
        images("t10k-images"), arrays["t10k-labels"].astype(np.int64),
        tuple(arrays["train-images"].shape[1:]), list(spec["classes"]),
    )


def load_mnist(directory=None, mirrors=None) -> ImageData:
    """MNIST (LeCun et al. 1998): 60,000 + 10,000 handwritten digits, 28x28. Downloads ~11 MB once."""
    return _load_idx_dataset("MNIST", MNIST, directory, mirrors)


def load_fashion_mnist(directory=None, mirrors=None) -> ImageData:
    """Fashion-MNIST (Xiao et al. 2017): 60,000 + 10,000 clothing images, 28x28, 10 classes."""
    return _load_idx_dataset("Fashion-MNIST", FASHION_MNIST, directory, mirrors)


def load_image_data(quick: bool, dataset: str = "mnist", *, val_fraction: float = 1 / 6,
                    seed: int = 0) -> ImageData:
    """The image data a notebook trains on: the bundled digits in quick mode, else MNIST
    (or Fashion-MNIST), falling back to the digits - with a printed note - when offline.

    A validation split (``val_fraction`` of the training data, seeded) is carved out of the training
    data: select on ``data.val``, report ``data.test`` once.
    """
    loaders = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}
    if dataset not in loaders:
        raise ValueError(f"dataset must be one of {', '.join(loaders)}, got {dataset!r}")
    if quick:
        data = load_digits()
    else:
        try:
            data = loaders[dataset]()
        except DownloadError as err:
            print(f"Could not get {dataset} ({str(err).splitlines()[0]}); using the bundled digits instead.")
            data = load_digits()
    return data.with_validation(val_fraction, seed)


# --------------------------------------------------------------------------------------------
# More 2-D sets for the Playground (notebook 04): regression, multi-class, the learner's own
# --------------------------------------------------------------------------------------------


def regress_plane(n: int = 200, noise: float = 0.0, seed: int = 0):
    """Points uniform in [-6, 6]^2 with target (x1 + x2) / 10 (so about [-1, 1]), as in the
    Playground's "plane"; noise jitters the point the target is read at. Returns X (n, 2), y (n,) float."""
    _check_toy_args(n, noise)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-6, 6, (n, 2))
    jitter = rng.uniform(-6, 6, (n, 2)) * noise
    y = (X + jitter).sum(axis=1) / 10.0
    return X, y


# centre x, centre y, sign: three peaks and three pits, as in the Playground's "multi gaussian"
_GAUSSIAN_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])


def regress_gaussian(n: int = 200, noise: float = 0.0, seed: int = 0):
    """Points uniform in [-6, 6]^2; the target is +-1 at six bump centres, falling linearly to 0
    at distance 2 (the strongest bump wins), as in the Playground's "multi gaussian". Returns X (n, 2), y (n,)."""
    _check_toy_args(n, noise)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-6, 6, (n, 2))
    P = X + rng.uniform(-6, 6, (n, 2)) * noise
    dist = np.linalg.norm(P[:, None, :] - _GAUSSIAN_BUMPS[None, :, :2], axis=2)   # (n, 6)
    strength = np.clip(1 - dist / 2, 0, 1) * _GAUSSIAN_BUMPS[:, 2]                 # (n, 6)
    y = strength[np.arange(n), np.abs(strength).argmax(axis=1)]
    return X, y


def blobs(n: int = 200, noise: float = 0.0, seed: int = 0, classes: int = 3):
    """``classes`` Gaussian blobs on a circle of radius 3.5; noise widens them. y (n,) in 0..classes-1."""
    _check_toy_args(n, noise)
    classes = _check_classes(classes)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    angle = 2 * np.pi * y / classes + np.pi / 2
    centres = 3.5 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    X = centres + rng.normal(0, np.sqrt(0.4 + 2.0 * noise), (n, 2))
    return _shuffled(X, y.astype(np.int64), rng)


def spiral_arms(n: int = 200, noise: float = 0.0, seed: int = 0, classes: int = 3):
    """``classes`` interleaved spiral arms of radius up to 5 (one turn each): the multi-class spiral."""
    _check_toy_args(n, noise)
    classes = _check_classes(classes)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    s = rng.uniform(0.05, 1, n)                       # position along the arm
    t = 2 * np.pi * (s + y / classes)
    X = 5 * s[:, None] * np.stack([np.sin(t), np.cos(t)], axis=1)
    X += rng.uniform(-1, 1, (n, 2)) * noise
    return _shuffled(X, y.astype(np.int64), rng)


def _check_classes(classes):
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or not 2 <= classes <= 8:
        raise ValueError(f"classes must be an integer from 2 to 8, got {classes!r}")
    return int(classes)


REGRESSION_DATASETS = {"plane": regress_plane, "multi_gaussian": regress_gaussian}
MULTICLASS_DATASETS = {"blobs": blobs, "spiral_arms": spiral_arms}


def load_points(source, *, delimiter: str = ","):
    """The learner's own 2-D data: ``(X, y)``, an array (N, 3) of x1, x2, label, or a CSV path
    with those three columns (a header line is skipped). Returns X (N, 2) float64 and y (N,):
    int64 when every label is a whole number (classes), else float64 (regression targets)."""
    if isinstance(source, (tuple, list)) and len(source) == 2:
        X, y = np.asarray(source[0], dtype=np.float64), np.asarray(source[1])
    else:
        if isinstance(source, (str, Path)):
            path = Path(source)
            if not path.exists():
                raise FileNotFoundError(f"no such CSV file: {path}")
            with open(path) as f:
                first = f.readline()
            try:
                [float(v) for v in first.split(delimiter)]
                has_header = False
            except ValueError:  # words such as "x1,x2,label"
                has_header = True
            table = np.loadtxt(path, delimiter=delimiter, skiprows=1 if has_header else 0, ndmin=2)
        else:
            table = np.asarray(source, dtype=np.float64)
        if table.ndim != 2 or table.shape[1] != 3:
            raise ValueError(f"own data must have 3 columns (x1, x2, label), got shape {table.shape}")
        X, y = table[:, :2], table[:, 2]
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2): two features per point, got {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"y must have one label per point, shape ({len(X)},), got {y.shape}")
    if len(X) < 4:
        raise ValueError(f"own data needs at least 4 points (to split into train and test), got {len(X)}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y.astype(np.float64)))):
        raise ValueError("own data must be finite: found NaN or inf in the features or labels")
    y = y.astype(np.float64)
    if np.all(y == np.round(y)):
        y = y.astype(np.int64)
    return X, y
