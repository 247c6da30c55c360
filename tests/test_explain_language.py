"""Attributions for a language model (notebook 14, sections 11-12): integrated gradients on the
token embeddings of the course's GPT against Captum's LayerIntegratedGradients, completeness,
the attention-replacement hook, the Jensen-Shannon divergence, and the errors."""
import numpy as np
import pytest
import torch
from captum.attr import LayerIntegratedGradients

from nncourse import explain as ex
from nncourse.at_scale.explain import (
    captum_layer_integrated_gradients, embedding_gradient_fn, logits_with_attention, token_embeddings,
)
from nncourse.at_scale.gpt import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

T = 10


@pytest.fixture(scope="module")
def gpt():
    config = GPTConfig(vocab_size=12, block_size=T, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    model = GPT(config, seed=3).double().eval()
    with torch.no_grad():  # weights larger than at initialisation, so the attention is far from uniform
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(8.0)
    return model


IDS = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
BASE = np.zeros(T, dtype=np.int64)


def test_embedding_gradient_fn_is_the_model_with_its_own_embeddings_and_its_gradient(gpt):
    grad_fn = embedding_gradient_fn(gpt, IDS, 7)
    e = token_embeddings(gpt, IDS)                                         # (1, T, C)
    assert e.shape == (1, T, 16)
    scores, grads = grad_fn(np.concatenate([e, 0.5 * e]))
    with torch.no_grad():
        assert np.isclose(scores[0], gpt(torch.from_numpy(IDS)[None])[0, -1, 7].item(), atol=1e-12)
    # centred differences on a few coordinates (float64)
    h = 1e-6
    for t, c in [(0, 0), (4, 7), (T - 1, 15)]:
        plus, minus = e.copy(), e.copy()
        plus[0, t, c] += h
        minus[0, t, c] -= h
        numeric = (grad_fn(plus)[0][0] - grad_fn(minus)[0][0]) / (2 * h)
        assert np.isclose(grads[0, t, c], numeric, rtol=1e-5, atol=1e-8)
    # the hook is removed afterwards: the model is itself again
    with torch.no_grad():
        assert torch.allclose(gpt(torch.from_numpy(IDS)[None]), gpt.lm_head(gpt.ln_f(gpt.blocks[1](gpt.blocks[0](
            gpt.wte(torch.from_numpy(IDS)[None]) + gpt.wpe(torch.arange(T)))))))


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid", "riemann_middle"])
def test_integrated_gradients_on_embeddings_match_captum_layer_integrated_gradients(gpt, method):
    target, steps = 5, 24
    grad_fn = embedding_gradient_fn(gpt, IDS, target)
    ours = ex.integrated_gradients(grad_fn, token_embeddings(gpt, IDS), token_embeddings(gpt, BASE),
                                   steps=steps, method=method)
    theirs, _ = captum_layer_integrated_gradients(gpt, IDS, target, BASE, steps=steps, method=method)
    # Captum rounds the rule's weights and nodes to float32
    assert np.abs(ours - theirs).max() < 1e-6 * np.abs(ours).max()
    # and the glue is Captum itself: the same call by hand
    lig = LayerIntegratedGradients(lambda idx: gpt(idx)[:, -1], gpt.wte)
    direct = lig.attribute(torch.from_numpy(IDS)[None], baselines=torch.from_numpy(BASE)[None], target=target,
                           n_steps=steps, method=method)
    assert np.allclose(theirs, direct.detach().numpy(), atol=1e-12)


def test_completeness_on_embeddings(gpt):
    target = 2
    grad_fn = embedding_gradient_fn(gpt, IDS, target)
    e, e0 = token_embeddings(gpt, IDS), token_embeddings(gpt, BASE)
    score = ex.as_score_fn(grad_fn)
    delta = score(e)[0] - score(e0)[0]
    assert abs(delta) > 0.1                                                # something to attribute
    gaps = [abs(ex.completeness_gap(score, e, e0, ex.integrated_gradients(grad_fn, e, e0, steps=n))[0]) for n in (2, 64)]
    assert gaps[1] < 1e-6 * abs(delta) and gaps[1] < gaps[0]
    _, captum_delta = captum_layer_integrated_gradients(gpt, IDS, target, BASE, steps=64)
    assert abs(captum_delta[0]) < 1e-5 * abs(delta)
    # a position whose character equals the baseline's gets exactly 0
    ids = IDS.copy()
    ids[2] = 0
    per_char = ex.integrated_gradients(embedding_gradient_fn(gpt, ids, target), token_embeddings(gpt, ids), e0,
                                       steps=8)[0].sum(axis=1)
    assert per_char[2] == 0.0 and np.abs(per_char).max() > 0


def test_occlusion_of_single_characters_is_the_logit_drop(gpt):
    def logit(batch):
        with torch.no_grad():
            return gpt(torch.from_numpy(np.asarray(batch).astype(np.int64)))[:, -1, 4].numpy()

    occ = ex.occlusion(logit, IDS[None], window=(1,), baseline=0)[0]
    for t in (0, 5, T - 1):
        replaced = IDS.copy()
        replaced[t] = 0
        assert np.isclose(occ[t], logit(IDS[None])[0] - logit(replaced[None])[0], atol=1e-12)


def test_logits_with_attention_own_weights_give_the_model_and_other_weights_change_it(gpt):
    ids = torch.from_numpy(np.stack([IDS, IDS[::-1].copy()]))
    maps = gpt.attention_maps(ids)                                         # (layers, B, nh, T, T)
    with torch.no_grad():
        expected = gpt(ids)
    for layer in range(2):
        assert torch.allclose(logits_with_attention(gpt, ids, layer, maps[layer]), expected, atol=1e-10)
    uniform = torch.tril(torch.ones(T, T, dtype=torch.float64))
    uniform = (uniform / uniform.sum(1, keepdim=True)).expand(2, 2, T, T)
    changed = logits_with_attention(gpt, ids, 0, uniform)
    assert (changed - expected).abs().max() > 1e-3
    # changing only the last row of the last layer changes only the last position's logits
    new = maps[1].clone()
    new[:, :, -1] = 1.0 / T
    out = logits_with_attention(gpt, ids, 1, new)
    assert torch.allclose(out[:, :-1], expected[:, :-1], atol=1e-10) and (out[:, -1] - expected[:, -1]).abs().max() > 1e-4
    with torch.no_grad():                                                  # the hook is gone afterwards
        assert torch.equal(gpt(ids), expected)


def test_js_divergence_values():
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    q = np.array([[0.0, 0.0, 1.0], [0.2, 0.3, 0.5]])
    d = ex.js_divergence(p, q)
    assert np.allclose(d, [np.log(2), 0.0], atol=1e-12)
    rng = np.random.default_rng(0)
    a, b = rng.dirichlet(np.ones(6), size=5), rng.dirichlet(np.ones(6), size=5)
    from scipy.spatial.distance import jensenshannon
    assert np.allclose(ex.js_divergence(a, b), jensenshannon(a, b, axis=1) ** 2, atol=1e-12)
    assert np.allclose(ex.js_divergence(a, b), ex.js_divergence(b, a))


def test_errors(gpt):
    with pytest.raises(ValueError, match="same shape"):
        ex.js_divergence(np.ones(3) / 3, np.ones(4) / 4)
    with pytest.raises(ValueError, match="probability distributions"):
        ex.js_divergence(np.array([0.5, 0.6]), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="integer token ids"):
        token_embeddings(gpt, IDS.astype(float))
    with pytest.raises(ValueError, match="one sequence"):
        embedding_gradient_fn(gpt, np.stack([IDS, IDS]), 0)
    with pytest.raises(ValueError, match=r"\(M, T=10, C\)"):
        embedding_gradient_fn(gpt, IDS, 0)(np.zeros((1, 9, 16)))
    with pytest.raises(ValueError, match="baseline_ids must have the shape"):
        captum_layer_integrated_gradients(gpt, IDS, 0, BASE[:5])
    with pytest.raises(ValueError, match=r"weights must have shape \(B, nh, T, T\)"):
        logits_with_attention(gpt, IDS, 0, torch.ones(1, 2, T, T - 1))


def test_show_text_attributions_draws_one_cell_per_character():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nncourse.widgets.explain import show_text_attributions

    fig, ax = plt.subplots()
    try:
        show_text_attributions(ax, "ab c\n", {"IG": [1.0, -2.0, 0.0, 0.5, 0.0], "occlusion": np.zeros(5)}, predicted="d")
        image = ax.images[0].get_array()
        assert image.shape == (2, 5)
        assert np.allclose(image[0], [0.5, -1.0, 0.0, 0.25, 0.0]) and np.allclose(image[1], 0.0)  # each row scaled alone
        shown = [t.get_text() for t in ax.texts]
        assert shown[:5] == ["a", "b", "␣", "c", "⏎"] and "'d'" in ax.get_title()
        with pytest.raises(ValueError, match="one value per character"):
            show_text_attributions(ax, "abc", {"IG": [1.0, 2.0]})
    finally:
        plt.close(fig)
