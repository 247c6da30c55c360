"""Every activation f and f' against PyTorch autograd (float64), and softmax / log_softmax."""
import numpy as np
import pytest
import torch

from nncourse import activations

SEEDS = [0, 1, 2]
SHAPES = [(7,), (4, 5), (2, 3, 6)]


def _inputs(shape, seed):
    """Normal inputs spread over the interesting range, plus exact kinks (0) and far tails."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=3.0, size=shape)
    flat = x.reshape(-1)  # view (N,)
    flat[:3] = [0.0, -25.0, 25.0][: flat.size]
    return x


def _torch_f_and_grad(act, x):
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = act.to_torch()(xt)
    yt.backward(torch.ones_like(yt))  # d(sum f)/dx = f'(x) elementwise
    return yt.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("name", activations.names())
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_derivative_match_torch(name, seed, shape):
    act = activations.get(name)
    x = _inputs(shape, seed)
    want_f, want_grad = _torch_f_and_grad(act, x)
    got_f, got_grad = act.forward(x), act.grad(x)
    assert got_f.shape == shape and got_grad.shape == shape
    np.testing.assert_allclose(got_f, want_f, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got_grad, want_grad, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", [n for n in activations.names() if n != "step"])
def test_derivative_matches_finite_differences(name):
    act = activations.get(name)
    x = np.random.default_rng(3).normal(scale=3.0, size=200)
    x = x[np.abs(x) > 1e-3]  # away from the kinks of relu-like functions
    eps = 1e-6
    numeric = (act.forward(x + eps) - act.forward(x - eps)) / (2 * eps)
    np.testing.assert_allclose(act.grad(x), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", activations.names())
def test_float32_stays_float32(name):
    x = np.linspace(-3, 3, 11, dtype=np.float32)
    act = activations.get(name)
    assert act.forward(x).dtype == np.float32
    assert act.grad(x).dtype == np.float32


def test_parametrised_activations_match_torch():
    x = _inputs((50,), 4)
    for act, module in [(activations.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
                        (activations.ELU(0.5), torch.nn.ELU(0.5))]:
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        module(xt).sum().backward()
        np.testing.assert_allclose(act.forward(x), module(xt).detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(act.grad(x), xt.grad.numpy(), atol=1e-12)


def test_get_by_alias_and_bad_names():
    assert activations.get("swish").name == "silu"
    assert activations.get("ReLU").name == "relu"
    relu = activations.get("relu")
    assert activations.get(relu) is relu
    with pytest.raises(ValueError, match="unknown activation 'relu6'.*known activations: .*sigmoid"):
        activations.get("relu6")
    with pytest.raises(TypeError, match="must be a string, got int"):
        activations.get(3)


def test_call_validates_input():
    with pytest.raises(TypeError, match="x must hold numbers"):
        activations.get("relu")(["a", "b"])


# --- softmax and log_softmax --------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape,axis", [((5,), -1), ((4, 6), -1), ((4, 6), 0), ((2, 3, 7), 1)])
def test_softmax_and_log_softmax_match_torch(seed, shape, axis):
    x = np.random.default_rng(seed).normal(scale=5.0, size=shape)
    xt = torch.from_numpy(x)
    np.testing.assert_allclose(activations.softmax(x, axis=axis), torch.softmax(xt, dim=axis).numpy(),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(activations.log_softmax(x, axis=axis),
                               torch.log_softmax(xt, dim=axis).numpy(), rtol=0, atol=1e-12)


def test_softmax_survives_huge_inputs_where_the_naive_formula_overflows():
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0], [1e308, 0.0, -1e308]])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
    assert np.isnan(naive).any()  # what the max-subtraction trick prevents
    s = activations.softmax(x)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, atol=1e-15)
    # Shifting every logit by the same amount changes nothing.
    np.testing.assert_allclose(s[0], activations.softmax(x[0] - 1000.0), atol=1e-15)
    np.testing.assert_allclose(s[0], torch.softmax(torch.from_numpy(x[0]), 0).numpy(), atol=1e-15)
    log_s = activations.log_softmax(x[:2])
    assert np.all(np.isfinite(log_s))
    np.testing.assert_allclose(log_s, torch.log_softmax(torch.from_numpy(x[:2]), -1).numpy(), atol=1e-12)
    assert log_s[1, 0] == pytest.approx(-2000.0)  # log of a probability exp(-2000): finite, exact


def test_softmax_gradient_matches_torch():
    x = np.random.default_rng(5).normal(size=(3, 4))
    dout = np.random.default_rng(6).normal(size=(3, 4))
    xt = torch.from_numpy(x).requires_grad_(True)
    (torch.softmax(xt, -1) * torch.from_numpy(dout)).sum().backward()
    np.testing.assert_allclose(activations.softmax_backward(activations.softmax(x), dout), xt.grad.numpy(),
                               atol=1e-12)


@pytest.mark.parametrize("base, outer, inner, shift", [("sigmoid", 1.0, 1.0, -0.5), ("sigmoid", 4.0, 1.0, -2.0),
                                                       ("tanh", 1.7159, 2 / 3, 0.0), ("relu", 2.0, 0.5, 0.25)])
def test_scaled_activation_matches_torch_and_the_chain_rule(base, outer, inner, shift):
    act = activations.Scaled(base, outer=outer, inner=inner, shift=shift)
    x = _inputs((60,), 5)
    want_f, want_grad = _torch_f_and_grad(act, x)
    np.testing.assert_allclose(act.forward(x), want_f, rtol=0, atol=1e-12)
    np.testing.assert_allclose(act.grad(x), want_grad, rtol=0, atol=1e-12)
    b = activations.get(base)
    np.testing.assert_allclose(act.forward(x), outer * b.forward(inner * x) + shift, atol=0)
    assert activations.get(act) is act  # usable wherever an activation name is


def test_scaled_sigmoids_keep_or_change_the_slope_at_zero():
    """Notebook 02 separates sigmoid's slope (1/4 at 0) from its mean (1/2 at 0)."""
    zero = np.zeros(1)
    centred = activations.Scaled("sigmoid", shift=-0.5)
    steep = activations.Scaled("sigmoid", outer=4.0, shift=-2.0)
    assert centred.forward(zero)[0] == 0.0 and centred.grad(zero)[0] == 0.25
    assert steep.forward(zero)[0] == 0.0 and steep.grad(zero)[0] == 1.0
    lecun = activations.Scaled("tanh", outer=1.7159, inner=2 / 3)
    np.testing.assert_allclose(lecun.forward(np.array([-1.0, 1.0])), [-1.0, 1.0], atol=1e-4)  # f(+-1) = +-1
    assert lecun.forward(np.float32([1.0])).dtype == np.float32


def test_scaled_bad_arguments():
    with pytest.raises(ValueError, match="outer must be a finite number"):
        activations.Scaled("tanh", outer=float("nan"))
    with pytest.raises(ValueError, match="unknown activation"):
        activations.Scaled("tanhh")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_function_matches_torch_without_overflow(dtype):
    """The plain sigmoid(x) other modules share: torch.sigmoid's values (relative precision in the
    far tails too), no overflow warning at +-800, dtype kept, scalars in -> scalars out."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(scale=10.0, size=50), [0.0, -30.0, 30.0, -800.0, 800.0, -1e30, 1e30]]).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        got = activations.sigmoid(x)
    want = torch.sigmoid(torch.from_numpy(x)).numpy()
    assert got.dtype == dtype and got.shape == x.shape
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got, want, rtol=tol, atol=0)
    assert activations.sigmoid(-800.0) == 0.0 and activations.sigmoid(800.0) == 1.0
    assert np.ndim(activations.sigmoid(0.5)) == 0
    assert activations.sigmoid(np.array([[1.0, -2.0]])).shape == (1, 2)
    np.testing.assert_allclose(activations.get("sigmoid").forward(x), got, rtol=0, atol=0)
