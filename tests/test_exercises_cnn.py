"""The exercises of notebook 06: each checker accepts the answer and its equivalents, rejects the
typical wrong answers with the intended message, never raises, and gives the same verdict every run."""
import numpy as np
import pytest

from nncourse.cnn import MaxPool2d, conv2d_backward, conv2d_forward, output_size
from nncourse.exercises import REGISTRY, solution_source
from nncourse.exercises import cnn as ex
from nncourse.exercises.solutions import cnn as solutions
from exercise_support import not_attempted

NAMES = ["conv_output_size", "sobel_x", "max_pool", "conv_backward"]


def verdict(exercise, answer):
    result = exercise.check(answer, quiet=True)
    return bool(result), result.message


def assert_rejected(exercise, answer, *words):
    passed, message = verdict(exercise, answer)
    assert not passed, message
    for word in words:
        assert word in message, (word, message)
    assert "solution()" in message  # the answer is offered, not given


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_hints_and_a_solution(name):
    exercise = REGISTRY[name]
    assert getattr(ex, name) is exercise and len(exercise.hints) >= 2
    assert solution_source(exercise).strip()


@pytest.mark.parametrize("name", ["conv_output_size", "max_pool", "conv_backward"])
def test_not_attempted_and_same_verdict_every_time(name):
    exercise = REGISTRY[name]
    assert_rejected(exercise, not_attempted, "not attempted")
    first = [np.asarray(a).tolist() if isinstance(a, np.ndarray) else a for case in exercise.cases() for a in case]
    second = [np.asarray(a).tolist() if isinstance(a, np.ndarray) else a for case in exercise.cases() for a in case]
    assert first == second  # fixed seeded cases


# -- output size ------------------------------------------------------------------------------------

def test_output_size_accepts_equivalent_formulas():
    for answer in (solutions.conv_output_size, output_size, lambda n, k, s, p: int(np.floor((n + 2 * p - k) / s)) + 1,
                   lambda n, k, s, p: len(range(0, n + 2 * p - k + 1, s))):
        assert verdict(ex.conv_output_size, answer)[0]


@pytest.mark.parametrize("answer, words", [
    (lambda n, k, s, p: (n + 2 * p - k) / s + 1, ["fraction"]),
    (lambda n, k, s, p: (n + p - k) // s + 1, ["both sides"]),
    (lambda n, k, s, p: (n + 2 * p - k) // s, ["one position short"]),
    (lambda n, k, s, p: n - k + 1, ["stride and the padding"]),
    (lambda n, k, s, p: 1 / 0, ["ZeroDivisionError"]),
])
def test_output_size_names_the_mistake(answer, words):
    assert_rejected(ex.conv_output_size, answer, *words)


# -- Sobel x ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", [
    [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8,  # normalised, as some books write it
    [[-2, 0, 2], [-4, 0, 4], [-2, 0, 2]],
    [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
])
def test_sobel_accepts_every_positive_multiple(kernel):
    assert verdict(ex.sobel_x, kernel)[0]


@pytest.mark.parametrize("kernel, words", [
    ([[1, 0, -1], [2, 0, -2], [1, 0, -1]], ["mirrored"]),
    ([[2, 0, -2], [4, 0, -4], [2, 0, -2]], ["mirrored"]),
    ([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], ["horizontal", "Sobel y"]),
    ([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], ["horizontal"]),
    ([[-1, 0, 1], [-2, 1, 2], [-1, 0, 1]], ["add up to 1"]),
    ([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], ["1, 2, 1"]),      # Prewitt
    ([[-1, 1, 1], [-2, 0, 2], [-1, -1, 1]], ["middle column"]),
    ([[-1, 0, 1], [-2, 0, 2]], ["3x3"]),
    ([["a", 0, 1]] * 3, ["could not read"]),
    ([[0, 0, 0]] * 3, ["not attempted"]),
])
def test_sobel_names_the_mistake(kernel, words):
    assert_rejected(ex.sobel_x, kernel, *words)


def test_sobel_use_gives_the_learners_kernel_once_it_passes(capsys):
    mine = [[-2, 0, 2], [-4, 0, 4], [-2, 0, 2]]
    assert ex.sobel_x.use(mine) is mine
    np.testing.assert_array_equal(ex.sobel_x.use([[0, 0, 0]] * 3), ex.SOBEL_X)
    assert "Using the course's sobel_x" in capsys.readouterr().out


# -- max pooling ------------------------------------------------------------------------------------

def loop_pool(image, size):
    h, w = image.shape[0] // size, image.shape[1] // size
    return np.array([[image[i * size:(i + 1) * size, j * size:(j + 1) * size].max() for j in range(w)]
                     for i in range(h)])


def test_max_pool_accepts_loops_reshape_and_the_layer():
    for answer in (solutions.max_pool, loop_pool, lambda img, k: MaxPool2d(k).forward(img[None, None])[0, 0]):
        assert verdict(ex.max_pool, answer)[0]


def start_at_zero(image, size):
    h, w = image.shape[0] // size, image.shape[1] // size
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            for value in image[i * size:(i + 1) * size, j * size:(j + 1) * size].ravel():
                out[i, j] = max(out[i, j], value)
    return out


@pytest.mark.parametrize("answer, words", [
    (start_at_zero, ["negative", "start from 0"]),
    (lambda img, k: img[:img.shape[0] // k * k:k, :img.shape[1] // k * k:k], ["top-left", "subsampling"]),
    (lambda img, k: img[:img.shape[0] // k * k, :img.shape[1] // k * k]
     .reshape(img.shape[0] // k, k, img.shape[1] // k, k).mean(axis=(1, 3)), ["averaged"]),
    (lambda img, k: img[:img.shape[0] // k * k, :img.shape[1] // k * k]
     .reshape(img.shape[0] // k, img.shape[1] // k, k, k).max(axis=(2, 3)), ["reshape mixes rows and columns"]),
    (lambda img, k: img.reshape(img.shape[0] // k, k, -1, k).max(axis=(1, 3)), ["raised", "(7, 9)"]),  # no crop
    (lambda img, k: np.array([[img[i:i + k, j:j + k].max() for j in range(0, img.shape[1], k)]
                              for i in range(0, img.shape[0], k)]), ["shape (4, 5)", "expected (3, 4)"]),  # keeps the edge
])
def test_max_pool_names_the_mistake(answer, words):
    assert_rejected(ex.max_pool, answer, *words)


# -- conv backward ------------------------------------------------------------------------------------

def loop_backward(dout, x, w, padding):
    """The sums written out as loops: an equivalent answer that shares no code with the solution."""
    n_, c_, h, w_ = x.shape
    o_, _, k, _ = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for n in range(n_):
        for o in range(o_):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    dx_pad[n, :, i:i + k, j:j + k] += dout[n, o, i, j] * w[o]
                    dw[o] += dout[n, o, i, j] * x_pad[n, :, i:i + k, j:j + k]
    return dx_pad[:, :, padding:padding + h, padding:padding + w_], dw, dout.sum(axis=(0, 2, 3))


def package_backward(dout, x, w, padding):
    _, cache = conv2d_forward(x, w, None, 1, padding)
    return conv2d_backward(dout, cache)


def torch_backward(dout, x, w, padding):
    import torch
    import torch.nn.functional as F

    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    F.conv2d(xt, wt, bt, padding=padding).backward(torch.from_numpy(dout))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("answer", [solutions.conv_backward, loop_backward, package_backward, torch_backward,
                                    lambda *a: list(solutions.conv_backward(*a))])  # a list is fine too
def test_conv_backward_accepts_equivalent_answers(answer):
    passed, message = verdict(ex.conv_backward, answer)
    assert passed, message


def with_part(index, make):
    def answer(dout, x, w, padding):
        parts = list(solutions.conv_backward(dout, x, w, padding))
        parts[index] = make(dout, x, w, padding, parts[index])
        return tuple(parts)
    return answer


def full_conv(dout, w, flip=True):
    k = w.shape[-1]
    kernel = w[:, :, ::-1, ::-1] if flip else w
    return conv2d_forward(dout, kernel.transpose(1, 0, 2, 3), padding=k - 1)[0]


@pytest.mark.parametrize("answer, words", [
    # dx: the flip, the padding of dout / the crop
    (with_part(0, lambda d, x, w, p, dx: full_conv(d, w, flip=False)[:, :, p:p + x.shape[2], p:p + x.shape[3]]),
     ["'dx'", "not flipped"]),
    (with_part(0, lambda d, x, w, p, dx: full_conv(d, w)[:, :, :x.shape[2], :x.shape[3]]), ["'dx'", "one side only"]),
    (with_part(0, lambda d, x, w, p, dx: full_conv(d, w)), ["'dx' has shape", "x's shape", "rows"]),
    (with_part(0, lambda d, x, w, p, dx: conv2d_forward(d, w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3), padding=p)[0]),
     ["'dx' has shape"]),  # "same" padding: right only when p = (k - 1) / 2
    # dw: the flip, the channel axes, the padding
    (with_part(1, lambda d, x, w, p, dw: dw[:, :, ::-1, ::-1]), ["'dw'", "flipped", "correlation"]),
    (with_part(1, lambda d, x, w, p, dw: dw.transpose(1, 0, 2, 3)), ["'dw' has shape", "swapped"]),
    (with_part(1, lambda d, x, w, p, dw: conv2d_forward(x.transpose(1, 0, 2, 3), d.transpose(1, 0, 2, 3))[0]
               .transpose(1, 0, 2, 3)), ["'dw' has shape", "padded input"]),
    # db: not summed over the batch and the positions
    (with_part(2, lambda d, x, w, p, db: d[0].sum(axis=(1, 2))), ["'db'", "first image"]),
    (with_part(2, lambda d, x, w, p, db: d.mean(axis=(0, 2, 3))), ["'db'", "average"]),
    (with_part(2, lambda d, x, w, p, db: d.sum(axis=(2, 3))), ["'db' has shape", "every image and every position"]),
    (with_part(2, lambda d, x, w, p, db: d.sum(axis=(0,))), ["'db' has shape", "one number per output channel"]),
    # the tuple
    (lambda d, x, w, p: solutions.conv_backward(d, x, w, p)[:2], ["return 3 values", "dx, dw, db"]),
    (lambda d, x, w, p: -solutions.conv_backward(d, x, w, p)[0], ["3 values as a tuple"]),
    (with_part(1, lambda d, x, w, p, dw: -dw), ["'dw'", "wrong sign"]),
    (with_part(0, lambda d, x, w, p, dx: 2 * dx), ["'dx'", "2 times"]),
])
def test_conv_backward_names_the_mistake(answer, words):
    assert_rejected(ex.conv_backward, answer, *words)


def test_conv_backward_use_hands_back_the_learners_function(capsys):
    assert ex.conv_backward.use(loop_backward) is loop_backward
    assert ex.conv_backward.use(not_attempted) is solutions.conv_backward
    assert "Using the course's conv_backward" in capsys.readouterr().out


def test_conv_backward_hints_come_one_at_a_time(capsys):
    ex.conv_backward.hints_shown = 0
    ex.conv_backward.hint()
    first = capsys.readouterr().out
    assert "Hint 1/" in first and "Hint 2/" not in first
    ex.conv_backward.hint()
    assert "Hint 2/" in capsys.readouterr().out
    ex.conv_backward.hints_shown = 0
