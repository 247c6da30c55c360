"""Conv2d, MaxPool2d, AvgPool2d, Flatten (nncourse.cnn) against PyTorch autograd and finite differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nncourse import Linear, ReLU, Sequential, compare_with_torch, gradcheck
import nncourse.cnn
from nncourse.cnn import (
    AvgPool2d, Conv2d, Flatten, MaxPool2d, Unflatten, col2im, conv2d_backward, conv2d_backward_fast, conv2d_forward,
    conv2d_forward_fast, conv2d_naive, im2col, output_size,
)

TOL = 1e-8


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# (N, C_in, H, W, C_out, kernel, stride, padding): odd sizes, stride 2, padding, 1x1 and 5x5,
# non-square inputs and kernels, several channels.
CONV_CASES = [
    (2, 3, 7, 7, 4, 3, 1, 0),
    (2, 3, 7, 7, 4, 3, 1, 1),
    (3, 2, 9, 11, 5, 3, 2, 1),
    (2, 4, 8, 8, 3, 1, 1, 0),
    (2, 4, 7, 5, 2, 1, 2, 0),
    (2, 1, 12, 10, 3, 5, 1, 2),
    (1, 3, 13, 9, 2, 5, 2, 0),
    (2, 2, 6, 9, 3, (3, 5), (1, 2), (1, 2)),
    (4, 6, 5, 5, 8, 3, 3, 1),
    (1, 1, 3, 3, 1, 3, 1, 0),
]
SEEDS = [0, 1, 2]


def _x(shape, seed):
    return np.random.default_rng(100 + seed).standard_normal(shape)


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_matches_torch(case, seed):
    n, c_in, h, w, c_out, k, s, p = case
    layer = Conv2d(c_in, c_out, k, stride=s, padding=p, seed=seed)
    errors = compare_with_torch(layer, _x((n, c_in, h, w), seed), seed=seed)
    assert set(errors) == {"out", "x", "weight", "bias"}
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("case", CONV_CASES[:6] + CONV_CASES[7:8], ids=str)
def test_conv2d_gradcheck(case):
    n, c_in, h, w, c_out, k, s, p = case
    layer = Conv2d(c_in, c_out, k, stride=s, padding=p, seed=3)
    errors = gradcheck(layer, _x((1, c_in, h, w), 3), tol=1e-6)
    assert set(errors) == {"x", "weight", "bias"}


def test_conv2d_without_bias_matches_torch():
    layer = Conv2d(3, 2, 3, padding=1, bias=False, seed=0)
    assert set(layer.params) == {"weight"}
    errors = compare_with_torch(layer, _x((2, 3, 6, 5), 0))
    assert max(errors.values()) < TOL


def test_conv2d_init_like_torch_and_seeded():
    a, b, c = Conv2d(4, 8, 3, seed=0), Conv2d(4, 8, 3, seed=0), Conv2d(4, 8, 3, seed=1)
    assert a.params["weight"].shape == (8, 4, 3, 3) and a.params["bias"].shape == (8,)
    np.testing.assert_array_equal(a.params["weight"], b.params["weight"])
    assert not np.allclose(a.params["weight"], c.params["weight"])
    bound = 1 / np.sqrt(4 * 3 * 3)  # PyTorch's bound for fan_in = 36
    assert np.abs(a.params["weight"]).max() <= bound and np.abs(a.params["weight"]).max() > 0.8 * bound


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_naive_loops_equal_vectorised(case):
    n, c_in, h, w, c_out, k, s, p = case
    layer = Conv2d(c_in, c_out, k, stride=s, padding=p, seed=0)
    x = _x((n, c_in, h, w), 0)
    naive = conv2d_naive(x, layer.params["weight"], layer.params["bias"], stride=s, padding=p)
    np.testing.assert_allclose(naive, layer.forward(x), atol=1e-12)


def test_im2col_columns_are_receptive_fields_and_col2im_is_its_adjoint():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    cols = im2col(x, 3, stride=2, padding=1)  # Ho = 4, Wo = 3
    assert cols.shape == (3 * 9, 2 * 4 * 3)
    x_pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    n, i, j = 1, 2, 1  # column (n*Ho + i)*Wo + j is the window at rows 2i.., cols 2j.. of image n
    np.testing.assert_array_equal(cols[:, (n * 4 + i) * 3 + j], x_pad[n, :, 4:7, 2:5].ravel())
    # <im2col(x), Y> = <x, col2im(Y)> for every x and Y: col2im is the exact backward of im2col.
    y = rng.standard_normal(cols.shape)
    np.testing.assert_allclose(np.sum(cols * y), np.sum(x * col2im(y, x.shape, 3, 2, 1)), rtol=1e-12)


@pytest.mark.parametrize("size", [1, 5, 8, 28, 31])
@pytest.mark.parametrize("kernel", [1, 2, 3, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_output_size_matches_torch(size, kernel, stride, padding):
    if kernel > size + 2 * padding:
        with pytest.raises(ValueError, match="larger than the padded input"):
            output_size(size, kernel, stride, padding)
        return
    out = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel), stride=stride, padding=padding)
    assert output_size(size, kernel, stride, padding) == out.shape[-1]


# --- pooling ---------------------------------------------------------------------------------

POOL_CASES = [  # (shape, kernel, stride)
    ((2, 3, 8, 8), 2, None),
    ((2, 3, 7, 9), 2, None),       # odd sizes: last row/column dropped (floor mode)
    ((2, 2, 9, 9), 3, 2),          # overlapping windows
    ((1, 4, 6, 10), (2, 3), (1, 2)),
    ((3, 1, 5, 5), 1, None),
]


@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
@pytest.mark.parametrize("seed", SEEDS)
def test_pooling_matches_torch(pool, case, seed):
    shape, k, s = case
    layer = pool(k, s)
    errors = compare_with_torch(layer, _x(shape, seed), seed=seed)
    assert set(errors) == {"out", "x"}
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("pool", [MaxPool2d, AvgPool2d])
def test_pooling_gradcheck(pool):
    gradcheck(pool(3, 2), _x((1, 2, 7, 8), 0), tol=1e-6)


def test_maxpool_ties_go_to_the_first_maximum_like_torch():
    x = np.random.default_rng(0).integers(0, 3, (2, 2, 6, 6)).astype(float)  # many ties
    layer = MaxPool2d(2)
    errors = compare_with_torch(layer, x)
    assert errors["x"] == 0.0 and errors["out"] == 0.0
    dx = layer.backward(np.ones((2, 2, 3, 3)))
    assert dx.sum() == 2 * 2 * 3 * 3 and set(np.unique(dx)) <= {0.0, 1.0}  # one winner per window


def test_stride_defaults_to_kernel_size():
    assert MaxPool2d(3).stride == (3, 3) and AvgPool2d(2, 1).stride == (1, 1)
    assert MaxPool2d(2).forward(np.zeros((1, 1, 8, 6))).shape == (1, 1, 4, 3)


def test_flatten_matches_torch():
    layer = Flatten()
    x = _x((3, 2, 4, 5), 0)
    assert layer.forward(x).shape == (3, 40)
    assert max(compare_with_torch(layer, x).values()) == 0.0


def test_small_cnn_matches_torch_end_to_end():
    """conv -> relu -> pool -> conv -> relu -> pool -> flatten -> linear, as one Sequential."""
    net = Sequential(Conv2d(1, 4, 3, padding=1, seed=0), ReLU(), MaxPool2d(2),
                     Conv2d(4, 6, 3, padding=1, seed=1), ReLU(), AvgPool2d(2),
                     Flatten(), Linear(6 * 2 * 2, 10, seed=2))
    errors = compare_with_torch(net, _x((5, 1, 8, 8), 0))
    assert {"0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias"} <= set(errors)
    assert max(errors.values()) < TOL, errors


def test_float32_is_kept_and_close_to_torch():
    layer = Conv2d(3, 4, 3, padding=1, seed=0, dtype=np.float32)
    x = _x((2, 3, 6, 6), 0).astype(np.float32)
    out = layer.forward(x)
    assert out.dtype == np.float32
    dx = layer.backward(np.ones_like(out))
    assert dx.dtype == np.float32 and layer.grads["weight"].dtype == np.float32
    assert max(compare_with_torch(layer, x).values()) < 1e-4
    for pool in (MaxPool2d(2), AvgPool2d(2)):
        assert pool.forward(x).dtype == np.float32 and pool.backward(np.ones((2, 3, 3, 3), np.float32)).dtype == np.float32


def test_same_seed_same_numbers():
    x = _x((2, 3, 6, 6), 0)
    a, b = Conv2d(3, 4, 3, seed=5), Conv2d(3, 4, 3, seed=5)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))


# --- bad input ---------------------------------------------------------------------------------


def test_conv_rejects_wrong_number_of_dimensions():
    with pytest.raises(ValueError, match=r"4-D \(N, C, H, W\).*3-D.*x\[None\]"):
        Conv2d(3, 4, 3).forward(np.zeros((3, 8, 8)))


def test_conv_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match=r"3 channel\(s\).*\(2, 1, 8, 8\).*1 channels"):
        Conv2d(3, 4, 3).forward(np.zeros((2, 1, 8, 8)))


def test_conv_rejects_kernel_larger_than_input():
    with pytest.raises(ValueError, match=r"5x5 window does not fit in the input of 3x3"):
        Conv2d(1, 1, 5).forward(np.zeros((1, 1, 3, 3)))
    assert Conv2d(1, 1, 5, padding=1).forward(np.zeros((1, 1, 3, 3))).shape == (1, 1, 1, 1)  # padding helps


@pytest.mark.parametrize("kwargs, message", [
    ({"kernel_size": 0}, "kernel_size must be a positive integer"),
    ({"kernel_size": (3, 3, 3)}, r"pair of them \(height, width\), got \(3, 3, 3\)"),
    ({"kernel_size": 2.5}, "kernel_size must be a positive integer"),
    ({"kernel_size": 3, "stride": 0}, "stride must be a positive integer"),
    ({"kernel_size": 3, "padding": -1}, "padding must be a non-negative integer"),
])
def test_conv_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2d(1, 2, **kwargs)


def test_conv_rejects_bad_channel_counts():
    with pytest.raises(ValueError, match="in_channels must be a positive integer, got 0"):
        Conv2d(0, 2, 3)


def test_backward_before_forward_and_wrong_dout():
    layer = Conv2d(1, 2, 3)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 2, 2, 2)))
    layer.forward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output \(1, 2, 2, 2\), got \(1, 2, 4, 4\)"):
        layer.backward(np.zeros((1, 2, 4, 4)))
    for pool in (MaxPool2d(2), AvgPool2d(2), Flatten()):
        with pytest.raises(RuntimeError, match="before forward"):
            pool.backward(np.zeros((1, 1, 2, 2)))
        pool.forward(np.zeros((1, 1, 4, 4)))
        with pytest.raises(ValueError, match="dout must have the shape of the forward output"):
            pool.backward(np.zeros((1, 1, 3, 3)))


def test_pool_rejects_bad_input():
    with pytest.raises(ValueError, match=r"MaxPool2d: x must be 4-D"):
        MaxPool2d(2).forward(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"AvgPool2d: the 3x3 window does not fit in the input of 2x2"):
        AvgPool2d(3).forward(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        MaxPool2d(2, stride=0)
    with pytest.raises(TypeError, match="must hold numbers"):
        MaxPool2d(2).forward(np.array([["a"]]))


def test_flatten_rejects_a_vector():
    with pytest.raises(ValueError, match="batch axis and at least one more"):
        Flatten().forward(np.zeros(5))


def test_output_size_rejects_bad_arguments():
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        output_size(28, 3, 0)
    with pytest.raises(ValueError, match="padding must be a non-negative integer, got -1"):
        output_size(28, 3, 1, -1)


def test_unflatten_matches_torch_and_lets_flat_data_in():
    layer = Unflatten((2, 3, 4))
    x = _x((5, 24), 0)
    assert layer.forward(x).shape == (5, 2, 3, 4)
    assert max(compare_with_torch(layer, x).values()) == 0.0
    with pytest.raises(ValueError, match=r"2-D \(N, 24\) to become \(N, 2, 3, 4\), got shape \(5, 25\)"):
        layer.forward(np.zeros((5, 25)))


def test_numpy_cnn_learns_the_digits_through_the_flat_training_loop():
    """Unflatten + the NumPy layers + nncourse.training.train: a real (short) training run."""
    from nncourse.data import load_digits
    from nncourse.training import train

    data = load_digits()
    net = Sequential(Unflatten((1, 8, 8)), Conv2d(1, 8, 3, padding=1, seed=0), ReLU(), MaxPool2d(2),
                     Flatten(), Linear(8 * 4 * 4, 10, seed=1)).astype(np.float32)
    history = train(net, (data.X_train[:600], data.y_train[:600]), (data.X_test, data.y_test), epochs=4,
                    optimizer="adam", lr=0.01, batch_size=32, seed=0)
    assert history.val_accuracy[-1] > 0.85 and history.train_loss[-1] < history.train_loss[0]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_pure_kernels_match_torch_autograd(case):
    """conv2d_forward -> (out, cache) and conv2d_backward(dout, cache) -> (dx, dw, db), without the layer."""
    n, c_in, h, w, c_out, k, s, p = case
    rng = np.random.default_rng(7)
    kh, kw = (k, k) if isinstance(k, int) else k
    x, weight, bias = rng.standard_normal((n, c_in, h, w)), rng.standard_normal((c_out, c_in, kh, kw)), rng.standard_normal(c_out)
    out, cache = conv2d_forward(x, weight, bias, s, p)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, weight, bias))
    out_t = F.conv2d(xt, wt, bt, stride=s, padding=p)
    out_t.backward(torch.from_numpy(dout))
    for mine, theirs in ((out, out_t), (dx, xt.grad), (dw, wt.grad), (db, bt.grad)):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(conv2d_naive(x, weight, bias, s, p), out, atol=1e-10)


# --- the fast stride-1 kernels that Conv2d runs -------------------------------------------------

# (N, C_in, H, W, C_out, kernel, padding): the stride-1 shapes of CONV_CASES and more - an odd number
# of images (a last chunk that is not full), non-square kernels and paddings, kernels as wide as the
# padded input, one row.
FAST_CASES = [(n, c, h, w, o, k, p) for n, c, h, w, o, k, s, p in CONV_CASES if s == 1] + [
    (7, 2, 5, 5, 3, 3, 2),
    (5, 3, 9, 6, 4, (3, 5), (2, 1)),
    (3, 2, 4, 11, 2, (1, 3), 0),
    (2, 3, 3, 8, 2, (3, 8), 0),
    (4, 2, 1, 9, 3, (1, 2), 0),
]


def _fast_case(case, seed=0, dtype=np.float64):
    n, c_in, h, w, c_out, k, p = case
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(seed)
    x, weight, bias = rng.standard_normal((n, c_in, h, w)), rng.standard_normal((c_out, c_in, kh, kw)), rng.standard_normal(c_out)
    ph, pw = (p, p) if isinstance(p, int) else p
    dout = rng.standard_normal((n, c_out, h + 2 * ph - kh + 1, w + 2 * pw - kw + 1))
    return [a.astype(dtype) for a in (x, weight, bias, dout)] + [p]


@pytest.mark.parametrize("case", FAST_CASES, ids=str)
@pytest.mark.parametrize("images_per_chunk", [None, 1, 2])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
def test_fast_kernels_equal_the_readable_ones(case, images_per_chunk, with_bias, threads):
    """conv2d_forward_fast / conv2d_backward_fast (flat shifts, chunks of images, the bias as a row of
    ones) compute what the readable im2col kernels compute, whatever the chunking, the batch in one
    piece or in two halves run side by side."""
    x, weight, bias, dout, p = _fast_case(case)
    bias = bias if with_bias else None
    out, cache = conv2d_forward(x, weight, bias, 1, p)
    expected = (out, *conv2d_backward(dout, cache))
    out, cache = conv2d_forward_fast(x, weight, bias, p, images_per_chunk=images_per_chunk, threads=threads)
    assert ("halves" in cache) == (threads == 2 and len(x) >= 2)
    got = (out, *conv2d_backward_fast(dout, cache))
    for name, mine, ref in zip(("out", "dx", "dw", "db"), got, expected):
        assert mine.shape == ref.shape and mine.flags.c_contiguous, name
        np.testing.assert_allclose(mine, ref, rtol=0, atol=1e-12, err_msg=name)


def test_fast_kernels_reuse_buffers_but_hand_out_new_arrays():
    """One ``work`` dict through several shapes and dtypes: the same results as fresh buffers, the
    inputs untouched, and what an earlier call returned is not overwritten by a later one."""
    work, handed_out = {}, []
    for case, dtype in [(FAST_CASES[1], np.float64), (FAST_CASES[-4], np.float64), (FAST_CASES[1], np.float32),
                        (FAST_CASES[1], np.float64)]:
        x, weight, bias, dout, p = _fast_case(case, seed=len(handed_out), dtype=dtype)
        inputs = [a.copy() for a in (x, weight, bias, dout)]
        out, cache = conv2d_forward_fast(x, weight, bias, p, work)
        results = (out, *conv2d_backward_fast(dout, cache))
        out, cache = conv2d_forward_fast(x, weight, bias, p)
        for mine, fresh in zip(results, (out, *conv2d_backward_fast(dout, cache))):
            np.testing.assert_array_equal(mine, fresh)
            assert mine.dtype == dtype
        for before, after in zip(inputs, (x, weight, bias, dout)):
            np.testing.assert_array_equal(before, after)
        handed_out.append((results, [r.copy() for r in results]))
    for results, saved in handed_out:
        for now, then in zip(results, saved):
            np.testing.assert_array_equal(now, then)


def test_conv2d_runs_the_fast_kernels_at_stride_one(monkeypatch):
    calls = []

    def spy(kernel):
        def wrapped(*args, **kwargs):
            calls.append(kernel.__name__)
            return kernel(*args, **kwargs)
        return wrapped

    for name in ("conv2d_forward_fast", "conv2d_backward_fast", "conv2d_forward", "conv2d_backward"):
        monkeypatch.setattr(nncourse.cnn, name, spy(getattr(nncourse.cnn, name)))
    x = _x((2, 3, 6, 6), 0)
    for stride in (1, 2):
        layer = Conv2d(3, 4, 3, stride=stride, padding=1)
        layer.backward(np.ones_like(layer.forward(x)))
    assert calls == ["conv2d_forward_fast", "conv2d_backward_fast", "conv2d_forward", "conv2d_backward"]


def test_conv2d_float32_at_the_benchmark_shape_matches_torch():
    """64 -> 8 images, the benchmark's channels and size: float32 throughout, PyTorch's float32 numbers."""
    layer = Conv2d(16, 32, 3, padding=1, seed=0, dtype=np.float32)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16, 28, 28)).astype(np.float32)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = layer.backward(dout)
    assert {a.dtype for a in (out, dx, *layer.grads.values())} == {np.dtype(np.float32)}
    xt = torch.from_numpy(x).requires_grad_(True)
    wt, bt = (torch.from_numpy(layer.params[k]).requires_grad_(True) for k in ("weight", "bias"))
    out_t = F.conv2d(xt, wt, bt, padding=1)
    out_t.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, out_t.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-5)
    for name, grad in (("weight", wt.grad), ("bias", bt.grad)):  # sums over 8 * 28 * 28 positions
        np.testing.assert_allclose(layer.grads[name], grad.numpy(), rtol=1e-4, atol=1e-3, err_msg=name)


def test_fast_kernels_one_work_dict_through_paddings_and_kernels():
    """Calls that share a ``work`` dict but differ in padding or kernel width can get buffers of the
    same shape; the zero border and the zeroed wrapped columns must not be assumed from the last call."""
    rng = np.random.default_rng(0)
    work = {}
    # (x shape, kernel (kh, kw), padding): the first two pad to the same 7 x 7 image, the last two
    # share Ho x Wp with kernel widths 3 and 1
    for shape, (kh, kw), p in [((2, 2, 3, 7), (3, 3), (2, 0)), ((2, 2, 7, 3), (3, 3), (0, 2)),
                               ((2, 2, 5, 5), (3, 1), 1), ((2, 2, 5, 5), (3, 3), 1)]:
        x, w, b = rng.standard_normal(shape), rng.standard_normal((3, 2, kh, kw)), rng.standard_normal(3)
        out, cache = conv2d_forward(x, w, b, 1, p)
        dout = rng.standard_normal(out.shape)
        expected = (out, *conv2d_backward(dout, cache))
        out, cache = conv2d_forward_fast(x, w, b, p, work)
        for name, mine, ref in zip(("out", "dx", "dw", "db"), (out, *conv2d_backward_fast(dout, cache)), expected):
            np.testing.assert_allclose(mine, ref, rtol=0, atol=1e-12, err_msg=f"{shape} {p}: {name}")


def test_fast_backward_of_a_stale_cache_raises():
    """Two forwards on one ``work`` dict, then the backward of the first: its buffers hold the second
    call's images, so it must refuse rather than return wrong gradients."""
    x, weight, bias, dout, p = _fast_case(FAST_CASES[1])
    work = {}
    _, first = conv2d_forward_fast(x, weight, bias, p, work)
    _, second = conv2d_forward_fast(2 * x, weight, bias, p, work)
    with pytest.raises(RuntimeError, match="refilled by a later conv2d_forward_fast"):
        conv2d_backward_fast(dout, first)
    conv2d_backward_fast(dout, second)
    conv2d_backward_fast(dout, second)  # backward twice on the latest cache is fine
    _, first = conv2d_forward_fast(x, weight, bias, p, work, threads=2)  # each half checks its own buffers
    _, second = conv2d_forward_fast(2 * x, weight, bias, p, work, threads=2)
    with pytest.raises(RuntimeError, match="refilled by a later conv2d_forward_fast"):
        conv2d_backward_fast(dout, first)
    with pytest.raises(ValueError, match="threads must be None, 1 or 2, got 4"):
        conv2d_forward_fast(x, weight, bias, p, threads=4)


def test_fast_kernels_called_from_the_background_thread_run_there_whole():
    """Two halves hand one to the background thread; called from that thread itself, waiting for it
    would wait forever: the whole batch runs there, with the readable kernels' numbers."""
    from nncourse.rnn import _background_thread

    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((8, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    halves = _background_thread().submit(conv2d_forward_fast, x, weight, None, 1, threads=2)
    out, _ = halves.result(timeout=30)
    np.testing.assert_allclose(out, conv2d_forward(x, weight, None, 1, 1)[0], rtol=1e-12, atol=1e-12)


def test_fast_kernels_never_read_what_they_do_not_write():
    """The buffers the fast kernels overwrite on every call (the forward's output rows, the padded
    input gradient with its spare image) may hold anything from before: filled with NaN between two
    calls, the second call still returns the readable kernels' numbers."""
    for case in (FAST_CASES[1], FAST_CASES[-2], (3, 2, 6, 6, 4, 3, 1)):
        x, weight, bias, dout, p = _fast_case(case)
        out, cache = conv2d_forward(x, weight, bias, 1, p)
        expected = (out, *conv2d_backward(dout, cache))
        work = {}
        conv2d_backward_fast(dout, conv2d_forward_fast(x, weight, bias, p, work, images_per_chunk=2)[1])
        for name in ("out_rows", "dx_pad"):
            work[name].fill(np.nan)
        out, cache = conv2d_forward_fast(x, weight, bias, p, work, images_per_chunk=2)
        for name, mine, ref in zip(("out", "dx", "dw", "db"), (out, *conv2d_backward_fast(dout, cache)), expected):
            np.testing.assert_allclose(mine, ref, rtol=0, atol=1e-12, err_msg=f"{case}: {name}")
