"""The PyTorch GPT of nncourse.at_scale.gpt: shapes, causality, the explicit attention path against
F.scaled_dot_product_attention, the block against the NumPy TransformerBlock, learning, AdamW groups."""
import numpy as np
import pytest
import torch

from nncourse.at_scale.gpt import GPT, GPTConfig, gpt_optimizer
from nncourse.transformer import TransformerBlock

TOL = 1e-8


def _randomise(layer, rng):
    """Random parameters everywhere (LayerNorm weights near 1, so the block stays well scaled)."""
    for name, p in layer.params.items():
        is_norm_weight = name.endswith(("norm1.weight", "norm2.weight"))
        p[...] = rng.standard_normal(p.shape) * 0.5 + (1.0 if is_norm_weight else 0.0)
    return layer


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
