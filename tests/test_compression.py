"""nncourse.compression against PyTorch: fake quantization, int matmul bound, pruning masks,
the distillation loss and its gradient, costs."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import prune

from nncourse import compression as C


def _weights(seed, shape=(16, 24), dtype=np.float32):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1, size=shape)
    w[0] *= 8  # an outlier row
    return w.astype(dtype)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("scheme", ["affine", "symmetric"])
@pytest.mark.parametrize("seed", [0, 1])
def test_fake_quantize_per_tensor_equals_torch(bits, scheme, seed):
    x = _weights(seed) * 1.7
    qp = C.calibrate(x, bits, scheme)
    # rounding ties: put values exactly half-way between grid points, and values far outside the range
    x.flat[:12] = ((np.arange(12) - 6 + 0.5) * qp.scale).astype(np.float32)
    x.flat[12:14] = [1e3, -1e3]
    want = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), float(qp.scale), int(qp.zero_point),
                                                 qp.qmin, qp.qmax).numpy()
    got = C.fake_quantize(x, qp)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32
    assert len(np.unique(got)) <= 2 ** bits
    assert got.flat[12] == pytest.approx((qp.qmax - qp.zero_point) * float(qp.scale), rel=1e-6)  # clamped to the top of the grid


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("scheme", ["affine", "symmetric"])
@pytest.mark.parametrize("axis", [0, 1])
def test_fake_quantize_per_channel_equals_torch(bits, scheme, axis):
    x = _weights(bits + axis, shape=(6, 5, 7))
    qp = C.calibrate(x, bits, scheme, axis=axis)
    assert np.shape(qp.scale) == (x.shape[axis],)
    want = torch.fake_quantize_per_channel_affine(
        torch.from_numpy(x), torch.from_numpy(np.asarray(qp.scale, np.float32)),
        torch.from_numpy(np.asarray(qp.zero_point, np.int32)), axis, qp.qmin, qp.qmax).numpy()
    np.testing.assert_array_equal(C.fake_quantize(x, qp), want)


def test_grids_ranges_and_zero_is_exact():
    assert C.qrange(8) == (0, 255) and C.qrange(8, "symmetric") == (-128, 127) and C.qrange(2, "symmetric") == (-2, 1)
    x = np.array([0.3, 1.0, 2.5, 0.0], dtype=np.float32)  # all >= 0: the range is stretched to include 0
    qp = C.calibrate(x, 4)
    assert C.fake_quantize(x, qp)[3] == 0 and int(qp.zero_point) == 0
    q = C.quantize(x, qp)
    assert q.min() >= 0 and q.max() <= 15
    np.testing.assert_allclose(C.dequantize(q, qp), C.fake_quantize(x, qp))
    # min/max calibration: every error is at most half a step
    w = _weights(3)
    for scheme in C.SCHEMES:
        qp = C.calibrate(w, 6, scheme)
        assert np.abs(C.fake_quantize(w, qp) - w).max() <= qp.scale / 2 * (1 + 1e-5)


def test_per_channel_beats_per_tensor_with_an_outlier_row_and_percentile_clips():
    w = _weights(0)
    per_tensor = C.quantization_error(w[1:], C.calibrate(w, 4, "symmetric"))
    qp = C.calibrate(w, 4, "symmetric", axis=0)
    per_channel = float(np.sqrt(np.mean((C.fake_quantize(w, qp)[1:] - w[1:]) ** 2)))
    assert per_channel < per_tensor / 3
    x = np.random.default_rng(0).normal(size=10000).astype(np.float32)
    x[0] = 100.0
    assert C.calibrate(x, 8, "symmetric", method="percentile", percentile=99.9).scale < \
        C.calibrate(x, 8, "symmetric").scale / 10


def test_calibrate_and_quantize_errors_name_the_problem():
    with pytest.raises(ValueError, match="bits must be an integer"):
        C.calibrate(np.ones(3), 1)
    with pytest.raises(ValueError, match="scheme must be 'affine' or 'symmetric'"):
        C.qrange(8, "signed")
    with pytest.raises(ValueError, match="non-empty float array"):
        C.calibrate(np.arange(3), 8)
    with pytest.raises(ValueError, match="NaN or inf"):
        C.calibrate(np.array([1.0, np.nan]), 8)
    with pytest.raises(ValueError, match="method must be"):
        C.calibrate(np.ones(3), 8, method="mse")
    with pytest.raises(ValueError, match="3 scales for axis 0 of size 4"):
        C.fake_quantize(np.ones((4, 2), np.float32), C.calibrate(np.ones((3, 2)), 8, axis=0))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("per_channel", [False, True])
def test_int_matmul_within_the_predicted_bound(seed, per_channel):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(9, 64))
    w = rng.normal(size=(12, 64)) * rng.uniform(0.1, 3, size=(12, 1))
    a_qp = C.calibrate(a, 8, "affine")
    w_qp = C.calibrate(w, 8, "symmetric", axis=0 if per_channel else None)
    qa, qw = C.quantize(a, a_qp), C.quantize(w, w_qp)
    acc = C.int_matmul(qa, int(a_qp.zero_point), qw.astype(np.int8), w_qp.zero_point)
    assert acc.dtype == np.int32
    scale_w = np.broadcast_to(np.asarray(w_qp.scale, np.float64).reshape(-1), (12,))
    got = acc * float(a_qp.scale) * scale_w
    np.testing.assert_allclose(got, C.fake_quantize(a, a_qp) @ C.fake_quantize(w, w_qp).T, rtol=1e-5, atol=1e-5)
    bound = C.matmul_error_bound(C.fake_quantize(a, a_qp), C.fake_quantize(w, w_qp), a_qp.scale, w_qp.scale)
    err = np.abs(got - a @ w.T)
    assert (err <= bound).all() and err.max() > 0.05 * bound.max()  # the bound holds and is not absurdly loose
    np.testing.assert_allclose(C.quantized_linear(a, a_qp, qw, w_qp), got, rtol=1e-12)
    # requantized to int8 on an output grid: within half an output step more
    out = a @ w.T
    out_qp = C.calibrate(out, 8, "affine")
    q_out = C.quantized_linear(a, a_qp, qw, w_qp, out_qp=out_qp)
    assert q_out.min() >= 0 and q_out.max() <= 255
    assert (np.abs(C.dequantize(q_out, out_qp, np.float64) - out) <= bound + out_qp.scale / 2 + 1e-9).all()


def test_int_matmul_rejects_floats_and_warns_of_overflow():
    with pytest.raises(TypeError, match="integer arrays"):
        C.int_matmul(np.ones((2, 3)), 0, np.ones((2, 3), int), 0)
    big = np.full((1, 200_000), 127, dtype=np.int8)
    with pytest.raises(OverflowError, match="int32 accumulator"):
        C.int_matmul(big, 0, big, 0)


@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 0.9, 7])
@pytest.mark.parametrize("seed", [0, 1])
def test_magnitude_mask_equals_l1_unstructured(amount, seed):
    w = _weights(seed, (10, 13), np.float64)
    layer = torch.nn.Linear(13, 10).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
    prune.l1_unstructured(layer, "weight", amount=amount)
    mask = C.magnitude_mask(w, amount)
    np.testing.assert_array_equal(mask, layer.weight_mask.numpy())
    assert C.sparsity(w * mask) == pytest.approx(1 - mask.mean())


@pytest.mark.parametrize("amount", [0.25, 0.5, 3])
@pytest.mark.parametrize("n", [1, 2, np.inf])
@pytest.mark.parametrize("dim", [0, 1])
def test_structured_mask_equals_ln_structured(amount, n, dim):
    w = _weights(int(dim) + 5, (8, 3, 4), np.float64)
    param = torch.nn.Module()
    param.weight = torch.nn.Parameter(torch.from_numpy(w.copy()))
    prune.ln_structured(param, "weight", amount=amount, n=n, dim=dim)
    mask = C.structured_mask(w, amount, n=n, dim=dim)
    np.testing.assert_array_equal(mask, param.weight_mask.numpy())
    pruned = np.moveaxis(mask, dim, 0).reshape(w.shape[dim], -1)
    assert set(pruned.min(1)) <= {0.0, 1.0} and (pruned.min(1) == pruned.max(1)).all()  # whole slices


def test_pruning_amount_errors():
    with pytest.raises(ValueError, match="fraction in"):
        C.magnitude_mask(np.ones(4), 1.5)
    with pytest.raises(ValueError, match="only 4"):
        C.magnitude_mask(np.ones(4), 5)
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        C.structured_mask(np.ones((2, 2)), 0.5, dim=2)


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 10.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_distillation_loss_and_gradient_equal_torch(T, seed):
    rng = np.random.default_rng(seed)
    s, t = rng.normal(0, 3, size=(7, 10)), rng.normal(0, 3, size=(7, 10))
    loss, cache = C.distillation_loss_forward(s, t, T)
    st = torch.tensor(s, requires_grad=True)
    want = F.kl_div(F.log_softmax(st / T, -1), F.softmax(torch.tensor(t) / T, -1), reduction="batchmean") * T ** 2
    want.backward()
    assert loss == pytest.approx(float(want.detach()), rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(C.distillation_loss_backward(1.0, cache), st.grad.numpy(), atol=1e-14)
    np.testing.assert_allclose(C.distillation_loss_backward(2.5, cache), 2.5 * st.grad.numpy(), atol=1e-14)
    assert C.distillation_loss_forward(t, t, T)[0] == pytest.approx(0, abs=1e-12)


def test_distillation_errors_and_soft_targets():
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        C.distillation_loss_forward(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="temperature T must be a positive"):
        C.distillation_loss_forward(np.ones((2, 3)), np.ones((2, 3)), T=0)
    logits = np.array([[4.0, 1.0, 0.0]])
    assert C.soft_targets(logits, 5).max() < C.soft_targets(logits, 1).max()


def test_costs():
    layer = C.linear_cost(64, 32)
    assert layer == {"params": 64 * 32 + 32, "bytes": (64 * 32 + 32) * 4, "macs": 64 * 32}
    assert C.linear_cost(64, 32, weight_bits=8)["bytes"] == 64 * 32 + 32 * 4
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    cost = C.mlp_cost([64, 32, 10])
    assert cost["params"] == sum(p.numel() for p in model.parameters())
    assert cost["macs"] == 64 * 32 + 32 * 10
    assert C.mlp_cost([64, 32, 10], weight_bits=4)["bytes"] == (64 * 32 + 32 * 10) / 2 + 42 * 4
    sparse = C.mlp_cost([64, 32, 10], nonzero_fraction=0.25)
    assert sparse["macs"] == cost["macs"] / 4 and sparse["bytes"] < cost["bytes"]
    with pytest.raises(ValueError, match="at least an input and an output"):
        C.mlp_cost([5])
