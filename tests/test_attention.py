"""Scaled dot-product attention and MultiHeadAttention against PyTorch autograd and finite differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nncourse import compare_with_torch, gradcheck
from nncourse.attention import (
    AttentionCache, MultiHeadAttention, attention_backward, attention_forward, causal_mask, softmax_rows,
    scaled_dot_product_attention, scaled_dot_product_attention_backward,
)
from nncourse.gradcheck import numeric_gradient, relative_error

TOL = 1e-8


def _torch_reference(q, k, v, out_grad, **kwargs):
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(tq, tk, tv, **kwargs)
    (out * torch.from_numpy(out_grad)).sum().backward()
    return out.detach().numpy(), tq.grad.numpy(), tk.grad.numpy(), tv.grad.numpy()


def _qkv(rng, lead, t_q, t_k, d, d_v):
    return (rng.standard_normal((*lead, t_q, d)), rng.standard_normal((*lead, t_k, d)),
            rng.standard_normal((*lead, t_k, d_v)))


CASES = [((2, 3), 5, 5, 4, 4), ((1,), 7, 3, 8, 2), ((), 4, 6, 3, 5), ((2, 2, 2), 3, 3, 2, 6)]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lead,t_q,t_k,d,d_v", CASES)
@pytest.mark.parametrize("kind", ["none", "causal", "bool", "additive"])
def test_sdpa_forward_and_backward_match_torch(seed, lead, t_q, t_k, d, d_v, kind):
    rng = np.random.default_rng(seed)
    q, k, v = _qkv(rng, lead, t_q, t_k, d, d_v)
    mask, torch_kwargs = None, {}
    if kind == "bool":
        mask = rng.random((t_q, t_k)) > 0.3
        mask[:, 0] = True  # every query keeps a key (the fully blocked row is tested below)
        torch_kwargs["attn_mask"] = torch.from_numpy(mask)
    elif kind == "additive":
        mask = rng.standard_normal((*lead[:1], *([1] * (len(lead) - 1)), t_q, t_k)) if lead else rng.standard_normal((t_q, t_k))
        torch_kwargs["attn_mask"] = torch.from_numpy(mask)
    elif kind == "causal":
        torch_kwargs["is_causal"] = True
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=kind == "causal")
    out_grad = rng.standard_normal(out.shape)
    dq, dk, dv = scaled_dot_product_attention_backward(out_grad, q, k, v, weights)
    t_out, t_dq, t_dk, t_dv = _torch_reference(q, k, v, out_grad, **torch_kwargs)
    assert out.shape == (*lead, t_q, d_v) and weights.shape == (*lead, t_q, t_k)
    for mine, theirs in ((out, t_out), (dq, t_dq), (dk, t_dk), (dv, t_dv)):
        assert np.max(np.abs(mine - theirs)) < TOL
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-12)


def test_sdpa_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    q, k, v = _qkv(rng, (2,), 4, 5, 3, 2)
    mask = rng.standard_normal((4, 5))
    out_grad = rng.standard_normal((2, 4, 2))

    def loss():
        return float(np.sum(scaled_dot_product_attention(q, k, v, mask=mask, causal=True)[0] * out_grad))

    _, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=True)
    grads = scaled_dot_product_attention_backward(out_grad, q, k, v, weights)
    for analytic, tensor in zip(grads, (q, k, v)):
        assert relative_error(analytic, numeric_gradient(loss, tensor)) < 1e-7


def test_custom_scale_matches_torch():
    rng = np.random.default_rng(4)
    q, k, v = _qkv(rng, (2,), 3, 3, 4, 4)
    out, weights = scaled_dot_product_attention(q, k, v, scale=0.3)
    out_grad = rng.standard_normal(out.shape)
    dq, dk, dv = scaled_dot_product_attention_backward(out_grad, q, k, v, weights, scale=0.3)
    t_out, t_dq, t_dk, t_dv = _torch_reference(q, k, v, out_grad, scale=0.3)
    assert np.max(np.abs(out - t_out)) < TOL and np.max(np.abs(dq - t_dq)) < TOL and np.max(np.abs(dk - t_dk)) < TOL


def test_causal_weights_are_lower_triangular_and_mask_helper():
    rng = np.random.default_rng(5)
    q, k, v = _qkv(rng, (3,), 6, 6, 4, 4)
    _, weights = scaled_dot_product_attention(q, k, v, causal=True)
    assert np.all(np.triu(weights, k=1) == 0)
    assert np.all(weights[:, 0, 0] == 1)  # the first position can only see itself
    np.testing.assert_array_equal(causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    np.testing.assert_array_equal(causal_mask(2, 4), [[1, 0, 0, 0], [1, 1, 0, 0]])
    # causal=True is the same as passing the causal boolean mask
    out_a, _ = scaled_dot_product_attention(q, k, v, causal=True)
    out_b, _ = scaled_dot_product_attention(q, k, v, mask=causal_mask(6))
    np.testing.assert_allclose(out_a, out_b, atol=1e-14)


def test_fully_blocked_query_gets_zero_output_not_nan():
    rng = np.random.default_rng(6)
    q, k, v = _qkv(rng, (1,), 3, 4, 2, 2)
    mask = np.ones((3, 4), dtype=bool)
    mask[1] = False
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(np.isfinite(out)) and np.all(out[:, 1] == 0) and np.all(weights[:, 1] == 0)
    dq, dk, dv = scaled_dot_product_attention_backward(np.ones_like(out), q, k, v, weights)
    assert np.all(np.isfinite(dq)) and np.all(dq[:, 1] == 0)


def test_float32_is_kept():
    rng = np.random.default_rng(7)
    q, k, v = (a.astype(np.float32) for a in _qkv(rng, (2,), 3, 3, 4, 4))
    out, weights = scaled_dot_product_attention(q, k, v, causal=True)
    assert out.dtype == np.float32 and weights.dtype == np.float32
    grads = scaled_dot_product_attention_backward(np.ones_like(out), q, k, v, weights)
    assert all(g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize("args,kwargs,error,match", [
    (((2, 3, 4), (2, 3, 5), (2, 3, 4)), {}, ValueError, "head size"),
    (((2, 3, 4), (3, 3, 4), (3, 3, 4)), {}, ValueError, "leading"),
    (((2, 3, 4), (2, 5, 4), (2, 4, 4)), {}, ValueError, "same number of positions"),
    (((4,), (4,), (4,)), {}, ValueError, "at least 2 dimensions"),
    (((2, 3, 4), (2, 5, 4), (2, 5, 4)), {"mask": np.ones((4, 4), dtype=bool)}, ValueError, "does not broadcast"),
    (((2, 3, 4), (2, 5, 4), (2, 5, 4)), {"mask": np.ones((3, 5), dtype=int)}, TypeError, "boolean"),
    (((2, 3, 4), (2, 5, 4), (2, 5, 4)), {"mask": np.full((3, 5), np.nan)}, ValueError, "NaN"),
])
def test_sdpa_errors_name_expected_and_given(args, kwargs, error, match):
    arrays = [np.zeros(shape) for shape in args]
    with pytest.raises(error, match=match):
        scaled_dot_product_attention(*arrays, **kwargs)


def test_sdpa_backward_errors():
    q = np.zeros((2, 3, 4))
    _, weights = scaled_dot_product_attention(q, q, q)
    with pytest.raises(ValueError, match=r"dout must have the shape of the attention output \(2, 3, 4\)"):
        scaled_dot_product_attention_backward(np.zeros((2, 3, 5)), q, q, q, weights)
    with pytest.raises(ValueError, match="weights must have shape"):
        scaled_dot_product_attention_backward(np.zeros((2, 3, 4)), q, q, q, weights[:, :2])


# --- MultiHeadAttention ------------------------------------------------------------------------

def _randomise(layer, rng):
    """Random weights *and* biases (PyTorch initialises the biases to zero, which would hide bugs)."""
    for p in layer.params.values():
        p[...] = rng.standard_normal(p.shape) * 0.5
    return layer


def _torch_call(causal, length, extra_mask=None):
    """nn.MultiheadAttention's masks: float -inf or boolean True mean *blocked*."""
    mask = None
    if causal:
        mask = torch.nn.Transformer.generate_square_subsequent_mask(length, dtype=torch.float64)
    if extra_mask is not None:
        blocked = torch.from_numpy(np.where(extra_mask, 0.0, -np.inf))
        mask = blocked if mask is None else mask + blocked
    return lambda m, x: m(x, x, x, need_weights=False, attn_mask=mask)[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n,t,e,h", [(2, 5, 8, 2), (3, 4, 6, 3), (1, 7, 4, 1), (2, 3, 12, 4)])
@pytest.mark.parametrize("causal", [False, True])
def test_multihead_attention_matches_torch(seed, n, t, e, h, causal):
    rng = np.random.default_rng(seed)
    layer = _randomise(MultiHeadAttention(e, h, causal=causal, seed=seed), rng)
    x = rng.standard_normal((n, t, e))
    errors = compare_with_torch(layer, x, seed=seed, torch_call=_torch_call(causal, t))
    assert set(errors) == {"out", "x", "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}
    assert max(errors.values()) < TOL, errors
    assert layer.attention_weights.shape == (n, h, t, t)


def test_multihead_attention_extra_mask_matches_torch():
    rng = np.random.default_rng(8)
    layer = _randomise(MultiHeadAttention(8, 2, causal=True), rng)
    x = rng.standard_normal((2, 5, 8))
    keep = rng.random((5, 5)) > 0.4
    keep[:, 0] = True
    forward = layer.forward
    layer.forward = lambda x_: forward(x_, mask=keep)  # compare_with_torch calls forward(x)
    errors = compare_with_torch(layer, x, torch_call=_torch_call(True, 5, keep))
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("causal", [False, True])
def test_multihead_attention_gradcheck(causal):
    rng = np.random.default_rng(9)
    layer = _randomise(MultiHeadAttention(4, 2, causal=causal, seed=1), rng)
    errors = gradcheck(layer, rng.standard_normal((2, 3, 4)), tol=1e-7)
    assert set(errors) == {"x", "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}


def test_multihead_attention_layout_init_and_twin():
    layer = MultiHeadAttention(6, 3, seed=0)
    twin = layer.to_torch()
    assert isinstance(twin, torch.nn.MultiheadAttention) and twin.batch_first
    assert {name: tuple(p.shape) for name, p in twin.named_parameters()} == \
        {name: p.shape for name, p in layer.params.items()}
    # PyTorch's initialisation: Xavier-uniform in_proj bound sqrt(6 / (E + 3E)), zero biases
    assert np.abs(layer.params["in_proj_weight"]).max() <= np.sqrt(6 / 24)
    assert np.all(layer.params["in_proj_bias"] == 0) and np.all(layer.params["out_proj.bias"] == 0)
    # same seed, same weights; another seed, other weights
    assert np.array_equal(MultiHeadAttention(6, 3, seed=0).params["in_proj_weight"], layer.params["in_proj_weight"])
    assert not np.array_equal(MultiHeadAttention(6, 3, seed=1).params["in_proj_weight"], layer.params["in_proj_weight"])


def test_multihead_attention_heads_are_independent():
    """Each head only sees its own slice of q, k, v: a head's output does not change when
    another head's projection weights do."""
    rng = np.random.default_rng(10)
    layer = _randomise(MultiHeadAttention(4, 2), rng)
    x = rng.standard_normal((1, 3, 4))
    layer.forward(x)
    before = layer._cache["merged"].copy()
    layer.params["in_proj_weight"][[2, 3, 6, 7, 10, 11]] += 1.0  # rows of head 1 in q, k and v
    layer.forward(x)
    after = layer._cache["merged"]
    np.testing.assert_array_equal(before[..., :2], after[..., :2])
    assert not np.allclose(before[..., 2:], after[..., 2:])


def test_multihead_attention_float32_is_kept():
    layer = MultiHeadAttention(4, 2, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())


def test_multihead_attention_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(6\) must be divisible by num_heads \(4\)"):
        MultiHeadAttention(6, 4)
    with pytest.raises(ValueError, match="num_heads must be a positive integer"):
        MultiHeadAttention(6, 0)
    layer = MultiHeadAttention(4, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match="must be 3-D"):
        layer.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"4 features \(embed_dim\)"):
        layer.forward(np.zeros((1, 2, 5)))
    layer.forward(np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match="dout must have the shape"):
        layer.backward(np.zeros((1, 3, 4)))


# --- the kernels the wrappers call ---------------------------------------------------------------

def test_attention_kernels_match_torch_with_an_additive_mask():
    rng = np.random.default_rng(11)
    q, k, v = _qkv(rng, (2, 3), 5, 6, 4, 3)
    mask = np.where(rng.random((5, 6)) < 0.3, -np.inf, 0.0)
    mask[:, 0] = 0.0  # every query may see key 0
    dout = rng.standard_normal((2, 3, 5, 3))
    out, cache = attention_forward(q, k, v, mask)
    assert isinstance(cache, AttentionCache) and cache.scale == pytest.approx(0.5)
    assert np.all(cache.weights[..., mask == -np.inf] == 0)
    expected = _torch_reference(q, k, v, dout, attn_mask=torch.from_numpy(mask))
    for mine, theirs in zip((out, *attention_backward(dout, cache)), expected):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)


def test_softmax_rows_blocked_row_is_zero_and_large_scores_do_not_overflow():
    weights = softmax_rows(np.array([[-np.inf, -np.inf], [800.0, -800.0]]))
    np.testing.assert_array_equal(weights, [[0.0, 0.0], [1.0, 0.0]])


@pytest.mark.parametrize("t, s, causal", [(3, 7, False), (5, 2, False), (4, 6, True)])
def test_cross_attention_matches_torch_forward_and_backward(t, s, causal):
    rng = np.random.default_rng(t * 10 + s)
    layer = MultiHeadAttention(8, 2, causal=causal, seed=1)
    layer.params["in_proj_bias"][...] = rng.standard_normal(24)       # non-zero biases: each block is checked
    x, memory = rng.standard_normal((2, t, 8)), rng.standard_normal((2, s, 8))   # decoder, encoder
    out = layer.forward(x, memory=memory)
    assert out.shape == (2, t, 8) and layer.attention_weights.shape == (2, 2, t, s)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)

    module = layer.to_torch()
    xt, mt = (torch.tensor(a, requires_grad=True) for a in (x, memory))
    mask = torch.ones(t, s, dtype=torch.bool).triu(1) if causal else None   # nn.MultiheadAttention: True = blocked
    ref = module(xt, mt, mt, need_weights=False, attn_mask=mask)[0]
    ref.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.memory_grad, mt.grad.numpy(), atol=1e-12)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(layer.grads[name], p.grad.numpy(), atol=1e-12)


def test_cross_attention_self_case_and_errors():
    rng = np.random.default_rng(0)
    layer = MultiHeadAttention(8, 2, seed=0)
    x = rng.standard_normal((2, 4, 8))
    np.testing.assert_allclose(layer.forward(x, memory=x), layer.forward(x), atol=1e-12)   # memory = x: self-attention
    layer.forward(x)
    layer.backward(np.ones_like(x))
    assert layer.memory_grad is None
    with pytest.raises(ValueError, match="memory must have the batch size of x"):
        layer.forward(x, memory=rng.standard_normal((3, 4, 8)))
    with pytest.raises(ValueError, match="memory"):
        layer.forward(x, memory=rng.standard_normal((2, 4, 6)))
