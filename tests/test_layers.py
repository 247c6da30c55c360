"""The layer protocol: every layer's forward, dx and parameter gradients equal PyTorch autograd
through ``to_torch()`` (float64, random shapes, several seeds) and pass the numeric check."""
import numpy as np
import pytest
import torch

import nncourse
from nncourse import activations
from nncourse.gradcheck import compare_with_torch, gradcheck

TOL = 1e-8
SEEDS = [0, 1, 2]


def random_shape(rng, last):
    """A random batch shape (...) + (last,): 1 to 3 leading dims."""
    lead = tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(1, 4)))
    return lead + (last,)


def assert_matches_torch(layer, x, seed=0):
    errors = compare_with_torch(layer, x, seed=seed)
    worst = max(errors.values())
    assert worst < TOL, errors
    return errors


@pytest.mark.parametrize("seed", SEEDS)
def test_linear_matches_torch_and_gradcheck(seed):
    rng = np.random.default_rng(seed)
    n_in, n_out = (int(v) for v in rng.integers(1, 9, size=2))
    layer = nncourse.Linear(n_in, n_out, seed=seed)
    x = rng.standard_normal(random_shape(rng, n_in))
    errors = assert_matches_torch(layer, x, seed)
    assert set(errors) == {"out", "x", "weight", "bias"}
    assert max(gradcheck(layer, x, seed=seed).values()) < 1e-6


def test_linear_without_bias_and_pytorch_init_range():
    layer = nncourse.Linear(16, 4, bias=False, seed=3)
    assert set(layer.params) == {"weight"}
    assert np.abs(layer.params["weight"]).max() <= 1 / 4  # U(-1/sqrt(in), 1/sqrt(in))
    assert_matches_torch(layer, np.random.default_rng(0).standard_normal((5, 16)))


@pytest.mark.parametrize("name", [n for n in activations.names() if n != "step"])
@pytest.mark.parametrize("seed", SEEDS)
def test_activation_layers_match_torch(name, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(random_shape(rng, int(rng.integers(1, 7)))) * 3
    layer = nncourse.ActivationLayer(name)
    assert_matches_torch(layer, x, seed)
    assert gradcheck(layer, x, seed=seed)["x"] < 1e-6


@pytest.mark.parametrize("cls,torch_cls", [
    (nncourse.ReLU, torch.nn.ReLU), (nncourse.Tanh, torch.nn.Tanh), (nncourse.Sigmoid, torch.nn.Sigmoid),
    (nncourse.GELU, torch.nn.GELU), (nncourse.SiLU, torch.nn.SiLU), (nncourse.Softplus, torch.nn.Softplus),
    (nncourse.ELU, torch.nn.ELU), (nncourse.LeakyReLU, torch.nn.LeakyReLU),
])
def test_named_activation_layers_have_the_torch_twin(cls, torch_cls):
    assert isinstance(cls().to_torch(), torch_cls)


def test_leaky_relu_and_elu_keep_their_hyperparameters():
    x = np.linspace(-3, 3, 13)
    assert_matches_torch(nncourse.LeakyReLU(0.2), x)
    assert_matches_torch(nncourse.ELU(alpha=0.5), x)
    assert nncourse.LeakyReLU(0.2).to_torch().negative_slope == 0.2


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "sigmoid"])
def test_mlp_matches_torch_and_gradcheck(seed, activation):
    rng = np.random.default_rng(seed)
    sizes = [int(v) for v in rng.integers(1, 7, size=int(rng.integers(2, 5)))]
    model = nncourse.mlp(sizes, activation, seed=seed)
    x = rng.standard_normal((int(rng.integers(1, 6)), sizes[0]))
    errors = assert_matches_torch(model, x, seed)
    torch_names = {name for name, _ in model.to_torch().named_parameters()}
    assert set(model.params) == torch_names == set(errors) - {"out", "x"}
    assert max(gradcheck(model, x, seed=seed).values()) < 1e-6


def test_to_torch_gives_the_same_outputs():
    model = nncourse.mlp([3, 8, 8, 2], "tanh", seed=4)
    x = np.random.default_rng(0).standard_normal((10, 3))
    out_torch = model.to_torch()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model.forward(x), out_torch, rtol=0, atol=1e-14)  # float64 rounding only


def test_float32_input_stays_float32():
    model = nncourse.mlp([4, 5, 3], "gelu")
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    out = model.forward(x)
    assert out.dtype == np.float32
    dx = model.backward(np.ones_like(out))
    assert dx.dtype == np.float32
    assert model.params["0.weight"].dtype == np.float64  # parameters keep their own dtype
    assert model.grads["0.weight"].dtype == np.float64


def test_sequential_params_share_arrays_with_the_layers():
    model = nncourse.mlp([2, 3, 1], seed=0)
    layer_weight = model[0].params["weight"]
    before = layer_weight.copy()
    for name, p in model.params.items():  # the very arrays of the layers, keyed as PyTorch names them
        layer = model[int(name.split(".")[0])]
        assert p is layer.params[name.split(".", 1)[1]]
        assert np.shares_memory(p, layer.params[name.split(".", 1)[1]])

    params = model.params
    params["0.weight"] -= 1.0  # an optimizer's in-place update through the Sequential's dict ...
    np.testing.assert_array_equal(model[0].params["weight"], before - 1.0)  # ... is seen by the layer
    out = model.forward(np.ones((1, 2)))
    model[0].params["bias"][:] = 5.0  # and the layer's own update is seen through the Sequential
    np.testing.assert_array_equal(model.params["0.bias"], 5.0)
    assert not np.allclose(model.forward(np.ones((1, 2))), out)  # the forward pass uses the shared arrays
    model.forward(np.ones((4, 2)))
    model.backward(np.ones((4, 1)))
    for name, g in model.grads.items():  # grads are shared the same way
        assert g is model[int(name.split(".")[0])].grads[name.split(".", 1)[1]]


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = nncourse.Linear(5, 3, seed=7), nncourse.Linear(5, 3, seed=7), nncourse.Linear(5, 3, seed=8)
    np.testing.assert_array_equal(a.params["weight"], b.params["weight"])
    assert not np.allclose(a.params["weight"], c.params["weight"])


def test_astype_and_num_parameters():
    model = nncourse.mlp([3, 4, 2]).astype(np.float32)
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert model.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2
    assert model.to_torch()[0].weight.dtype == torch.float32


def test_zero_grad_and_train_eval_propagate():
    model = nncourse.mlp([2, 2, 1])
    x = np.ones((1, 2))
    model.backward(np.ones_like(model.forward(x)))
    model.zero_grad()
    assert all(np.all(g == 0) for g in model.grads.values())
    model.eval()
    assert not any(layer.training for layer in model)
    model.train()
    assert all(layer.training for layer in model)


# --- bad input: clear errors naming expected vs given ------------------------------------------

def test_wrong_number_of_features_is_a_clear_error():
    with pytest.raises(ValueError, match=r"3 features.*got shape \(4, 5\)"):
        nncourse.Linear(3, 2).forward(np.zeros((4, 5)))


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        nncourse.Linear(3, 2).backward(np.zeros((1, 2)))
    with pytest.raises(RuntimeError, match="before forward"):
        nncourse.ReLU().backward(np.zeros(3))


def test_dout_of_the_wrong_shape_is_a_clear_error():
    layer = nncourse.Linear(3, 2)
    layer.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"forward output \(4, 2\), got \(2, 4\)"):
        layer.backward(np.zeros((2, 4)))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="in_features must be a positive integer, got 0"):
        nncourse.Linear(0, 2)
    with pytest.raises(ValueError, match="out_features must be a positive integer, got 2.5"):
        nncourse.Linear(2, 2.5)
    with pytest.raises(TypeError, match="Sequential takes Layer objects, got int at position 1"):
        nncourse.Sequential(nncourse.ReLU(), 3)
    with pytest.raises(ValueError, match="at least an input and an output"):
        nncourse.mlp([3])


def test_non_numeric_input_is_a_clear_error():
    with pytest.raises(TypeError, match="x must hold numbers"):
        nncourse.Linear(2, 1).forward(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="scalar"):
        nncourse.Linear(2, 1).forward(3.0)


def test_unknown_activation_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown activation 'relu6'; known activations: .*gelu"):
        nncourse.ActivationLayer("relu6")


# --- the cs231n kernels behind Linear -------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_kernels_match_torch_autograd(seed, with_bias):
    from nncourse.layers import LinearCache, linear_backward, linear_forward

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 5, 4))                     # leading axes are all batch
    weight, bias = rng.standard_normal((3, 4)), rng.standard_normal(3) if with_bias else None
    dout = rng.standard_normal((2, 5, 3))
    out, cache = linear_forward(x, weight, bias)
    assert isinstance(cache, LinearCache) and cache.x is x and cache.weight is weight
    dx, dweight, dbias = linear_backward(dout, cache)

    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    tb = torch.tensor(bias, requires_grad=True) if with_bias else None
    tout = torch.nn.functional.linear(tx, tw, tb)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(dweight, tw.grad.numpy(), atol=1e-12)
    if with_bias:
        np.testing.assert_allclose(dbias, tb.grad.numpy(), atol=1e-12)
    else:
        assert dbias is None
    assert dx.shape == x.shape and dweight.shape == weight.shape


def test_linear_layer_uses_the_kernels_and_keeps_float32():
    from nncourse.layers import linear_backward, linear_forward

    layer = nncourse.Linear(4, 3, seed=1)
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    out = layer.forward(x)
    want, cache = linear_forward(x.astype(np.float64), layer.params["weight"], layer.params["bias"])
    np.testing.assert_allclose(out, want, rtol=1e-5)
    assert out.dtype == np.float32
    dout = np.ones_like(out)
    dx = layer.backward(dout)
    dx64, dw64, db64 = linear_backward(dout.astype(np.float64), cache)
    assert dx.dtype == np.float32 and layer.grads["weight"].dtype == np.float64  # grads in the params' dtype
    np.testing.assert_allclose(layer.grads["weight"], dw64, rtol=1e-5)
    np.testing.assert_allclose(layer.grads["bias"], db64, rtol=1e-5)
    np.testing.assert_allclose(dx, dx64, rtol=1e-5)


# --- Container: layers made of layers ------------------------------------------------------------
class _Residual(nncourse.Container):
    """A small container written the way TransformerBlock is: children as attributes."""

    def __init__(self, d, seed=0):
        super().__init__()
        self.linear1 = nncourse.Linear(d, 2 * d, seed=seed)
        self.act = nncourse.Tanh()
        self.linear2 = nncourse.Linear(2 * d, d, seed=seed + 1)
        self.drop = nncourse.Dropout(0.5, seed=seed)
        self.width = d  # not a layer: not a child

    def forward(self, x):
        return x + self.drop.forward(self.linear2.forward(self.act.forward(self.linear1.forward(x))))

    def backward(self, dout):
        return dout + self.linear1.backward(self.act.backward(self.linear2.backward(self.drop.backward(dout))))


def test_container_names_its_children_params_as_pytorch_does():
    block = _Residual(3)
    assert list(block.named_children()) == ["linear1", "act", "linear2", "drop"]
    assert list(block.params) == ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"]
    nested = nncourse.Sequential(nncourse.Linear(3, 3), _Residual(3))
    assert list(nested.params) == ["0.weight", "0.bias", "1.linear1.weight", "1.linear1.bias",
                                   "1.linear2.weight", "1.linear2.bias"]
    assert nested.num_parameters() == 12 + 2 * (3 * 6 + 6) - 6 + 3


def test_container_params_are_the_childrens_arrays_both_ways():
    block = nncourse.Sequential(nncourse.Linear(2, 4), nncourse.ReLU(), _Residual(4, seed=2))
    assert block.params["2.linear1.weight"] is block[2].linear1.params["weight"]
    block.params["0.weight"][...] = 1.5                  # an optimizer's in-place update ...
    assert (block[0].params["weight"] == 1.5).all()      # ... is the child's
    block[2].linear2.params["bias"][:] = -2.0            # and the child's own update is seen above
    assert (block.params["2.linear2.bias"] == -2.0).all()
    block.train()
    block.forward(np.ones((5, 2)))
    block.backward(np.ones((5, 4)))
    assert block.grads["2.linear1.weight"] is block[2].linear1.grads["weight"]
    with pytest.raises(AttributeError):
        block.params = {}                                 # a container owns no arrays of its own


def test_container_train_eval_reach_every_child():
    model = nncourse.Sequential(nncourse.Linear(3, 3), _Residual(3), nncourse.Dropout(0.2))
    model.eval()
    assert not model.training and not model[1].training and not model[1].drop.training
    assert not model[2].training
    model.train()
    assert model[1].drop.training and model[2].training and model[1].linear1.training
    x = np.random.default_rng(0).standard_normal((4, 3))
    model.eval()
    np.testing.assert_array_equal(model.forward(x), model.forward(x))  # no dropout at eval


def test_container_zero_grad_astype_and_reassigned_children():
    block = _Residual(2)
    block.forward(np.ones((3, 2)))
    block.backward(np.ones((3, 2)))
    block.zero_grad()
    assert all((g == 0).all() for g in block.grads.values())
    block.astype(np.float32)
    assert all(p.dtype == np.float32 for p in block.params.values())
    block.linear2 = nncourse.Linear(4, 2, seed=9)          # replacing a child replaces its params
    assert block.params["linear2.weight"] is block.linear2.params["weight"]
    block.act = None
    assert "act" not in block.named_children()
    with pytest.raises(TypeError, match="must be a Layer"):
        block.add("x", "not a layer")


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_sequential_names_match_torch_named_parameters(activation):
    model = nncourse.mlp([3, 5, 4, 2], activation, seed=4)
    twin = model.to_torch()
    assert list(model.params) == [name for name, _ in twin.named_parameters()]
    for name, p in twin.named_parameters():
        np.testing.assert_array_equal(p.detach().numpy(), model.params[name])
    assert nncourse.Container.params.fset is None  # no more no-op setters
    assert isinstance(model, nncourse.Container)


def test_sequential_layers_can_be_swapped_in_place():
    model = nncourse.mlp([2, 3, 1], "tanh", seed=0)
    model.layers[1] = nncourse.ReLU()                     # notebook 03 swaps in a buggy tanh this way
    assert isinstance(model[1], nncourse.ReLU)
    model[1] = nncourse.Sigmoid()
    assert isinstance(model.layers[1], nncourse.Sigmoid) and isinstance(model.named_children()["1"], nncourse.Sigmoid)
    model.eval()
    assert not model[1].training
    with pytest.raises(TypeError):
        model[0] = "nonsense"


def test_container_subclass_that_forgets_super_init_is_told_so():
    class Forgetful(nncourse.Container):
        def __init__(self):
            self.linear = nncourse.Linear(2, 2)

    with pytest.raises(RuntimeError, match=r"call super\(\).__init__\(\) before assigning the sub-layer 'linear'"):
        Forgetful()
