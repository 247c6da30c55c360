"""LayerNorm, positional encodings, the NumPy TransformerBlock (vs PyTorch's own encoder layer)
and the PyTorch GPT."""
import math

import numpy as np
import pytest
import torch

from nncourse import Sequential, compare_with_torch, gradcheck
from nncourse.transformer import (
    GPT, GPTConfig, LayerNorm, gpt_optimizer, PositionalEmbedding, SinusoidalPositionalEncoding,
    TransformerBlock, sinusoidal_positional_encoding,
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


# --- the PyTorch GPT ---------------------------------------------------------------------------

def _small_gpt(seed=0, dropout=0.0):
    return GPT(GPTConfig(vocab_size=13, block_size=12, n_layer=2, n_head=2, n_embd=16, dropout=dropout), seed=seed)


def test_gpt_shapes_causality_and_seed():
    model = _small_gpt().eval()
    idx = torch.randint(0, 13, (3, 10), generator=torch.Generator().manual_seed(0))
    logits = model(idx)
    assert logits.shape == (3, 10, 13)
    changed = idx.clone()
    changed[:, 6] = (changed[:, 6] + 1) % 13
    with torch.no_grad():
        torch.testing.assert_close(model(changed)[:, :6], logits[:, :6].detach())
        assert not torch.allclose(model(changed)[:, 6:], logits[:, 6:])
    torch.testing.assert_close(_small_gpt(seed=0).state_dict()["wte.weight"], model.state_dict()["wte.weight"])
    assert not torch.equal(_small_gpt(seed=1).wte.weight, model.wte.weight)
    assert model.lm_head.weight is model.wte.weight  # tied
    # long inputs are cut to the context window
    assert model(torch.zeros(1, 20, dtype=torch.long)).shape == (1, 12, 13)


def test_gpt_seed_does_not_move_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    _small_gpt(seed=5)
    assert torch.equal(torch.rand(1), expected)


def test_gpt_explicit_attention_path_equals_fused_path():
    model = _small_gpt().double().eval()
    idx = torch.randint(0, 13, (2, 9), generator=torch.Generator().manual_seed(1))
    x = model._embed(idx)
    attn = model.blocks[0].attn
    for causal in (True, False):
        fused = attn(x, causal=causal)
        explicit, weights = attn(x, return_weights=True, causal=causal)
        torch.testing.assert_close(fused, explicit, atol=1e-12, rtol=0)
    maps = model.attention_maps(idx)
    assert maps.shape == (2, 2, 2, 9, 9)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 2, 2, 9, dtype=torch.float64))
    assert torch.all(maps.triu(diagonal=1) == 0)
    assert torch.any(model.attention_maps(idx, causal=False).triu(diagonal=1) > 0)


def test_gpt_block_equals_numpy_transformer_block():
    """The GPT block is the same computation as the from-scratch causal TransformerBlock."""
    rng = np.random.default_rng(7)
    block = _randomise(TransformerBlock(16, 2, causal=True, seed=1), rng)
    gpt = _small_gpt().double().eval()
    names = {"ln_1": "norm1", "attn.c_attn": "self_attn.in_proj", "attn.c_proj": "self_attn.out_proj",
             "ln_2": "norm2", "mlp.c_fc": "linear1", "mlp.c_proj": "linear2"}
    with torch.no_grad():
        for name, p in gpt.blocks[0].named_parameters():
            prefix, kind = name.rsplit(".", 1)
            mine = names[prefix] + ("_" if prefix == "attn.c_attn" else ".") + kind
            p.copy_(torch.from_numpy(block.params[mine]))
    x = rng.standard_normal((2, 7, 16))
    with torch.no_grad():
        out = gpt.blocks[0](torch.from_numpy(x)).numpy()
    assert np.max(np.abs(out - block.forward(x))) < TOL


@pytest.fixture
def one_thread():
    """Tiny models are overhead-bound; one thread avoids OpenMP spin-waits on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_gpt_learns_a_repeating_sequence(one_thread):
    torch.manual_seed(0)
    model = _small_gpt()
    pattern = torch.arange(13).repeat(3)[:37]
    x, y = pattern[:-1].view(3, 12), pattern[1:].view(3, 12)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 2.3 and loss.item() < 0.1  # from ~log(13) to near zero


def test_gpt_errors():
    model = _small_gpt()
    with pytest.raises(ValueError, match=r"shape \(B, T\)"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer token ids"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(vocab_size=10, n_embd=10, n_head=3)
    with pytest.raises(ValueError, match="dropout"):
        GPTConfig(vocab_size=10, dropout=1.0)
    with pytest.raises(ValueError, match="block_size must be a positive integer"):
        GPTConfig(vocab_size=10, block_size=0)


def test_gpt_optimizer_decays_matrices_only():
    model = _small_gpt()
    opt = gpt_optimizer(2e-3, weight_decay=0.05)(model.parameters())
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["betas"] == (0.9, 0.99)
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.05 and plain["weight_decay"] == 0.0 and decayed["lr"] == 2e-3
    assert all(p.dim() >= 2 for p in decayed["params"]) and all(p.dim() == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))
    assert any(p is model.wte.weight for p in decayed["params"])


def test_gpt_dropout_only_in_training():
    model = _small_gpt(dropout=0.3)
    idx = torch.randint(0, 13, (2, 8), generator=torch.Generator().manual_seed(2))
    model.train()
    assert not torch.allclose(model(idx), model(idx))  # dropout on embeddings, attention and residuals
    model.eval()
    torch.testing.assert_close(model(idx), model(idx))
    model.train()
    model.attention_maps(idx)  # explicit path in eval mode, then back to training
    assert model.training
