"""The exercises of notebook 06 accept a correct answer, reject wrong ones, and never raise."""
import numpy as np

from nncourse.cnn import MaxPool2d, output_size
from nncourse.exercises import cnn as ex


def not_attempted(*args):
    raise NotImplementedError


def test_output_size_checker(capsys):
    assert ex.check_output_size(lambda n, k, s, p: (n + 2 * p - k) // s + 1) == True
    assert "✓" in capsys.readouterr().out
    assert ex.check_output_size(lambda n, k, s, p: output_size(n, k, s, p)) == True  # the package's own
    assert ex.check_output_size(lambda n, k, s, p: (n + p - k) // s + 1) == False   # padding on one side only
    assert "Hint" in capsys.readouterr().out
    assert ex.check_output_size(lambda n, k, s, p: (n + 2 * p - k) / s + 1) == False  # true division: 14.5
    assert ex.check_output_size(lambda n, k, s, p: n - k + 1) == False                # ignores stride and padding
    assert ex.check_output_size(not_attempted) == False
    assert "not attempted" in capsys.readouterr().out


def test_sobel_checker(capsys):
    assert ex.check_sobel_x([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]) == True
    assert "✓" in capsys.readouterr().out
    wrong = {
        "mirrored": ([[1, 0, -1], [2, 0, -2], [1, 0, -1]], "mirrored"),
        "sobel y": ([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], "Sobel y"),
        "not zero-sum": ([[-1, 0, 1], [-2, 1, 2], [-1, 0, 1]], "add up to 1"),
        "prewitt": ([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], "1, 2, 1"),
        "centre column": ([[-1, 1, 1], [-2, 0, 2], [-1, -1, 1]], "middle column"),
        "wrong shape": ([[-1, 0, 1], [-2, 0, 2]], "must be 3x3"),
        "not numbers": ([["a", 0, 1]] * 3, "could not read"),
        "untouched": ([[0, 0, 0]] * 3, "not attempted"),
    }
    for name, (kernel, message) in wrong.items():
        assert ex.check_sobel_x(kernel) == False, name
        assert message in capsys.readouterr().out, name


def correct_pool(image, size):
    h, w = image.shape[0] // size, image.shape[1] // size
    return np.array([[image[i * size:(i + 1) * size, j * size:(j + 1) * size].max() for j in range(w)]
                     for i in range(h)])


def test_max_pool_checker(capsys):
    assert ex.check_max_pool(correct_pool) == True
    assert ex.check_max_pool(lambda img, k: MaxPool2d(k).forward(img[None, None])[0, 0]) == True
    assert "✓" in capsys.readouterr().out
    assert ex.check_max_pool(lambda img, k: np.abs(correct_pool(np.abs(img), k))) == False  # max of |x|
    assert ex.check_max_pool(lambda img, k: img[::k, ::k]) == False                        # subsampling
    assert ex.check_max_pool(lambda img, k: img.reshape(img.shape[0] // k, k, -1, k).max(axis=(1, 3))) == False  # crashes on 7x9
    out = capsys.readouterr().out
    assert "Hint" in out and "raised" in out
