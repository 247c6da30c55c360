"""The GPT's KV cache (nncourse.at_scale.gpt): cached forward = full forward, generation with and
without the cache identical, errors; and flops_per_token against torch's FlopCounterMode."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from nncourse.at_scale.gpt import GPT, GPTConfig, KVCache, flops_per_token


def _gpt(block_size=12, seed=0):
    return GPT(GPTConfig(vocab_size=13, block_size=block_size, n_layer=2, n_head=2, n_embd=16, dropout=0.0),
               seed=seed).eval()


def test_cached_forward_in_pieces_equals_full_forward():
    model = _gpt().double()
    idx = torch.randint(0, 13, (3, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = model(idx)                                     # (3, 12, 13)
        cache = KVCache(2)
        pieces = [model(idx[:, :5], cache=cache), model(idx[:, 5:6], cache=cache), model(idx[:, 6:], cache=cache)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=0, atol=1e-12)
    assert len(cache) == 12 and cache.keys[1].shape == (3, 2, 12, 8)
    assert repr(cache) == "KVCache(layers=2, positions=12)"


@pytest.mark.parametrize("temperature, top_k", [(0.0, None), (1.0, None), (0.8, 3)])
def test_generate_with_and_without_cache_identical(temperature, top_k):
    model = _gpt().double()
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    # 20 new tokens: past the block size of 12, where the window slides
    with_cache = model.generate(prompt, 20, temperature=temperature, top_k=top_k, seed=3)
    without = model.generate(prompt, 20, temperature=temperature, top_k=top_k, seed=3, use_cache=False)
    assert with_cache.shape == (2, 23) and torch.equal(with_cache[:, :3], prompt)
    assert torch.equal(with_cache, without)


def test_generate_greedy_matches_argmax_of_the_full_forward():
    model = _gpt()
    out = model.generate(torch.tensor([[0, 1]]), 5, temperature=0)
    with torch.no_grad():
        for t in range(2, 7):
            assert out[0, t] == model(out[:, :t])[0, -1].argmax()


def test_generate_keeps_training_mode_and_global_rng():
    model = _gpt().train()
    state = torch.random.get_rng_state()
    model.generate(torch.tensor([[0]]), 3)
    assert model.training and torch.equal(state, torch.random.get_rng_state())


def test_cache_errors():
    model = _gpt()
    cache = KVCache(2)
    model(torch.zeros(1, 10, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="exceed the context window"):
        model(torch.zeros(1, 3, dtype=torch.long), cache=cache)
    with pytest.raises(TypeError, match=r"KVCache\(2\)"):
        model(torch.zeros(1, 3, dtype=torch.long), cache=KVCache(3))
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(torch.zeros(1, 3, dtype=torch.long), -1)
    with pytest.raises(ValueError, match="n_layer"):
        KVCache(0)


def test_flops_per_token_counts_the_matrix_products():
    config = GPTConfig(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    model = GPT(config)
    idx = torch.randint(0, 13, (2, 16), generator=torch.Generator().manual_seed(0))
    counts = flops_per_token(config)
    matrices = sum(p.numel() for name, p in model.named_parameters() if p.dim() == 2 and name != "wpe.weight")
    assert counts["weights"] == matrices                     # N: every weight matrix, the tied one once
    counter = FlopCounterMode(display=False)
    with counter:
        model.eval()(idx).sum().backward()
    weight_flops = sum(n for op, n in counter.get_flop_counts()["Global"].items() if str(op) in ("aten.mm", "aten.addmm"))
    assert weight_flops == 6 * matrices * idx.numel()        # training: 6N per token in the Linear layers
    counter = FlopCounterMode(display=False)
    with counter:   # the explicit attention path: the blocks without the read-out
        model.attention_maps(idx)
    dense_blocks = 2 * 12 * config.n_layer * config.n_embd ** 2
    assert counter.get_total_flops() == (dense_blocks + counts["attention"]) * idx.numel()
    assert counts["training"] == 3 * counts["forward"] == 3 * (counts["dense"] + counts["attention"])
    assert flops_per_token(config, 64)["attention"] == 4 * counts["attention"]
    with pytest.raises(TypeError, match="GPTConfig"):
        flops_per_token(model)
