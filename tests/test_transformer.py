"""LayerNorm (kernels and layer), positional encodings, the NumPy TransformerBlock (vs PyTorch's
own encoder layer). The PyTorch GPT: test_at_scale_gpt.py."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from nncourse import Container, Sequential, compare_with_torch, gradcheck
from nncourse.transformer import (
    LayerNorm, PositionalEmbedding, SinusoidalPositionalEncoding, TransformerBlock, layernorm_backward,
    layernorm_forward, sinusoidal_positional_encoding,
)

TOL = 1e-8


def _randomise(layer, rng):
    """Random parameters everywhere (LayerNorm weights near 1, so the block stays well scaled)."""
    for name, p in layer.params.items():
        is_norm_weight = isinstance(layer, LayerNorm) and name == "weight" or name.endswith(("norm1.weight", "norm2.weight"))
        p[...] = rng.standard_normal(p.shape) * 0.5 + (1.0 if is_norm_weight else 0.0)
    return layer


# --- LayerNorm ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 5), (7, 1, 2, 3), (3,)])
def test_layernorm_matches_torch(seed, shape):
    rng = np.random.default_rng(seed)
    layer = _randomise(LayerNorm(shape[-1]), rng)
    x = rng.standard_normal(shape) * 3 + 1
    errors = compare_with_torch(layer, x, seed=seed)
    assert set(errors) == {"out", "x", "weight", "bias"} and max(errors.values()) < TOL, errors


def test_layernorm_gradcheck_normalises_and_keeps_dtype():
    rng = np.random.default_rng(3)
    layer = _randomise(LayerNorm(5), rng)
    gradcheck(layer, rng.standard_normal((3, 4, 5)), tol=1e-7)
    plain = LayerNorm(5, eps=0.0)
    out = plain.forward(rng.standard_normal((6, 5)) * 10 + 4)
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=-1), 1, atol=1e-12)
    x32 = rng.standard_normal((2, 5)).astype(np.float32)
    out32 = LayerNorm(5, dtype=np.float32).forward(x32)
    assert out32.dtype == np.float32


def test_layernorm_errors():
    layer = LayerNorm(4)
    with pytest.raises(ValueError, match="4 features in its last dimension"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="before forward"):
        LayerNorm(4).backward(np.zeros((1, 4)))
    layer.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="dout must have the shape"):
        layer.backward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="normalized_shape must be a positive integer"):
        LayerNorm(0)


# --- positional encodings -----------------------------------------------------------------------

def _pe_reference(max_len, d_model):
    """The PyTorch-tutorial construction, written independently with torch."""
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)[:, : d_model // 2]
    return pe.numpy()


@pytest.mark.parametrize("max_len,d_model", [(10, 8), (50, 16), (7, 5), (1, 2)])
def test_sinusoidal_encoding_values(max_len, d_model):
    pe = sinusoidal_positional_encoding(max_len, d_model)
    assert pe.shape == (max_len, d_model)
    np.testing.assert_allclose(pe, _pe_reference(max_len, d_model), atol=1e-12)
    np.testing.assert_array_equal(pe[0, 0::2], 0)   # sin(0)
    np.testing.assert_array_equal(pe[0, 1::2], 1)   # cos(0)


def test_sinusoidal_encoding_shift_is_a_rotation():
    """PE[pos + k] = R_k PE[pos]: for each frequency the (sin, cos) pair turns by the same angle."""
    pe = sinusoidal_positional_encoding(40, 8)
    k = 5
    freq = 10000.0 ** (-np.arange(0, 8, 2) / 8)
    for i, w in enumerate(freq):
        rotation = np.array([[np.cos(k * w), -np.sin(k * w)], [np.sin(k * w), np.cos(k * w)]])
        pairs = pe[:, 2 * i: 2 * i + 2]                    # (40, 2): (sin, cos)
        np.testing.assert_allclose(pairs[k:], pairs[:-k] @ rotation, atol=1e-12)
    # and every position gets its own code
    distances = np.linalg.norm(pe[:, None] - pe[None], axis=-1)
    assert np.all(distances[~np.eye(40, dtype=bool)] > 1e-3)


def test_positional_layers_match_torch_and_gradcheck():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 6))
    sinus = SinusoidalPositionalEncoding(9, 6)
    np.testing.assert_allclose(sinus.forward(x), x + sinusoidal_positional_encoding(9, 6)[:5])
    assert max(compare_with_torch(sinus, x).values()) < TOL
    gradcheck(sinus, x[:1, :3])
    for seed in (0, 1):
        learned = PositionalEmbedding(9, 6, seed=seed)
        errors = compare_with_torch(learned, x, seed=seed)
        assert set(errors) == {"out", "x", "weight"} and max(errors.values()) < TOL
    learned.forward(x)
    learned.backward(np.ones_like(x))
    assert np.all(learned.grads["weight"][5:] == 0)          # unused positions get no gradient
    np.testing.assert_array_equal(learned.grads["weight"][:5], 3)  # summed over the batch of 3
    gradcheck(PositionalEmbedding(4, 3, seed=2), rng.standard_normal((2, 3, 3)))


def test_positional_errors():
    with pytest.raises(ValueError, match=r"sequence length 6 is longer than max_len=4"):
        PositionalEmbedding(4, 3).forward(np.zeros((1, 6, 3)))
    with pytest.raises(ValueError, match="must be 3-D"):
        SinusoidalPositionalEncoding(4, 3).forward(np.zeros((6, 3)))
    with pytest.raises(ValueError, match="d_model must be a positive integer"):
        sinusoidal_positional_encoding(4, 0)
    with pytest.raises(ValueError, match="base must be"):
        sinusoidal_positional_encoding(4, 2, base=1.0)


# --- TransformerBlock --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n,t,e,h,ff", [(2, 5, 8, 2, 12), (1, 4, 6, 3, 24), (3, 3, 4, 1, 5)])
@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_matches_torch_encoder_layer(seed, n, t, e, h, ff, causal):
    rng = np.random.default_rng(seed)
    block = _randomise(TransformerBlock(e, h, ff_dim=ff, causal=causal, seed=seed), rng)
    x = rng.standard_normal((n, t, e))
    errors = compare_with_torch(block, x, seed=seed)  # the twin applies the causal mask itself
    assert set(errors) == {"out", "x"} | set(block.params)
    assert max(errors.values()) < TOL, errors


def test_transformer_block_twin_is_pytorchs_encoder_layer():
    block = TransformerBlock(8, 2, causal=True)
    twin = block.to_torch()
    assert isinstance(twin, torch.nn.TransformerEncoderLayer) and twin.norm_first and twin.self_attn.batch_first
    reference = torch.nn.TransformerEncoderLayer(8, 2, 32, dropout=0.0, activation="gelu", batch_first=True,
                                                 norm_first=True, dtype=torch.float64)
    assert [name for name, _ in twin.named_parameters()] == [name for name, _ in reference.named_parameters()]
    # the causal twin equals the plain layer called with the causal mask
    reference.load_state_dict(twin.state_dict())
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    torch.testing.assert_close(twin(x), reference(x, src_mask=mask, is_causal=True))


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_gradcheck(causal):
    rng = np.random.default_rng(4)
    block = _randomise(TransformerBlock(4, 2, ff_dim=6, causal=causal, seed=3), rng)
    errors = gradcheck(block, rng.standard_normal((2, 3, 4)), tol=1e-7)
    assert len(errors) == 1 + 12


def test_transformer_block_causal_does_not_look_ahead():
    rng = np.random.default_rng(5)
    block = _randomise(TransformerBlock(6, 2, causal=True), rng)
    x = rng.standard_normal((1, 5, 6))
    before = block.forward(x)
    x[0, 3] += 10.0  # change position 3
    after = block.forward(x)
    np.testing.assert_allclose(before[0, :3], after[0, :3], atol=1e-12)
    assert not np.allclose(before[0, 3:], after[0, 3:])
    assert np.all(np.triu(block.attention_weights[0], k=1) == 0)


def test_transformer_block_is_a_container_of_its_sublayers():
    block = TransformerBlock(8, 2, seed=0)
    assert isinstance(block, Container)
    assert list(block.named_children()) == ["self_attn", "linear1", "activation", "linear2", "norm1", "norm2"]
    assert block.params["norm1.weight"] is block.norm1.params["weight"]  # the child's array, not a copy
    block.eval()
    assert not block.training and not block.self_attn.training and not block.norm2.training
    block.train()
    assert block.linear1.training


def test_transformer_block_in_a_sequential_model_and_params_are_shared():
    rng = np.random.default_rng(6)
    model = Sequential(PositionalEmbedding(5, 4, seed=1), TransformerBlock(4, 2, seed=2), LayerNorm(4))
    x = rng.standard_normal((2, 5, 4))
    errors = compare_with_torch(model, x)
    assert max(errors.values()) < TOL
    block = model[1]
    block.params["linear1.weight"][...] = 0.0  # params are views of the sub-layers' arrays
    assert np.all(block.linear1.params["weight"] == 0)
    block.astype(np.float32)
    assert block.params["self_attn.in_proj_weight"].dtype == np.float32


def test_transformer_block_errors():
    block = TransformerBlock(4, 2)
    with pytest.raises(ValueError, match="must be 3-D"):
        block.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"4 features \(embed_dim\)"):
        block.forward(np.zeros((1, 3, 5)))
    with pytest.raises(RuntimeError, match="before forward"):
        TransformerBlock(4, 2).backward(np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match="divisible"):
        TransformerBlock(5, 2)


# --- the kernels and the module layout -----------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 8), (2, 3, 6)])
def test_layernorm_kernels_match_torch_autograd(shape):
    rng = np.random.default_rng(3)
    x, weight, bias = rng.standard_normal(shape), rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    dout = rng.standard_normal(shape)
    out, cache = layernorm_forward(x, weight, bias)
    dx, dweight, dbias = layernorm_backward(dout, cache)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, weight, bias))
    yt = torch.nn.functional.layer_norm(xt, shape[-1:], wt, bt, eps=1e-5)
    yt.backward(torch.from_numpy(dout))
    for mine, theirs in ((out, yt), (dx, xt.grad), (dweight, wt.grad), (dbias, bt.grad)):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), atol=1e-10)
    assert cache.x_hat.shape == shape and cache.inv_std.shape == shape[:-1] + (1,)


def test_transformer_module_does_not_import_torch_and_gpt_still_resolves():
    code = ("import sys, nncourse.transformer as t; assert 'torch' not in sys.modules; "
            "from nncourse.at_scale.gpt import GPT; assert t.GPT is GPT and t.TorchTransformerBlock.__name__ "
            "== 'TorchTransformerBlock'")
    subprocess.run([sys.executable, "-c", code], check=True)
