"""nncourse.explain against Captum on the same NumPy model and its float64 PyTorch twin, plus the
properties the methods promise (completeness, efficiency, convergence) and their error messages."""
import numpy as np
import pytest
import torch
from captum.attr._utils.approximation_methods import approximation_parameters

from nncourse import Linear, ReLU, Sequential, Tanh
from nncourse import explain as ex
from nncourse.at_scale.explain import captum_attribute, captum_noise
from nncourse.cnn import Conv2d, Flatten, MaxPool2d, Unflatten


def small_cnn(seed=0):
    return Sequential(Unflatten((1, 6, 6)), Conv2d(1, 3, 3, padding=1, seed=seed), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(27, 8, seed=seed + 1), Tanh(), Linear(8, 4, seed=seed + 2))


def small_cnn_images(seed=0):  # the same network, taking images (N, 1, 6, 6)
    return Sequential(Conv2d(1, 3, 3, padding=1, seed=seed), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(27, 8, seed=seed + 1), Tanh(), Linear(8, 4, seed=seed + 2))


def twin(model):
    return model.to_torch().double().eval()


@pytest.fixture(params=[0, 1, 2])
def case(request):
    seed = request.param
    rng = np.random.default_rng(seed)
    model = small_cnn_images(seed)
    x = rng.normal(size=(3, 1, 6, 6))
    return model, x, seed % 4


def test_gradient_methods_match_captum(case):
    model, x, target = case
    grad_fn = ex.model_gradient(model, target)
    for ours, name in ((ex.vanilla_gradient(grad_fn, x), "gradient"), (ex.saliency(grad_fn, x), "saliency"),
                       (ex.gradient_x_input(grad_fn, x), "gradient_x_input")):
        theirs = captum_attribute(twin(model), x, target, name)
        np.testing.assert_allclose(ours, theirs, atol=1e-12, err_msg=name)
    assert np.abs(ex.vanilla_gradient(grad_fn, x)).max() > 1e-3  # not a trivially zero map


def test_smoothgrad_with_captums_noise_matches_noise_tunnel(case):
    model, x, target = case
    noise = captum_noise(x.shape, 7, 0.3, seed=5)
    ours = ex.smoothgrad(ex.model_gradient(model, target), x, noise=noise)
    theirs = captum_attribute(twin(model), x, target, "smoothgrad", n_samples=7, stdev=0.3, seed=5)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    # and it is not the plain gradient
    assert np.abs(ours - ex.vanilla_gradient(ex.model_gradient(model, target), x)).max() > 1e-3


@pytest.mark.parametrize("method", ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid",
                                    "gausslegendre"])
def test_integrated_gradients_match_captum_for_each_rule(case, method):
    model, x, target = case
    baseline = np.random.default_rng(9).normal(size=x.shape[1:]) * 0.1
    ours = ex.integrated_gradients(ex.model_gradient(model, target), x, baseline, steps=16, method=method)
    theirs = captum_attribute(twin(model), x, target, "integrated_gradients", baseline=baseline[None],
                              steps=16, ig_method=method)
    # Captum casts the rule's weights (and the Riemann nodes, torch.linspace) to float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12)
    step_sizes, alphas = approximation_parameters(method)  # Captum's own rule, its weights made float32
    float32_rule = (np.array(alphas(16)), np.array(step_sizes(16), dtype=np.float32).astype(np.float64))
    np.testing.assert_allclose(float32_rule[0], ex.ig_rule(method, 16)[0], atol=1e-7)
    np.testing.assert_allclose(float32_rule[1], ex.ig_rule(method, 16)[1], atol=1e-7)
    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as m:  # with Captum's float32 weights: the same numbers
        m.setattr(ex, "ig_rule", lambda method, steps: float32_rule)
        same = ex.integrated_gradients(ex.model_gradient(model, target), x, baseline, steps=16, method=method)
    np.testing.assert_allclose(same, theirs, rtol=0, atol=1e-14)


def test_ig_rules_integrate_polynomials():
    for method, steps, degree in (("gausslegendre", 4, 7), ("trapezoid", 2, 1), ("riemann_middle", 1 + 1, 1)):
        alphas, w = ex.ig_rule(method, steps)
        for d in range(degree + 1):
            assert np.dot(w, alphas ** d) == pytest.approx(1 / (d + 1), abs=1e-12), (method, d)
    alphas, w = ex.ig_rule("riemann_trapezoid", 10)  # Captum's: the weights sum to (n-1)/n
    assert w.sum() == pytest.approx(0.9)
    assert ex.ig_rule("trapezoid", 10)[1].sum() == pytest.approx(1.0)


def test_completeness_gap_shrinks_with_steps_and_is_tiny_for_gauss_legendre():
    model = small_cnn(0)
    x = np.random.default_rng(0).normal(size=(2, 36))
    grad_fn, score_fn = ex.model_gradient(model, 1), ex.model_score(model, 1)
    gaps = {}
    for method in ("riemann_left", "trapezoid", "gausslegendre", "riemann_trapezoid"):
        for steps in (8, 64, 256):
            attr = ex.integrated_gradients(grad_fn, x, 0.0, steps=steps, method=method)
            gaps[method, steps] = np.abs(ex.completeness_gap(score_fn, x, 0.0, attr)).max()
    delta = np.abs(score_fn(x) - score_fn(np.zeros_like(x))).max()
    assert gaps["trapezoid", 256] < gaps["trapezoid", 8]
    assert gaps["riemann_left", 256] < gaps["riemann_left", 8]
    assert gaps["gausslegendre", 256] < 1e-3 * delta
    assert gaps["trapezoid", 256] < 1e-2 * delta
    # Captum's riemann_trapezoid misses about delta/steps (its weights sum to 1 - 1/steps)
    assert gaps["riemann_trapezoid", 256] > 0.3 * delta / 256
    # a linear model: every rule is exact
    lin = Sequential(Linear(5, 3, seed=1))
    xl = np.random.default_rng(1).normal(size=(4, 5))
    for method in ("riemann_right", "trapezoid", "gausslegendre"):
        attr = ex.integrated_gradients(ex.model_gradient(lin, 2), xl, 0.5, steps=3, method=method)
        np.testing.assert_allclose(ex.completeness_gap(ex.model_score(lin, 2), xl, 0.5, attr), 0, atol=1e-12)


@pytest.mark.parametrize("window,stride", [((1, 2, 2), (1, 2, 2)), ((1, 3, 3), (1, 2, 2)), ((1, 3, 2), (1, 1, 2))])
def test_occlusion_matches_captum(case, window, stride):
    model, x, target = case
    ours = ex.occlusion(ex.model_score(model, target), x, window, stride, baseline=0.2)
    theirs = captum_attribute(twin(model), x, target, "occlusion", window=window, stride=stride, baseline=0.2)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_grad_cam_matches_captum(case):
    model, x, target = case
    scores, acts, grads = ex.layer_activations_and_gradients(model, x, target, layer=1)  # after the ReLU
    ours = ex.grad_cam(acts, grads)
    net = twin(model)
    theirs = captum_attribute(net, x, target, "grad_cam", layer=net[1])
    np.testing.assert_allclose(ours, theirs, atol=1e-12)
    np.testing.assert_allclose(scores, model.forward(x)[:, target])
    assert ours.shape == (3, 6, 6) and (ours >= 0).all()
    signed = ex.grad_cam(acts, grads, relu=False)
    np.testing.assert_allclose(signed, captum_attribute(net, x, target, "grad_cam", layer=net[1], relu=False), atol=1e-12)
    np.testing.assert_allclose(np.maximum(signed, 0), ours)
    assert ex.upsample(ours[:, ::2, ::2], (6, 6)).shape == (3, 6, 6)


def tabular_model(seed=0):
    return Sequential(Linear(4, 6, seed=seed), Tanh(), Linear(6, 2, seed=seed + 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_shapley_values_match_captum_and_are_efficient(seed):
    model = tabular_model(seed)
    rng = np.random.default_rng(seed)
    x, base = rng.normal(size=4), rng.normal(size=4)
    score_fn = ex.model_score(model, 1)
    value_fn, n = ex.coalition_value_fn(score_fn, x, base)
    phi = ex.shapley_values(value_fn, n)
    theirs = captum_attribute(twin(model), x[None], 1, "shapley", baseline=base[None])[0]
    np.testing.assert_allclose(phi, theirs, rtol=1e-6, atol=1e-8)  # Captum sums the attributions in float32
    assert phi.sum() == pytest.approx(score_fn(x[None])[0] - score_fn(base[None])[0], abs=1e-12)
    np.testing.assert_allclose(ex.kernel_shap(value_fn, n), phi, atol=1e-10)  # all coalitions: exact
    # grouped features (players = segments), against Captum's feature_mask
    segments = np.array([0, 1, 1, 2])
    vg, ng = ex.coalition_value_fn(score_fn, x, base, segments)
    grouped = ex.shapley_values(vg, ng)[segments]
    theirs = captum_attribute(twin(model), x[None], 1, "shapley", baseline=base[None], feature_mask=segments)[0]
    np.testing.assert_allclose(grouped, theirs, rtol=1e-6, atol=1e-8)
    assert not np.allclose(grouped, phi, atol=1e-3)  # grouping changes the game


def test_shapley_values_of_known_games():
    # additive game: phi = each player's own contribution; symmetric "glove" game
    w = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(ex.shapley_values(lambda m: m @ w, 3), w)
    np.testing.assert_allclose(ex.shapley_values(lambda m: m[:, 0] * m[:, 1] * 1.0, 3), [0.5, 0.5, 0.0])


def test_sampling_estimates_converge_to_exact_values():
    model = Sequential(Linear(6, 8, seed=3), Tanh(), Linear(8, 1, seed=4))
    x = np.random.default_rng(3).normal(size=6)
    value_fn, n = ex.coalition_value_fn(ex.model_score(model, 0), x, 0.0)
    exact = ex.shapley_values(value_fn, n)
    err = {}
    for k in (10, 500):
        err["perm", k] = np.mean([np.abs(ex.shapley_sampling(value_fn, n, k, seed=s) - exact).max() for s in range(3)])
        err["kernel", k] = np.mean([np.abs(ex.kernel_shap(value_fn, n, 5 * k, seed=s) - exact).max() for s in range(3)])
    assert err["perm", 500] < err["perm", 10] and err["kernel", 500] < err["kernel", 10]
    assert err["perm", 500] < 0.1 * np.abs(exact).max() + 1e-9
    assert err["kernel", 500] < 0.1 * np.abs(exact).max() + 1e-9
    # sampling keeps efficiency exactly
    assert ex.shapley_sampling(value_fn, n, 5).sum() == pytest.approx(exact.sum(), abs=1e-12)
    assert ex.kernel_shap(value_fn, n, 50).sum() == pytest.approx(exact.sum(), abs=1e-12)


def test_lime_recovers_a_linear_model():
    w = np.array([2.0, -1.0, 0.0, 0.5, 3.0])
    x = np.array([1.0, 2.0, -1.0, 4.0, 0.5])
    coef = ex.lime(lambda z: z @ w + 1.0, x, n_samples=300, baseline=0.0)
    np.testing.assert_allclose(coef, w * x, atol=1e-2)  # presence of feature i adds w_i x_i
    seg = ex.lime(lambda z: z @ w, x, n_samples=300, segments=np.array([0, 0, 1, 1, 1]))
    np.testing.assert_allclose(seg, [0.0, 0.0, 3.5, 3.5, 3.5], atol=0.01)  # segment sums of w * x: 2-2, 0+2+1.5


def test_deletion_and_insertion_curves():
    w = np.array([3.0, 1.0, 0.0, -1.0])
    x = np.ones(4)
    score_fn = lambda z: z @ w  # noqa: E731
    fr, s = ex.deletion_curve(score_fn, x, w, steps=4)
    np.testing.assert_allclose(fr, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(s, [3, 0, -1, -1, 0])
    fr, s = ex.deletion_curve(score_fn, x, w, steps=4, insertion=True)
    np.testing.assert_allclose(s, [0, 3, 4, 4, 3])
    assert ex.area_under_curve([0, 1], [1, 1]) == 1.0
    # a good ranking deletes faster than the reversed one
    good = ex.area_under_curve(*ex.deletion_curve(score_fn, x, w, steps=4))
    bad = ex.area_under_curve(*ex.deletion_curve(score_fn, x, -w, steps=4))
    assert good < bad


def test_randomize_layers_and_rank_correlation():
    model = small_cnn(0)
    clone = ex.randomize_layers(model, [ex.parameter_layers(model)[-1]], seed=1)
    assert ex.parameter_layers(model) == [1, 5, 7]
    assert not np.allclose(clone[7].params["weight"], model[7].params["weight"])
    np.testing.assert_array_equal(clone[1].params["weight"], model[1].params["weight"])
    a = np.arange(10.0)
    assert ex.rank_correlation(a, a ** 3) == pytest.approx(1.0)
    assert ex.rank_correlation(a, -a, absolute=False) == pytest.approx(-1.0)
    assert ex.rank_correlation(a, -a) == pytest.approx(1.0)
    assert ex.rank_correlation([1, 1, 2], [1, 1, 2]) == pytest.approx(1.0)  # ties


def test_model_probability_is_the_softmax():
    model = small_cnn(1)
    x = np.random.default_rng(4).normal(size=(5, 36))
    probs = np.stack([ex.model_probability(model, c)(x) for c in range(4)], axis=1)
    np.testing.assert_allclose(probs, torch.softmax(torch.from_numpy(model.forward(x)), dim=1).numpy(), atol=1e-14)


def test_model_gradient_leaves_parameter_gradients_alone():
    model = small_cnn(0)
    model.forward(np.ones((2, 36)))
    model.backward(np.ones((2, 4)))  # some parameter gradients from training
    before = {k: g.copy() for k, g in model.grads.items()}
    assert before
    ex.model_gradient(model, 0)(np.ones((2, 36)))
    for k, g in model.grads.items():
        np.testing.assert_array_equal(g, before[k])


def test_errors_name_what_was_expected():
    model = small_cnn(0)
    with pytest.raises(ValueError, match="class index in 0..3"):
        ex.model_gradient(model, 7)(np.ones((1, 36)))
    with pytest.raises(ValueError, match="method must be one of"):
        ex.ig_rule("simpson", 5)
    with pytest.raises(ValueError, match="steps >= 2"):
        ex.ig_rule("trapezoid", 1)
    with pytest.raises(ValueError, match="baseline must be a number or have shape"):
        ex.integrated_gradients(ex.model_gradient(model, 0), np.ones((2, 36)), np.ones(5))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        ex.saliency(ex.model_gradient(model, 0), np.ones(36))
    with pytest.raises(ValueError, match="does not fit"):
        ex.occlusion(ex.model_score(model, 0), np.ones((1, 36)), 40)
    with pytest.raises(ValueError, match="too many to enumerate"):
        ex.all_coalitions(30)
    with pytest.raises(ValueError, match="attribution must have x's shape"):
        ex.deletion_curve(ex.model_score(model, 0), np.ones(36), np.ones(5))
    with pytest.raises(ValueError, match="noise must have shape"):
        ex.smoothgrad(ex.model_gradient(model, 0), np.ones((2, 36)), noise=np.ones((2, 3, 5)))
