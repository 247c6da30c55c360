"""Datasets and the download helper. Downloads are tested against a loopback HTTP server, never
the internet."""
import gzip
import hashlib
import struct

import numpy as np
import pytest
from loopback import Server, closed_port_url

from nncourse import data


# --- toy datasets ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(data.TOY_DATASETS))
def test_toy_datasets_are_seeded_balanced_and_shaped(name):
    X, y = data.toy_dataset(name, n=101, noise=0.2, seed=3)
    assert X.shape == (101, 2) and y.shape == (101,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    assert abs(int(y.sum()) - 50) <= 1
    assert np.abs(X).max() < 10
    X2, y2 = data.toy_dataset(name, n=101, noise=0.2, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = data.toy_dataset(name, n=101, noise=0.2, seed=4)
    assert not np.allclose(X, X3)


def test_noise_moves_points():
    X0, _ = data.xor(n=50, noise=0.0, seed=0)
    X1, _ = data.xor(n=50, noise=0.3, seed=0)
    assert not np.allclose(X0, X1)


def test_circle_geometry_without_noise():
    X, y = data.circle(n=200, seed=0)
    r = np.linalg.norm(X, axis=1)
    assert r[y == 1].max() <= 2.5 and r[y == 0].min() >= 3.5


def test_logic_gates_truth_tables():
    X, y = data.logic_gate("XOR")
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    np.testing.assert_array_equal(data.logic_gate("nand")[1], [1, 1, 1, 0])


def test_bad_dataset_arguments():
    with pytest.raises(ValueError, match="unknown dataset 'ring'; known datasets: circle, xor"):
        data.toy_dataset("ring")
    with pytest.raises(ValueError, match=r"noise must be in \[0, 1\].*got 5"):
        data.circle(noise=5)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        data.spiral(n=0)
    with pytest.raises(ValueError, match="unknown logic gate 'xnor'"):
        data.logic_gate("xnor")


def test_train_test_split_is_a_seeded_partition():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, 0.3, seed=1)
    assert len(Xte) == 3 and len(Xtr) == 7
    assert sorted(np.concatenate([ytr, yte])) == list(range(10))
    np.testing.assert_array_equal(Xte[:, 0] // 2, yte)
    with pytest.raises(ValueError, match="same number of examples"):
        data.train_test_split(X, y[:5])


def test_digits_are_bundled_and_offline():
    digits = data.load_digits()
    assert digits.X_train.shape[1] == 64 and digits.image_shape == (8, 8)
    assert len(digits.X_train) + len(digits.X_test) == 1797
    assert digits.X_train.dtype == np.float32 and 0 <= digits.X_train.min() and digits.X_train.max() <= 1
    assert digits.images("test").shape == (len(digits.X_test), 1, 8, 8)
    assert "digits" in repr(digits)
    assert data.load_image_data(quick=True).name == digits.name


def test_validation_is_carved_out_of_the_training_data_and_test_is_untouched():
    digits = data.load_digits()
    split = data.load_image_data(quick=True, seed=3)
    assert len(split.X_train) + len(split.X_val) == len(digits.X_train)
    assert len(split.X_val) == round(len(digits.X_train) / 6)
    np.testing.assert_array_equal(split.X_test, digits.X_test)  # the test set never moves
    # every training image lands in exactly one of train/val: compare rows as bytes
    rows = lambda X: sorted(r.tobytes() for r in X)  # noqa: E731
    assert rows(np.concatenate([split.X_train, split.X_val])) == rows(digits.X_train)
    assert split.val[0] is split.X_val and split.test[1] is split.y_test
    assert split.images("val").shape == (len(split.X_val), 1, 8, 8)
    assert "validation" in repr(split)
    # seeded: same seed, same split; another seed, another split
    np.testing.assert_array_equal(data.load_image_data(quick=True, seed=3).y_val, split.y_val)
    assert not np.array_equal(data.load_image_data(quick=True, seed=4).X_val, split.X_val)
    (Xtr, ytr), (Xv, yv) = data.train_val_split(digits.X_train, digits.y_train, 0.25, seed=0)
    assert len(Xv) == round(0.25 * len(digits.X_train)) and len(Xtr) + len(Xv) == len(digits.X_train)


def test_validation_split_errors_name_what_was_expected():
    digits = data.load_digits()
    with pytest.raises(ValueError, match="has no validation split"):
        digits.val
    with pytest.raises(ValueError, match="already has a validation split"):
        digits.with_validation().with_validation()
    with pytest.raises(ValueError, match="val_fraction must be between 0 and 1, got 1.5"):
        data.train_val_split(digits.X_train, digits.y_train, 1.5)
    with pytest.raises(ValueError, match="split must be 'train', 'val' or 'test', got 'valid'"):
        digits.images("valid")
    with pytest.raises(ValueError, match="dataset must be one of mnist, fashion_mnist, got 'cifar'"):
        data.load_image_data(quick=True, dataset="cifar")


# --- IDX parsing -------------------------------------------------------------------------------

def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_read_idx_roundtrip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    (tmp_path / "x-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "y-idx1-ubyte").write_bytes(idx_bytes(np.arange(5, dtype=np.uint8)))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "x-idx3-ubyte.gz"), images)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "y-idx1-ubyte"), np.arange(5))


def test_read_idx_rejects_garbage(tmp_path):
    (tmp_path / "bad").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x01\x02")
    with pytest.raises(ValueError, match=r"header says shape \(10,\) but holds 2 values"):
        data.read_idx(tmp_path / "short")


# --- downloads against a loopback server -------------------------------------------------------



@pytest.fixture
def server():
    payload = b"hello, learner\n" * 1000
    srv = Server({"hello.txt": payload})
    srv.payload, srv.sha = payload, hashlib.sha256(payload).hexdigest()
    yield srv
    srv.close()




def test_download_verifies_caches_and_reuses(server, tmp_path):
    path = data.download(server.url + "hello.txt", server.sha, directory=tmp_path, progress=False)
    assert path == tmp_path / "hello.txt" and path.read_bytes() == server.payload
    again = data.download(server.url + "hello.txt", server.sha, directory=tmp_path, progress=False)
    assert again == path and len(server.requests) == 1  # the second call never hit the network
    assert [p.name for p in tmp_path.iterdir()] == ["hello.txt"]  # no temporary files left


def test_download_uses_the_cache_dir_from_the_environment(server, tmp_path, monkeypatch):
    monkeypatch.setenv("NNCOURSE_DATA", str(tmp_path / "cache"))
    assert data.cache_dir() == tmp_path / "cache"
    path = data.download(server.url + "hello.txt", server.sha, progress=False)
    assert path.parent == tmp_path / "cache"


def test_checksum_mismatch_leaves_nothing_behind(server, tmp_path):
    with pytest.raises(data.ChecksumError, match="expected 0000"):
        data.download(server.url + "hello.txt", "0" * 64, directory=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_cached_file_is_fetched_again(server, tmp_path):
    (tmp_path / "hello.txt").write_bytes(b"truncated")
    path = data.download(server.url + "hello.txt", server.sha, directory=tmp_path, progress=False)
    assert path.read_bytes() == server.payload and len(server.requests) == 1


def test_mirrors_are_tried_in_order(server, tmp_path):
    urls = [closed_port_url() + "hello.txt", server.url + "missing.txt", server.url + "hello.txt"]
    path = data.download(urls, server.sha, "hello.txt", directory=tmp_path, progress=False)
    assert path.read_bytes() == server.payload


def test_offline_error_says_what_to_do(tmp_path):
    with pytest.raises(data.DownloadError) as info:
        data.download(closed_port_url() + "file.bin", "0" * 64, directory=tmp_path, progress=False, timeout=5)
    message = str(info.value)
    assert "could not download file.bin" in message
    assert str(tmp_path / "file.bin") in message and "NNCOURSE_QUICK=1" in message


def test_load_mnist_parses_the_four_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 6),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 3),
    }
    files = {name: gzip.compress(idx_bytes(a)) for name, a in arrays.items()}
    srv = Server(files)
    try:
        spec = dict(data.MNIST, sha256={n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
        monkeypatch.setattr(data, "MNIST", spec)
        mnist = data.load_mnist(directory=tmp_path, mirrors=[srv.url])
    finally:
        srv.close()
    assert mnist.X_train.shape == (6, 784) and mnist.X_test.shape == (3, 784)
    np.testing.assert_allclose(mnist.X_train[0], arrays["train-images-idx3-ubyte.gz"][0].ravel() / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(mnist.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert mnist.image_shape == (28, 28) and mnist.images().shape == (6, 1, 28, 28)


def test_pinned_checksums_are_sha256():
    for spec in (data.MNIST, data.FASHION_MNIST):
        assert len(spec["sha256"]) == 4
        assert all(len(s) == 64 and int(s, 16) >= 0 for s in spec["sha256"].values())


def test_full_mode_falls_back_to_digits_when_offline(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(data.MNIST, "mirrors", [closed_port_url()])
    monkeypatch.setenv("NNCOURSE_DATA", str(tmp_path))
    result = data.load_image_data(quick=False)
    assert "digits" in result.name
    assert "using the bundled digits instead" in capsys.readouterr().out
    assert result.X_val is not None  # the fallback gets its validation split too
