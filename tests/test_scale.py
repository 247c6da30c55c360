"""nncourse.scale: ring all-reduce, data parallelism, accumulation, loss scaling, checkpointing,
memory formulas and power laws, against the plain math and PyTorch (float64 where possible)."""
import math

import numpy as np
import pytest
import torch

from nncourse import scale


def _grads(K, shape, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for _ in range(K)]


# --- ring all-reduce ---------------------------------------------------------------------------

@pytest.mark.parametrize("K, shape", [(1, (5,)), (2, (6,)), (3, (7,)), (4, (3, 5)), (8, (100,)), (5, (2,))])
def test_ring_allreduce_equals_the_mean_on_every_worker(K, shape):
    grads = _grads(K, shape, seed=K)
    out, _ = scale.ring_allreduce(grads)
    want = np.mean(grads, axis=0)
    for o in out:
        assert o.shape == shape
        np.testing.assert_allclose(o, want, rtol=1e-12, atol=1e-12)
    summed, _ = scale.ring_allreduce(grads, average=False)
    np.testing.assert_allclose(summed[0], np.sum(grads, axis=0), atol=1e-12)


def test_ring_allreduce_leaves_the_inputs_alone():
    grads = _grads(3, (6,), 0)
    copies = [g.copy() for g in grads]
    scale.ring_allreduce(grads)
    for g, c in zip(grads, copies):
        np.testing.assert_array_equal(g, c)


@pytest.mark.parametrize("K", [2, 3, 4, 8])
def test_ring_sends_2_k_minus_1_over_k_of_the_gradient(K):
    n = 24 * K
    _, stats = scale.ring_allreduce(_grads(K, (n,), 1))
    assert stats.steps == 2 * (K - 1)
    np.testing.assert_array_equal(stats.sent, 2 * (K - 1) * n // K)
    _, ps = scale.parameter_server_allreduce(_grads(K, (n,), 1))
    assert ps.max_sent == K * n and list(ps.sent[:K]) == [n] * K
    assert stats.max_sent < ps.max_sent or K == 2 and stats.max_sent == n  # ring's busiest link < server's


def test_ring_allreduce_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        scale.ring_allreduce([np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match="at least one"):
        scale.ring_allreduce([])


# --- data parallelism and accumulation -----------------------------------------------------------

def _problem(seed, B=24, D=5, H=7, O=3):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(D, H)) * 0.5, "b1": rng.normal(size=H) * 0.1,
              "W2": rng.normal(size=(H, O)) * 0.5, "b2": np.zeros(O)}
    return params, rng.normal(size=(B, D)), rng.normal(size=(B, O))


def test_mlp_mse_gradients_match_torch_autograd():
    params, X, y = _problem(3)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    out = torch.tanh(torch.tensor(X) @ tp["W1"] + tp["b1"]) @ tp["W2"] + tp["b2"]
    (0.5 * ((out - torch.tensor(y)) ** 2).sum(1).mean()).backward()
    got = scale.mlp_mse_gradients(params, X, y)
    for k in params:
        np.testing.assert_allclose(got[k], tp[k].grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("seed, workers", [(0, 2), (1, 3), (2, 4), (3, 8)])
def test_data_parallel_sgd_equals_large_batch_sgd(seed, workers):
    params, X, y = _problem(seed)
    dp = big = params
    for _ in range(5):
        dp = scale.data_parallel_step(dp, X, y, scale.mlp_mse_gradients, lr=0.1, workers=workers)
        g = scale.mlp_mse_gradients(big, X, y)
        big = {k: big[k] - 0.1 * g[k] for k in big}
    for k in params:
        np.testing.assert_allclose(dp[k], big[k], atol=1e-12)
        assert not np.allclose(dp[k], params[k])  # it did train


def test_data_parallel_needs_equal_shards():
    params, X, y = _problem(0, B=10)
    with pytest.raises(ValueError, match="equal shards"):
        scale.data_parallel_step(params, X, y, scale.mlp_mse_gradients, lr=0.1, workers=3)


@pytest.mark.parametrize("micro", [1, 2, 5, 7])
def test_accumulation_equals_the_large_batch_even_with_unequal_micro_batches(micro):
    params, X, y = _problem(micro, B=23)
    acc = scale.accumulated_gradient(params, X, y, scale.mlp_mse_gradients, micro_batches=micro)
    full = scale.mlp_mse_gradients(params, X, y)
    for k in params:
        np.testing.assert_allclose(acc[k], full[k], atol=1e-12)


def test_plain_sum_of_micro_batch_means_is_wrong():
    params, X, y = _problem(0, B=24)
    parts = [scale.mlp_mse_gradients(params, Xk, yk) for Xk, yk in scale.shard(X, y, 4)]
    summed = sum(p["W2"] for p in parts)
    np.testing.assert_allclose(summed, 4 * scale.mlp_mse_gradients(params, X, y)["W2"], atol=1e-12)


# --- float16 and loss scaling ----------------------------------------------------------------------

def test_float16_facts():
    f = scale.float16_facts()
    assert f["max"] == 65504.0 and f["smallest_subnormal"] == pytest.approx(2**-24)
    assert f["smallest_normal"] == pytest.approx(2**-14) and f["eps"] == 2**-10
    assert np.float16(f["smallest_subnormal"] / 3) == 0  # underflow
    assert scale.float16_facts(np.float32)["max"] > 1e38


def test_underflow_fraction_and_scaling_rescues_small_gradients():
    g = np.array([1e-9, 1e-8, 1e-3, 0.0])
    assert scale.underflow_fraction(g) == pytest.approx(2 / 3)
    assert scale.underflow_fraction(g, scale=2.0**16) == 0
    assert scale.underflow_fraction(np.zeros(3)) == 0


def _torch_scaler_run(grad_sequence, init_scale, growth_interval):
    p = torch.nn.Parameter(torch.ones(len(grad_sequence[0]), dtype=torch.float32))
    opt = torch.optim.SGD([p], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=growth_interval)
    scales = []
    for g in grad_sequence:
        scales.append(scaler.get_scale())
        scaler.scale(torch.tensor(1.0))
        # the backward of a scaled loss in float16: large gradients overflow to inf
        p.grad = (torch.tensor(g, dtype=torch.float32) * scaler.get_scale()).half().float()
        scaler.step(opt)
        scaler.update()
    return scales, p.detach().numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dynamic_loss_scaler_behaves_like_torch_grad_scaler(seed):
    rng = np.random.default_rng(seed)
    seq = [rng.normal(size=4) * 10.0 ** rng.integers(-6, 3) for _ in range(30)]
    seq[3] = seq[3] * 1e6  # an overflow
    want_scales, want_p = _torch_scaler_run(seq, 2.0**14, 3)
    s = scale.DynamicLossScaler(scale=2.0**14, growth_interval=3)
    p = np.ones(4, dtype=np.float32)
    got_scales = []
    for g in seq:
        got_scales.append(s.scale)
        with np.errstate(over="ignore"):  # the overflow is the point
            scaled = (np.asarray(g, dtype=np.float32) * np.float32(s.scale)).astype(np.float16)
        s.step([p], [scaled], lr=0.1)
    assert got_scales == want_scales
    assert any(skipped for _, skipped in s.history) and len(set(got_scales)) > 2  # halved and grew
    np.testing.assert_allclose(p, want_p, rtol=1e-6, atol=1e-7)


def test_loss_scaler_skips_halves_and_grows():
    s = scale.DynamicLossScaler(scale=8.0, growth_interval=2)
    p = np.zeros(2, dtype=np.float32)
    assert not s.step([p], [np.array([np.inf, 1.0])], lr=1.0)
    assert s.scale == 4.0 and np.all(p == 0)
    assert s.step([p], [np.array([4.0, 8.0])], lr=1.0)
    np.testing.assert_array_equal(p, [-1.0, -2.0])
    s.step([p], [np.array([0.0, 0.0])], lr=1.0)
    assert s.scale == 8.0 and s.good_steps == 0
    assert not s.step([p], [np.array([np.nan, 0.0])], lr=1.0) and s.scale == 4.0


# --- activation checkpointing ----------------------------------------------------------------------

def _deep_mlp(seed, depth=16, width=6, batch=5):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(width, width)) / math.sqrt(width) for _ in range(depth)]
    return rng.normal(size=(batch, width)), weights, rng.normal(size=(batch, width))


def test_mlp_backward_matches_torch():
    x, weights, dout = _deep_mlp(0, depth=5)
    tw = [torch.tensor(w, requires_grad=True) for w in weights]
    tx = torch.tensor(x, requires_grad=True)
    h = tx
    for w in tw:
        h = torch.tanh(h @ w)
    (h * torch.tensor(dout)).sum().backward()
    dx, dWs = scale.mlp_backward(dout, scale.mlp_forward(x, weights), weights)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-12)
    for a, b in zip(dWs, tw):
        np.testing.assert_allclose(a, b.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("depth, segment", [(16, 4), (16, 1), (16, 16), (10, 3), (9, 4)])
def test_checkpointing_gives_equal_gradients_with_less_memory(depth, segment):
    x, weights, dout = _deep_mlp(depth, depth=depth)
    plain = scale.MemoryMeter()
    hs = scale.mlp_forward(x, weights, plain)
    dx, dWs = scale.mlp_backward(dout, hs, weights)
    meter = scale.MemoryMeter()
    out, dx2, dWs2, evals = scale.checkpointed_mlp_gradients(x, weights, dout, segment=segment, meter=meter)
    np.testing.assert_allclose(out, hs[-1], atol=1e-14)
    np.testing.assert_allclose(dx2, dx, atol=1e-12)
    for a, b in zip(dWs, dWs2):
        np.testing.assert_allclose(a, b, atol=1e-12)
    assert evals == 2 * depth and meter.current == 0
    B, W = x.shape
    assert plain.peak == scale.mlp_activation_elements(B, W, depth)
    assert meter.peak == scale.mlp_activation_elements(B, W, depth, segment)
    if 1 < segment < depth:
        assert meter.peak < plain.peak


def test_sqrt_depth_segments_minimise_memory():
    depth = 64
    peaks = {s: scale.mlp_activation_elements(1, 1, depth, s) for s in range(1, depth + 1)}
    assert min(peaks.values()) == peaks[8] == 16 and peaks[1] == peaks[64] == 65  # sqrt(64) segments


def test_segment_must_be_positive():
    x, weights, dout = _deep_mlp(0, depth=3)
    with pytest.raises(ValueError, match="positive"):
        scale.checkpointed_mlp_gradients(x, weights, dout, segment=0)


# --- memory formulas, power laws, cost -------------------------------------------------------------

def test_training_memory_mixed_precision_adam_is_16_bytes_per_parameter():
    m = scale.MODELS[2]
    mem = scale.training_memory(m, precision="bf16", optimizer="adam")
    assert mem["weights"] + mem["gradients"] + mem["optimizer"] == 16 * m.params
    fp32 = scale.training_memory(m, precision="fp32", optimizer="sgd")
    assert fp32["optimizer"] == 0 and fp32["weights"] == 4 * m.params
    z = [scale.training_memory(m, zero_stage=k, gpus=8) for k in range(4)]
    assert z[1]["optimizer"] == z[0]["optimizer"] / 8 and z[1]["gradients"] == z[0]["gradients"]
    assert z[2]["gradients"] == z[0]["gradients"] / 8 and z[3]["weights"] == z[0]["weights"] / 8
    ck = scale.training_memory(m, checkpointing=True, batch=4)
    assert ck["activations"] < scale.training_memory(m, batch=4)["activations"] / 5
    assert scale.training_memory(m, batch=4)["activations"] == 4 * mem["activations"]
    with pytest.raises(ValueError, match="precision"):
        scale.training_memory(m, precision="fp8")


def test_model_parameter_counts_are_close_to_published_ones():
    assert scale.MODELS[0].params == pytest.approx(124e6, rel=0.05)
    assert scale.MODELS[1].params == pytest.approx(1.56e9, rel=0.05)
    assert scale.MODELS[2].params == pytest.approx(6.7e9, rel=0.1)


@pytest.mark.parametrize("a, alpha", [(5.0, 0.3), (2.0, 0.076), (100.0, 1.5)])
def test_fit_power_law_recovers_the_exponent(a, alpha):
    x = np.logspace(3, 8, 9)
    rng = np.random.default_rng(0)
    y = a * x**-alpha * np.exp(rng.normal(0, 0.01, size=x.size))
    a_fit, alpha_fit = scale.fit_power_law(x, y)
    assert alpha_fit == pytest.approx(alpha, abs=0.01) and a_fit == pytest.approx(a, rel=0.2)
    with pytest.raises(ValueError, match="positive"):
        scale.fit_power_law([1, 2], [1, -1])


def test_compute_cost_for_gpt3():
    flops = scale.training_flops(175e9, 300e9)
    assert flops == pytest.approx(3.15e23, rel=0.01)  # Brown et al. 2020: 3.14e23
    cost = scale.compute_cost(flops, peak_flops=312e12, utilization=0.5, gpu_watts=400, pue=1.1,
                              kg_co2_per_kwh=0.429)
    assert cost["gpu_hours"] == pytest.approx(flops / 156e12 / 3600)
    assert cost["kwh"] == pytest.approx(cost["gpu_hours"] * 0.44)
    with pytest.raises(ValueError, match="fraction"):
        scale.compute_cost(1.0, peak_flops=1, utilization=2, gpu_watts=1, pue=1, kg_co2_per_kwh=1)
