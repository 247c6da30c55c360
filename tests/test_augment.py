"""nncourse.augment: shifts, rotations and elastic distortions of small images."""
import numpy as np
import pytest

from nncourse.augment import augment_dataset, displacement_field, elastic, random_augment, rotate, shift


def bar():
    image = np.zeros((9, 9))
    image[2:7, 4] = 1.0        # a vertical bar through the centre
    return image


def test_shift_moves_by_whole_pixels_and_keeps_mass():
    image = bar()
    moved = shift(image, 1, 2)
    np.testing.assert_allclose(moved[3:8, 6], 1.0)
    assert moved.sum() == pytest.approx(image.sum())
    np.testing.assert_allclose(shift(image, 0, 0), image)


def test_rotate_quarter_turn_of_a_bar_is_horizontal():
    turned = rotate(bar(), 90)
    np.testing.assert_allclose(turned[4, 2:7], 1.0, atol=1e-12)
    np.testing.assert_allclose(rotate(bar(), 0), bar(), atol=1e-12)


def test_elastic_is_small_smooth_and_seeded():
    rng = np.random.default_rng(0)
    image = rng.random((12, 12))
    field = displacement_field((12, 12), 2.0, 2.0, np.random.default_rng(1))
    assert field.shape == (2, 12, 12) and 0 < np.abs(field).max() < 2.0
    a, b = elastic(image, 2.0, 2.0, 1), elastic(image, 2.0, 2.0, 1)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, image)
    np.testing.assert_allclose(elastic(image, 0.0, 2.0, 1), image, atol=1e-12)   # no displacement, no change
    # smooth: neighbouring pixels move nearly together (far less than independent noise would)
    near = np.abs(np.diff(field[0], axis=0)).mean()                 # neighbours one pixel apart
    far = np.abs(field[0] - np.roll(field[0], 6, axis=0)).mean()     # pixels six apart
    assert near < 0.5 * far


def test_random_augment_and_dataset_shapes_and_labels():
    rng = np.random.default_rng(0)
    X, y = rng.random((5, 36)).astype(np.float32), np.arange(5)
    X_aug, y_aug = augment_dataset(X, y, (6, 6), copies=3, seed=0, max_shift=1, max_degrees=10, alpha=1, sigma=1)
    assert X_aug.shape == (15, 36) and X_aug.dtype == np.float32
    np.testing.assert_array_equal(y_aug, np.tile(y, 3))
    assert not np.allclose(X_aug[:5], X_aug[5:10])        # each copy is a fresh variant
    same = random_augment(X.reshape(5, 6, 6), max_shift=0, max_degrees=0)
    np.testing.assert_allclose(same, X.reshape(5, 6, 6), atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="image must be 2-D"):
        shift(np.ones((2, 3, 3)), 1, 1)
    with pytest.raises(ValueError, match="alpha >= 0 and sigma > 0"):
        elastic(np.ones((3, 3)), 1.0, 0.0, 0)
    with pytest.raises(ValueError, match=r"X has 10 columns, but image_shape \(3, 3\) has 9 pixels"):
        augment_dataset(np.ones((2, 10)), [0, 1], (3, 3), copies=1)
    with pytest.raises(ValueError, match="same length"):
        augment_dataset(np.ones((2, 9)), [0], (3, 3), copies=1)
    with pytest.raises(ValueError, match="copies must be a positive integer"):
        augment_dataset(np.ones((2, 9)), [0, 1], (3, 3), copies=0)
