"""The Playground: its datasets, its network, its headless controls, its config string."""
import numpy as np
import pytest

from nncourse import data

# --- the Playground's extra datasets (nncourse.data) -----------------------------------------


def test_regress_plane_targets():
    X, y = data.regress_plane(300, noise=0.0, seed=1)
    assert X.shape == (300, 2) and y.shape == (300,)
    np.testing.assert_allclose(y, X.sum(axis=1) / 10)
    Xn, yn = data.regress_plane(300, noise=0.5, seed=1)
    np.testing.assert_array_equal(X, Xn)                     # noise moves the target, not the point
    assert 0.05 < np.std(yn - X.sum(axis=1) / 10) < 0.5


def test_regress_gaussian_targets():
    X, y = data.regress_gaussian(2000, seed=0)
    assert np.all(np.abs(y) <= 1) and y.max() > 0.8 and y.min() < -0.8
    # at a bump centre the target is its sign, far from every bump it is 0
    near = np.linalg.norm(X - [-4, 2.5], axis=1) < 0.2
    assert near.any() and np.all(y[near] > 0.85)
    far = np.all(np.linalg.norm(X[:, None] - data._GAUSSIAN_BUMPS[None, :, :2], axis=2) > 2, axis=1)
    assert far.any() and np.all(y[far] == 0)


@pytest.mark.parametrize("fn", [data.blobs, data.spiral_arms])
@pytest.mark.parametrize("classes", [2, 3, 5])
def test_multiclass_sets(fn, classes):
    X, y = fn(200, noise=0.1, seed=0, classes=classes)
    assert X.shape == (200, 2) and y.dtype == np.int64
    assert sorted(np.unique(y)) == list(range(classes))
    assert np.bincount(y).max() - np.bincount(y).min() <= 1   # balanced
    assert np.all(np.abs(X) < 8)
    X2, y2 = fn(200, noise=0.1, seed=0, classes=classes)
    np.testing.assert_array_equal(X, X2)                     # seeded
    with pytest.raises(ValueError, match="classes must be an integer from 2 to 8, got 1"):
        fn(10, classes=1)


def test_blobs_are_separable_by_nearest_centre():
    X, y = data.blobs(300, noise=0.0, seed=0, classes=4)
    angle = 2 * np.pi * np.arange(4) / 4 + np.pi / 2
    centres = 3.5 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    nearest = np.argmin(np.linalg.norm(X[:, None] - centres[None], axis=2), axis=1)
    assert np.mean(nearest == y) > 0.97


def test_load_points_from_arrays_and_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2))
    y = (X[:, 0] > 0).astype(int)
    X1, y1 = data.load_points((X, y))
    np.testing.assert_array_equal(X1, X)
    assert y1.dtype == np.int64
    table = np.column_stack([X, y])
    X2, y2 = data.load_points(table)
    np.testing.assert_array_equal(y2, y)
    path = tmp_path / "points.csv"
    path.write_text("x1,x2,label\n" + "\n".join(f"{a},{b},{c}" for a, b, c in table))
    X3, y3 = data.load_points(path)
    np.testing.assert_allclose(X3, X)
    np.testing.assert_array_equal(y3, y)
    path.write_text("\n".join(f"{a},{b},{c + 0.5}" for a, b, c in table))  # no header, float targets
    X4, y4 = data.load_points(str(path))
    assert y4.dtype == np.float64 and len(X4) == 10


def test_load_points_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"own data must have 3 columns \(x1, x2, label\), got shape \(5, 2\)"):
        data.load_points(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"X must have shape \(N, 2\): two features per point, got \(5, 3\)"):
        data.load_points((np.zeros((5, 3)), np.zeros(5)))
    with pytest.raises(ValueError, match=r"y must have one label per point, shape \(5,\), got \(4,\)"):
        data.load_points((np.zeros((5, 2)), np.zeros(4)))
    with pytest.raises(ValueError, match="at least 4 points"):
        data.load_points(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="must be finite"):
        data.load_points(np.array([[0, 0, 1], [1, np.nan, 0], [2, 2, 1], [3, 3, 0]]))
    with pytest.raises(FileNotFoundError, match="no such CSV file"):
        data.load_points(tmp_path / "missing.csv")
