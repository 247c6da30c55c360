"""RNN and LSTM from scratch vs torch.nn.RNN / torch.nn.LSTM (batch_first), BPTT vs finite differences."""
import os
import warnings

import numpy as np
import pytest
import torch

from nncourse import compare_with_torch, gradcheck
from nncourse.rnn import (GRU, LSTM, RNN, _columns, _two_halves, lstm_sequence_backward, lstm_sequence_forward,
                          lstm_step_backward, lstm_step_forward, rnn_step_backward, rnn_step_forward, sigmoid,
                          torch_outputs)

SHAPES = [(1, 1, 1, 1), (3, 5, 4, 6), (2, 41, 3, 5), (4, 12, 7, 2), (2, 60, 2, 8)]  # (N, T, D, H)
TOL = 1e-10


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_torch_forward_and_backward(cls, shape, seed):
    N, T, D, H = shape
    layer = cls(D, H, seed=seed)
    x = np.random.default_rng(seed + 10).standard_normal((N, T, D))
    errors = compare_with_torch(layer, x, seed=seed, torch_call=torch_outputs)
    assert set(errors) == {"out", "x", "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
@pytest.mark.parametrize("seed", [0, 3])
def test_numeric_gradient_check(cls, seed):
    layer = cls(3, 4, seed=seed)
    x = np.random.default_rng(seed).standard_normal((2, 5, 3))
    errors = gradcheck(layer, x, seed=seed, tol=1e-6)
    assert max(errors.values()) < 1e-6


def _torch_state(state):
    return tuple(torch.from_numpy(s.copy())[None].requires_grad_(True) for s in state)  # (1, N, H)


@pytest.mark.parametrize("seed", [0, 1])
def test_lstm_initial_and_final_state_gradients_match_torch(seed):
    N, T, D, H = 3, 7, 4, 5
    rng = np.random.default_rng(seed)
    layer = LSTM(D, H, seed=seed, forget_bias=1.0)
    x = rng.standard_normal((N, T, D))
    h0, c0 = rng.standard_normal((2, N, H))
    R, S, U = rng.standard_normal((N, T, H)), rng.standard_normal((N, H)), rng.standard_normal((N, H))

    out = layer.forward(x, state=(h0, c0))
    dx = layer.backward(R, dstate=(S, U))

    module = layer.to_torch()
    x_t = torch.from_numpy(x.copy()).requires_grad_(True)
    h0_t, c0_t = _torch_state((h0, c0))
    out_t, (hn_t, cn_t) = module(x_t, (h0_t, c0_t))
    loss = (out_t * torch.from_numpy(R)).sum() + (hn_t[0] * torch.from_numpy(S)).sum() + \
        (cn_t[0] * torch.from_numpy(U)).sum()
    loss.backward()

    np.testing.assert_allclose(out, out_t.detach().numpy(), atol=TOL)
    np.testing.assert_allclose(layer.final_state[0], hn_t[0].detach().numpy(), atol=TOL)
    np.testing.assert_allclose(layer.final_state[1], cn_t[0].detach().numpy(), atol=TOL)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), atol=TOL)
    np.testing.assert_allclose(layer.dinitial_state[0], h0_t.grad[0].numpy(), atol=TOL)
    np.testing.assert_allclose(layer.dinitial_state[1], c0_t.grad[0].numpy(), atol=TOL)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(layer.grads[name], p.grad.numpy(), atol=TOL, err_msg=name)
    # dL/dh_t at the last step is what came from the output plus what came from the final state
    np.testing.assert_allclose(layer.state_grads["h"][:, -1], R[:, -1] + S, atol=TOL)


@pytest.mark.parametrize("cls", [RNN, GRU])
def test_rnn_and_gru_initial_and_final_state_gradients_match_torch(cls):
    N, T, D, H = 2, 9, 3, 4
    rng = np.random.default_rng(5)
    layer = cls(D, H, seed=5)
    x, h0, R, S = (rng.standard_normal(s) for s in [(N, T, D), (N, H), (N, T, H), (N, H)])
    out = layer.forward(x, state=h0)
    dx = layer.backward(R, dstate=S)

    module = layer.to_torch()
    x_t = torch.from_numpy(x.copy()).requires_grad_(True)
    (h0_t,) = _torch_state((h0,))
    out_t, hn_t = module(x_t, h0_t)
    ((out_t * torch.from_numpy(R)).sum() + (hn_t[0] * torch.from_numpy(S)).sum()).backward()
    np.testing.assert_allclose(out, out_t.detach().numpy(), atol=TOL)
    np.testing.assert_allclose(layer.final_state, hn_t[0].detach().numpy(), atol=TOL)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), atol=TOL)
    np.testing.assert_allclose(layer.dinitial_state, h0_t.grad[0].numpy(), atol=TOL)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(layer.grads[name], p.grad.numpy(), atol=TOL, err_msg=name)


def _step_params(layer):
    """The kernels' W_ih, W_hh and one bias b = bias_ih + bias_hh."""
    p = layer.params
    return [p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"] + p["bias_hh_l0"]]


def _layer_grads_from_steps(dW_ih, dW_hh, db):
    return {"weight_ih_l0": dW_ih, "weight_hh_l0": dW_hh, "bias_ih_l0": db, "bias_hh_l0": db}


def test_lstm_steps_in_a_loop_equal_the_layer():
    """The teaching API (one step, forward and backward) composes into the layer's BPTT."""
    N, T, D, H = 3, 6, 2, 4
    rng = np.random.default_rng(0)
    layer = LSTM(D, H, seed=4)
    x, h0, c0, R = (rng.standard_normal(s) for s in [(N, T, D), (N, H), (N, H), (N, T, H)])
    out = layer.forward(x, (h0, c0))
    dx = layer.backward(R)

    h, c, caches, outs = h0, c0, [], []
    for t in range(T):
        h, c, cache = lstm_step_forward(x[:, t], h, c, *_step_params(layer))
        caches.append(cache)
        outs.append(h)
    np.testing.assert_allclose(np.stack(outs, axis=1), out, atol=1e-14)
    np.testing.assert_allclose(layer.gate_values["i"][:, 0], sigmoid(
        x[:, 0] @ layer.params["weight_ih_l0"][:H].T + layer.params["bias_ih_l0"][:H]
        + h0 @ layer.params["weight_hh_l0"][:H].T + layer.params["bias_hh_l0"][:H]), atol=1e-14)
    dh, dc = np.zeros((N, H)), np.zeros((N, H))
    dW_ih, dW_hh, db = 0.0, 0.0, 0.0
    dxs = [None] * T
    for t in reversed(range(T)):
        dxs[t], dh, dc, dWi, dWh, dbt = lstm_step_backward(R[:, t] + dh, dc, caches[t])
        dW_ih, dW_hh, db = dW_ih + dWi, dW_hh + dWh, db + dbt  # a weight used at every step sums its gradients
    np.testing.assert_allclose(np.stack(dxs, axis=1), dx, atol=1e-12)
    for k, g in _layer_grads_from_steps(dW_ih, dW_hh, db).items():
        np.testing.assert_allclose(g, layer.grads[k], atol=1e-12, err_msg=k)
    np.testing.assert_allclose(dh, layer.dinitial_state[0], atol=1e-12)
    np.testing.assert_allclose(dc, layer.dinitial_state[1], atol=1e-12)


def test_rnn_steps_in_a_loop_equal_the_layer():
    N, T, D, H = 2, 5, 3, 4
    rng = np.random.default_rng(1)
    layer = RNN(D, H, seed=2)
    x, h0, R = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, T, H))
    out = layer.forward(x, state=h0)
    dx = layer.backward(R)
    h, caches = h0, []
    for t in range(T):
        h, cache = rnn_step_forward(x[:, t], h, *_step_params(layer))
        caches.append(cache)
        np.testing.assert_allclose(h, out[:, t], atol=1e-14)
    dh, dW_ih, dW_hh, db = np.zeros((N, H)), 0.0, 0.0, 0.0
    for t in reversed(range(T)):
        dx_t, dh, dWi, dWh, dbt = rnn_step_backward(R[:, t] + dh, caches[t])
        np.testing.assert_allclose(dx_t, dx[:, t], atol=1e-12)
        dW_ih, dW_hh, db = dW_ih + dWi, dW_hh + dWh, db + dbt
    for k, g in _layer_grads_from_steps(dW_ih, dW_hh, db).items():
        np.testing.assert_allclose(g, layer.grads[k], atol=1e-12, err_msg=k)
    np.testing.assert_allclose(dh, layer.dinitial_state, atol=1e-12)


def test_one_lstm_step_equals_torch_lstm_cell():
    """The kernel, with PyTorch's two biases summed, is torch.nn.LSTMCell (gate order i, f, g, o)."""
    N, D, H = 3, 4, 5
    rng = np.random.default_rng(7)
    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    W_ih, W_hh, b_ih, b_hh = (p.detach().numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))
    x, h0, c0 = (rng.standard_normal(s) for s in [(N, D), (N, H), (N, H)])
    h, c, _ = lstm_step_forward(x, h0, c0, W_ih, W_hh, b_ih + b_hh)
    h_t, c_t = cell(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    np.testing.assert_allclose(h, h_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c, c_t.detach().numpy(), atol=1e-12)


def _lstm_steps_in_a_loop(x, h0, c0, W_ih, W_hh, b, dout, dh_T, dc_T):
    """The readable reference: the step kernels, forward over t, then backward over t."""
    T = x.shape[1]
    h, c, caches, hs = h0, c0, [], []
    for t in range(T):
        h, c, cache = lstm_step_forward(x[:, t], h, c, W_ih, W_hh, b)
        caches.append(cache)
        hs.append(h)
    h_T, c_T = h, c
    dh, dc = dh_T, dc_T
    dx, dh_all, dc_all = [None] * T, [None] * T, [None] * T
    dW_ih, dW_hh, db = 0.0, 0.0, 0.0
    for t in reversed(range(T)):
        dh_all[t] = dh = dout[:, t] + dh
        x_t, h_prev, c_prev, i, f, g, o, c_t, _, _ = caches[t]
        dc_all[t] = dc + dh * o * (1 - np.tanh(c_t) ** 2)  # what lstm_step_backward adds first
        dx[t], dh, dc, dWi, dWh, dbt = lstm_step_backward(dh, dc, caches[t])
        dW_ih, dW_hh, db = dW_ih + dWi, dW_hh + dWh, db + dbt
    stack = lambda parts: np.stack(parts, axis=1)  # noqa: E731  (N, T, ...)
    return {"out": stack(hs), "h_T": h_T, "c_T": c_T, "dx": stack(dx), "dh0": dh, "dc0": dc, "dW_ih": dW_ih,
            "dW_hh": dW_hh, "db": db, "dh": stack(dh_all), "dc": stack(dc_all)}


def _lstm_fast(x, h0, c0, W_ih, W_hh, b, dout, dh_T, dc_T, work=None, threads=None):
    out, cache = lstm_sequence_forward(x, h0, c0, W_ih, W_hh, b, work, threads=threads)
    dx, dh0, dc0, dW_ih, dW_hh, db, dh, dc = lstm_sequence_backward(dout, dh_T, dc_T, cache)
    return {"out": out, "h_T": out[:, -1], "c_T": _columns(cache, "cs", -1).T, "dx": dx, "dh0": dh0, "dc0": dc0,
            "dW_ih": dW_ih, "dW_hh": dW_hh, "db": db, "dh": dh.transpose(2, 0, 1), "dc": dc.transpose(2, 0, 1)}


def _lstm_case(N, T, D, H, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(H)
    W_ih, W_hh = rng.uniform(-bound, bound, (4 * H, D)), rng.uniform(-bound, bound, (4 * H, H))
    b = rng.uniform(-2, 2, 4 * H)  # gates from nearly shut to nearly open
    x, dout = 2 * rng.standard_normal((N, T, D)), rng.standard_normal((N, T, H))
    h0, c0, dh_T, dc_T = rng.standard_normal((4, N, H))
    return [a.astype(dtype) for a in (x, h0, c0, W_ih, W_hh, b, dout, dh_T, dc_T)]


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (3, 5, 4, 6), (2, 17, 3, 5), (5, 3, 7, 2), (1, 8, 2, 9)])
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_sequence_kernels_equal_the_step_kernels_in_a_loop(shape, seed):
    """The LSTM layer's fast kernels (column layout, gates reordered o, i, f, g, one exp for all four
    gates, one product for all weight gradients) compute what the readable step kernels compute."""
    case = _lstm_case(*shape, seed)
    fast, loop = _lstm_fast(*case), _lstm_steps_in_a_loop(*case)
    assert fast.keys() == loop.keys()
    for k in loop:
        assert fast[k].shape == np.shape(loop[k]), k
        np.testing.assert_allclose(fast[k], loop[k], rtol=0, atol=1e-12, err_msg=k)


def test_fast_kernels_reuse_their_buffers_across_shapes():
    """One ``work`` dict through calls of different shapes and dtypes gives what fresh buffers give."""
    work = {}
    for shape, seed, dtype in [((3, 5, 4, 6), 0, np.float64), ((2, 9, 4, 6), 1, np.float64),
                               ((3, 5, 4, 6), 2, np.float32), ((3, 5, 4, 6), 3, np.float64)]:
        case = _lstm_case(*shape, seed, dtype)
        inputs = [a.copy() for a in case]
        reused, fresh = _lstm_fast(*case, work=work), _lstm_fast(*case)
        for k in fresh:
            np.testing.assert_array_equal(reused[k], fresh[k], err_msg=k)
            assert reused[k].dtype == dtype, k
        for before, after in zip(inputs, case):
            np.testing.assert_array_equal(before, after)  # the inputs are left as they were


def test_lstm_layer_results_survive_the_next_call():
    """The layer reuses its buffers, but what it handed out (outputs, gradients, gate values, states)
    is not overwritten by the next forward and backward."""
    layer = LSTM(3, 4, seed=0)
    rng = np.random.default_rng(0)
    x1, R1 = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6, 4))
    handed_out = [layer.forward(x1), layer.final_state, layer.gate_values, layer.backward(R1), layer.grads,
                  layer.dinitial_state, layer.state_grads]
    snapshot = [{k: v.copy() for k, v in item.items()} if isinstance(item, dict) else
                tuple(v.copy() for v in item) if isinstance(item, tuple) else item.copy() for item in handed_out]
    layer.forward(10 * rng.standard_normal((2, 6, 3)))  # same shape: the same buffers, new values
    layer.backward(rng.standard_normal((2, 6, 4)))
    layer.forward(rng.standard_normal((5, 2, 3)))       # another shape: new buffers
    for item, saved in zip(handed_out, snapshot):
        pairs = [(item[k], saved[k]) for k in saved] if isinstance(saved, dict) else \
            zip(item, saved) if isinstance(saved, tuple) else [(item, saved)]
        for now, then in pairs:
            np.testing.assert_array_equal(now, then)


def test_lstm_float32_matches_torch_and_stays_float32():
    """At the benchmark's dtype: no silent float64 anywhere, and PyTorch's float32 LSTM agrees."""
    N, T, D, H = 8, 30, 16, 32
    rng = np.random.default_rng(3)
    layer = LSTM(D, H, seed=3, dtype=np.float32, forget_bias=1.0)
    x, R = rng.standard_normal((N, T, D)).astype(np.float32), rng.standard_normal((N, T, H)).astype(np.float32)
    out = layer.forward(x)
    dx = layer.backward(R)
    arrays = {"out": out, "dx": dx, **layer.grads, **layer.gate_values,
              **{f"state_grads {k}": v for k, v in layer.state_grads.items()},
              "h_T": layer.final_state[0], "c_T": layer.final_state[1],
              "dh0": layer.dinitial_state[0], "dc0": layer.dinitial_state[1]}
    assert {k: v.dtype for k, v in arrays.items()} == {k: np.float32 for k in arrays}

    module = layer.to_torch()
    x_t = torch.from_numpy(x).requires_grad_(True)
    out_t = module(x_t)[0]
    out_t.backward(torch.from_numpy(R))
    np.testing.assert_allclose(out, out_t.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), atol=1e-5)
    for name, p in module.named_parameters():  # sums over N*T = 240 terms
        np.testing.assert_allclose(layer.grads[name], p.grad.numpy(), atol=2e-4, rtol=1e-4, err_msg=name)


@pytest.mark.parametrize("dtype, scale", [(np.float32, 300), (np.float64, 3000)])
def test_lstm_saturated_gates_match_torch_without_warnings(dtype, scale):
    """Pre-activations of several hundred (float32) or thousand (float64): e^-z overflows to inf, the
    gate is exactly 0 - no NaN, no warning printed - and the result is still PyTorch's."""
    layer = LSTM(3, 4, seed=1, dtype=dtype)
    x = (scale * np.random.default_rng(1).standard_normal((2, 7, 3))).astype(dtype)
    R = np.random.default_rng(2).standard_normal((2, 7, 4)).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = layer.forward(x)
        dx = layer.backward(R)
    gates = layer.gate_values
    assert all(((gates[k] >= 0) & (gates[k] <= 1)).all() for k in "ifo") and (np.abs(gates["g"]) <= 1).all()
    assert any((gates[k] == 0).any() for k in "ifo")  # 1 / (1 + inf): the overflow happened
    module = layer.to_torch()
    x_t = torch.from_numpy(x).requires_grad_(True)
    out_t = module(x_t)[0]
    out_t.backward(torch.from_numpy(R))
    atol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, out_t.detach().numpy(), atol=atol)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), atol=atol)
    for name, p in module.named_parameters():  # dW_ih = dz x^T grows with x
        np.testing.assert_allclose(layer.grads[name], p.grad.numpy(), atol=scale * atol, err_msg=name)


def test_recurrent_loops_run_on_one_blas_thread():
    from threadpoolctl import threadpool_info, threadpool_limits

    from nncourse.rnn import _one_blas_thread

    def blas_threads():
        return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}

    with threadpool_limits(2, user_api="blas"):
        assert blas_threads() == {2}
        with _one_blas_thread():
            assert blas_threads() == {1}
        assert blas_threads() == {2}  # restored afterwards


def test_float32_is_kept_and_close_to_float64():
    layer = LSTM(3, 4, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 30, 3))
    out64 = layer.forward(x)
    out32 = layer.forward(x.astype(np.float32))
    assert out32.dtype == np.float32 and layer.backward(np.ones_like(out32)).dtype == np.float32
    assert np.abs(out32 - out64).max() < 1e-5
    assert LSTM(3, 4, dtype=np.float32).params["weight_hh_l0"].dtype == np.float32


def test_parameters_are_laid_out_like_torch():
    lstm, rnn = LSTM(3, 5, seed=0), RNN(3, 5, seed=0)
    assert {k: v.shape for k, v in GRU(3, 5).params.items()} == {
        k: tuple(p.shape) for k, p in torch.nn.GRU(3, 5, batch_first=True).named_parameters()}
    assert {k: v.shape for k, v in lstm.params.items()} == {
        k: tuple(p.shape) for k, p in torch.nn.LSTM(3, 5, batch_first=True).named_parameters()}
    assert {k: v.shape for k, v in rnn.params.items()} == {
        k: tuple(p.shape) for k, p in torch.nn.RNN(3, 5, batch_first=True).named_parameters()}
    assert lstm.num_parameters() == 4 * (5 * 3 + 5 * 5 + 2 * 5)
    bound = 1 / np.sqrt(5)
    assert all(np.abs(p).max() <= bound for p in lstm.params.values())
    shifted = LSTM(3, 5, seed=0, forget_bias=2.0)
    diff = shifted.params["bias_ih_l0"] - lstm.params["bias_ih_l0"]
    np.testing.assert_allclose(diff, np.r_[np.zeros(5), 2 * np.ones(5), np.zeros(10)])
    assert not np.array_equal(LSTM(3, 5, seed=1).params["weight_hh_l0"], lstm.params["weight_hh_l0"])
    module = lstm.to_torch()
    assert module.batch_first and isinstance(module, torch.nn.LSTM)


def test_gate_values_are_what_the_cell_used():
    layer = LSTM(2, 3, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 8, 2))
    out = layer.forward(x)
    gv = layer.gate_values
    assert all(gv[k].shape == (2, 8, 3) for k in "ifgoc")
    assert all(0 < gv[k].min() and gv[k].max() < 1 for k in "ifo")
    np.testing.assert_allclose(out, gv["o"] * np.tanh(gv["c"]), atol=1e-15)
    np.testing.assert_allclose(gv["c"][:, 1], gv["f"][:, 1] * gv["c"][:, 0] + gv["i"][:, 1] * gv["g"][:, 1],
                               atol=1e-15)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_errors_name_what_was_expected(cls):
    layer = cls(3, 4)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"3-D \(batch, time, features\) = \(N, T, 3\)"):
        layer.forward(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="3 features in its last dimension"):
        layer.forward(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="at least one time step"):
        layer.forward(np.zeros((2, 0, 3)))
    with pytest.raises(TypeError, match="numbers"):
        layer.forward(np.array([[["a"] * 3]]))
    layer.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output \(2, 5, 4\)"):
        layer.backward(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="positive integer"):
        cls(0, 4)


def test_lstm_gate_values_and_state_grads_belong_to_the_last_pass():
    layer = LSTM(3, 4)
    with pytest.raises(RuntimeError, match=r"gate_values: run forward\(x\) first"):
        layer.gate_values
    with pytest.raises(RuntimeError, match=r"state_grads: run forward\(x\) and backward\(dout\) first"):
        layer.state_grads
    layer.forward(np.ones((2, 5, 3)))
    assert {k: v.shape for k, v in layer.gate_values.items()} == {k: (2, 5, 4) for k in "ifgoc"}
    with pytest.raises(RuntimeError, match="backward"):
        layer.state_grads  # forward alone: no gradients yet
    layer.backward(np.ones((2, 5, 4)))
    assert {k: v.shape for k, v in layer.state_grads.items()} == {"h": (2, 5, 4), "c": (2, 5, 4)}
    layer.forward(np.ones((2, 5, 3)))
    with pytest.raises(RuntimeError, match="backward"):
        layer.state_grads  # those were the previous pass's


def test_state_errors():
    lstm, rnn = LSTM(3, 4), RNN(3, 4)
    x = np.zeros((2, 5, 3))
    with pytest.raises(ValueError, match=r"state must have shape \(batch, hidden_size\) = \(2, 4\), got \(4,\)"):
        rnn.forward(x, state=np.zeros(4))
    with pytest.raises(TypeError, match=r"pair \(h_0, c_0\)"):
        lstm.forward(x, state=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"state\[1\] \(c_0\) must have shape .* got \(3, 4\)"):
        lstm.forward(x, state=(np.zeros((2, 4)), np.zeros((3, 4))))
    lstm.forward(x)
    with pytest.raises(TypeError, match=r"pair \(dh_T, dc_T\)"):
        lstm.backward(np.zeros((2, 5, 4)), dstate=np.zeros((2, 4)))


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_gradient_through_time_matches_torch_jacobians(cls):
    from nncourse.rnn import gradient_through_time

    T, D, H = 9, 3, 4
    layer = cls(D, H, seed=7)
    x = np.random.default_rng(7).standard_normal((T, D))
    norms = gradient_through_time(layer, x)
    assert norms["h"].shape == (T,) and abs(norms["h"][-1] - 1.0) < 1e-12  # dh_T/dh_T = I
    module = layer.to_torch()
    x_t = torch.from_numpy(x[None])
    with torch.no_grad():
        out, state = module(x_t)
        states = [module(x_t[:, : k + 1])[1] for k in range(T)]  # the state after step k
    is_lstm = cls is LSTM
    for k in range(T - 1):
        rest = x_t[:, k + 1 :]
        h_k, c_k = states[k] if is_lstm else (states[k], None)

        def h_T_from_h(h):
            return module(rest, (h, c_k) if is_lstm else h)[0][0, -1]

        jac = torch.autograd.functional.jacobian(h_T_from_h, h_k)[:, 0, 0]  # (H, H)
        assert abs(norms["h"][k] - float(torch.linalg.matrix_norm(jac, ord=2))) < 1e-10
        if is_lstm:
            # c_k reaches h_T through c_{k+1} and through h_k = o_k tanh(c_k): the total derivative
            o_k = torch.from_numpy(layer.gate_values["o"][0, k])

            def h_T_from_c(c):
                return module(rest, (o_k * torch.tanh(c), c))[0][0, -1]

            jac_c = torch.autograd.functional.jacobian(h_T_from_c, c_k)[:, 0, 0]
            assert abs(norms["c"][k] - float(torch.linalg.matrix_norm(jac_c, ord=2))) < 1e-10
    assert norms["h"][0] < norms["h"][-2]  # at this default init the signal fades going back


def test_gru_gates_are_what_the_step_used():
    layer = GRU(2, 3, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 6, 2))
    out = layer.forward(x)
    gv = layer.gate_values
    h_prev = np.concatenate([np.zeros((2, 1, 3)), out[:, :-1]], axis=1)
    np.testing.assert_allclose(out, (1 - gv["z"]) * gv["n"] + gv["z"] * h_prev, atol=1e-15)
    assert all(0 < gv[k].min() and gv[k].max() < 1 for k in "rz")


def test_fast_backward_of_a_stale_cache_raises():
    """Two forwards on one ``work`` dict, then the backward of the first: its buffers hold the second
    call's gates, so it must refuse rather than return wrong gradients."""
    x, h0, c0, W_ih, W_hh, b, dout, dh_T, dc_T = _lstm_case(2, 4, 3, 5, seed=0)
    work = {}
    _, first = lstm_sequence_forward(x, h0, c0, W_ih, W_hh, b, work)
    _, second = lstm_sequence_forward(2 * x, h0, c0, W_ih, W_hh, b, work)
    with pytest.raises(RuntimeError, match="refilled by a later lstm_sequence_forward"):
        lstm_sequence_backward(dout, dh_T, dc_T, first)
    again = [lstm_sequence_backward(dout, dh_T, dc_T, second)[0] for _ in range(2)]  # twice on the latest: fine
    np.testing.assert_array_equal(*again)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (5, 4, 3, 6), (7, 9, 2, 3), (1, 3, 2, 4), (32, 6, 5, 16)])
@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-6), (np.float64, 1e-12)])
def test_two_halves_equal_one_thread(shape, dtype, rtol):
    """threads=2 runs the batch as two halves side by side (an odd batch: 2 and 3; N = 1: one thread) and
    gives what threads=1 gives, to rounding: the weight gradients are the two halves' sums."""
    case = _lstm_case(*shape, seed=0, dtype=dtype)
    one, two = _lstm_fast(*case, threads=1), _lstm_fast(*case, threads=2)
    for k in one:
        assert two[k].shape == one[k].shape and two[k].dtype == dtype, k
        scale = np.abs(one[k]).max()
        np.testing.assert_allclose(two[k], one[k], rtol=rtol, atol=rtol * scale, err_msg=k)
    work = {}
    _, cache = lstm_sequence_forward(*case[:6], work, threads=2)
    assert ("halves" in cache) == (shape[0] >= 2)
    _, cache = lstm_sequence_forward(*case[:6], work, threads=1)
    assert "halves" not in cache


def test_threads_choice_and_a_bad_value():
    x, h0, c0, W_ih, W_hh, b, *_ = _lstm_case(2, 3, 4, 5, seed=0)
    for bad in (0, 3, 4, "2"):
        with pytest.raises(ValueError, match="threads must be None, 1 or 2, got"):
            lstm_sequence_forward(x, h0, c0, W_ih, W_hh, b, threads=bad)
    assert not _two_halves(2, 5, None) and not _two_halves(32, 128, None)  # small batches: one thread
    assert not _two_halves(64, 128, 1) and not _two_halves(1, 128, 2) and _two_halves(2, 1, 2)
    assert _two_halves(64, 128, None) == ((os.cpu_count() or 1) >= 2)


def test_two_halves_stale_cache_raises():
    """Each half checks its own buffers: a second two-halves forward on the same ``work`` makes the
    first cache stale."""
    x, h0, c0, W_ih, W_hh, b, dout, dh_T, dc_T = _lstm_case(4, 4, 3, 5, seed=0)
    work = {}
    _, first = lstm_sequence_forward(x, h0, c0, W_ih, W_hh, b, work, threads=2)
    _, second = lstm_sequence_forward(2 * x, h0, c0, W_ih, W_hh, b, work, threads=2)
    with pytest.raises(RuntimeError, match="refilled by a later lstm_sequence_forward"):
        lstm_sequence_backward(dout, dh_T, dc_T, first)
    again = [lstm_sequence_backward(dout, dh_T, dc_T, second)[0] for _ in range(2)]
    np.testing.assert_array_equal(*again)


def test_lstm_layer_with_a_large_batch_equals_the_kernels_on_one_thread():
    """A batch large enough for two halves (on two cores): the layer's outputs, states, gate values and
    gradients are those of the one-thread kernels."""
    N, T, D, H = 64, 5, 3, 128
    assert _two_halves(N, H, None) == ((os.cpu_count() or 1) >= 2)
    layer = LSTM(D, H, seed=1)
    rng = np.random.default_rng(1)
    x, h0, c0, dout, dh_T, dc_T = (rng.standard_normal(s) for s in
                                   [(N, T, D), (N, H), (N, H), (N, T, H), (N, H), (N, H)])
    out = layer.forward(x, (h0, c0))
    dx = layer.backward(dout, (dh_T, dc_T))
    p = layer.params
    ref = _lstm_fast(x, h0, c0, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"] + p["bias_hh_l0"],
                     dout, dh_T, dc_T, threads=1)
    got = {"out": out, "h_T": layer.final_state[0], "c_T": layer.final_state[1], "dx": dx,
           "dh0": layer.dinitial_state[0], "dc0": layer.dinitial_state[1], "dW_ih": layer.grads["weight_ih_l0"],
           "dW_hh": layer.grads["weight_hh_l0"], "db": layer.grads["bias_ih_l0"], "dh": layer.state_grads["h"],
           "dc": layer.state_grads["c"]}
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-12, atol=1e-12 * np.abs(ref[k]).max(), err_msg=k)
    np.testing.assert_allclose(layer.gate_values["c"][:, -1], layer.final_state[1], rtol=0, atol=0)


@pytest.mark.parametrize("T", [1, 2, 3, 5, 9, 17])
@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-6), (np.float64, 1e-12)])
def test_backward_products_beside_the_loop_equal_those_after_it(T, dtype, rtol):
    """With a spare core, the backward computes the weight gradients and dx of the later steps on the
    background thread, an eighth of the steps at a time, while its loop goes on: the same numbers as all
    of them in one product after the loop (to rounding: the eighths' sums are added)."""
    from nncourse.rnn import _backward

    x, h0, c0, W_ih, W_hh, b, dout, dh_T, dc_T = _lstm_case(3, T, 4, 5, seed=T, dtype=dtype)
    _, cache = lstm_sequence_forward(x, h0, c0, W_ih, W_hh, b)
    after = [a.copy() for a in _backward(dout, dh_T, dc_T, cache, overlap=False)]  # dh, dc: buffers
    beside = _backward(dout, dh_T, dc_T, cache, overlap=True)
    for k, (a, b_) in enumerate(zip(after, beside)):
        assert b_.dtype == dtype, k
        np.testing.assert_allclose(b_, a, rtol=rtol, atol=rtol * np.abs(a).max(), err_msg=str(k))
