"""The scalar autograd engine against PyTorch autograd (float64): every op, composites, errors."""
import math

import matplotlib
import numpy as np
import pytest
import torch

from nncourse.autograd import Value, draw, layout, listing

SEEDS = [0, 1, 2, 3]


def _t(x):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


UNARY = {
    "exp": (lambda v: v.exp(), torch.exp),
    "log": (lambda v: v.log(), torch.log),
    "tanh": (lambda v: v.tanh(), torch.tanh),
    "sigmoid": (lambda v: v.sigmoid(), torch.sigmoid),
    "relu": (lambda v: v.relu(), torch.relu),
    "neg": (lambda v: -v, lambda t: -t),
    "square": (lambda v: v**2, lambda t: t**2),
    "cube": (lambda v: v**3, lambda t: t**3),
    "reciprocal": (lambda v: v**-1, lambda t: t**-1),
    "sqrt": (lambda v: v**0.5, lambda t: t**0.5),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "radd": lambda a, b: 2.5 + a,
    "rsub": lambda a, b: 2.5 - b,
    "rmul": lambda a, b: -1.5 * a,
    "rdiv": lambda a, b: 2.0 / b,
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("seed", SEEDS)
def test_unary_ops_match_torch(name, seed):
    ours, theirs = UNARY[name]
    rng = np.random.default_rng(seed)
    x0 = float(rng.uniform(0.1, 3.0) if name in ("log", "sqrt") else rng.normal(scale=2.0))
    x = Value(x0)
    y = ours(x)
    y.backward()
    xt = _t(x0)
    yt = theirs(xt)
    yt.backward()
    assert y.data == pytest.approx(yt.item(), abs=1e-12, rel=1e-12)
    assert x.grad == pytest.approx(xt.grad.item(), abs=1e-12, rel=1e-12)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("seed", SEEDS)
def test_binary_ops_match_torch(name, seed):
    fn = BINARY[name]
    a0, b0 = np.random.default_rng(seed).normal(size=2) + np.array([0.0, 3.0])  # b away from 0
    a, b = Value(a0), Value(b0)
    out = fn(a, b)
    out.backward()
    at, bt = _t(a0), _t(b0)
    fn(at, bt).backward()
    assert out.data == pytest.approx(fn(a0, b0), abs=1e-12)
    assert a.grad == pytest.approx(0.0 if at.grad is None else at.grad.item(), abs=1e-12)
    assert b.grad == pytest.approx(0.0 if bt.grad is None else bt.grad.item(), abs=1e-12)


def _composite(x, y, lib):
    """micrograd's test expressions plus every op; lib picks Value methods or torch functions."""
    def relu(v):
        return v.relu() if lib == "value" else torch.relu(v)

    def tanh(v):
        return v.tanh() if lib == "value" else torch.tanh(v)

    def sig(v):
        return v.sigmoid() if lib == "value" else torch.sigmoid(v)

    def exp(v):
        return v.exp() if lib == "value" else torch.exp(v)

    def log(v):
        return v.log() if lib == "value" else torch.log(v)

    z = 2 * x + 2 + x
    q = relu(z) + z * x
    h = relu(z * z)
    y1 = h + q + q * x
    a = x * y + y**3
    b = a / (1 + exp(-a) ** 2) - tanh(y1 * 0.1)
    c = log(1 + sig(b) ** 2) + (x - y) ** 2 / 4.0
    return c + b * 0.5 - y1 / 10.0


@pytest.mark.parametrize("seed", SEEDS)
def test_composite_expression_matches_torch(seed):
    x0, y0 = np.random.default_rng(seed).normal(size=2)
    x, y = Value(x0), Value(y0)
    out = _composite(x, y, "value")
    out.backward()
    xt, yt = _t(x0), _t(y0)
    out_t = _composite(xt, yt, "torch")
    out_t.backward()
    assert out.data == pytest.approx(out_t.item(), rel=1e-10, abs=1e-10)
    assert x.grad == pytest.approx(xt.grad.item(), rel=1e-8, abs=1e-10)
    assert y.grad == pytest.approx(yt.grad.item(), rel=1e-8, abs=1e-10)


def test_value_used_twice_sums_its_gradients():
    a = Value(3.0)
    b = a + a  # b = 2a: both uses contribute 1
    b.backward()
    assert a.grad == 2.0
    c = Value(-2.0)
    d = c * c * c  # 3 c^2
    d.backward()
    assert c.grad == pytest.approx(12.0)


def test_leaves_accumulate_intermediates_restart_like_torch():
    x = Value(1.5)
    y = (x * x).tanh()
    y.backward()
    first = x.grad
    y.backward()
    xt = _t(1.5)
    yt = torch.tanh(xt * xt)
    yt.backward(retain_graph=True)
    yt.backward()
    assert x.grad == pytest.approx(2 * first) == pytest.approx(xt.grad.item())
    y.zero_grad()
    assert x.grad == 0.0 and y.grad == 0.0


def test_relu_gradient_at_zero_is_zero_like_torch():
    x = Value(0.0)
    x.relu().backward()
    xt = _t(0.0)
    torch.relu(xt).backward()
    assert x.grad == xt.grad.item() == 0.0


def test_topological_order_is_deterministic_and_parents_first():
    def build():
        a, b = Value(1.0, label="a"), Value(2.0, label="b")
        c = (a * b).tanh()
        c.label = "c"
        return c + a * 3

    orders = [[n.label or n.op for n in build().topological_order()] for _ in range(3)]
    assert orders[0] == orders[1] == orders[2]
    out = build()
    order = out.topological_order()
    position = {id(n): i for i, n in enumerate(order)}
    assert order[-1] is out
    assert all(position[id(p)] < position[id(n)] for n in order for p in n.parents)
    assert len(order) == len({id(n) for n in order})  # each node once


def test_deep_chain_does_not_hit_the_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0001 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(TypeError, match="Value data must be a real number.*list"):
        Value([1.0, 2.0])
    with pytest.raises(TypeError, match="must be a real number.*str"):
        Value(1.0) + "2"
    with pytest.raises(ValueError, match="must be finite, got nan"):
        Value(float("nan"))
    with pytest.raises(ValueError, match="log needs a positive input, got -1"):
        Value(-1.0).log()
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        Value(1.0) / Value(0.0)
    with pytest.raises(TypeError, match="only powers by a plain number"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="not a real number"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="exp\\(1000\\) overflows"):
        Value(1000.0).exp()


def test_sqrt_at_zero_has_an_infinite_slope_like_torch():
    x = Value(0.0)
    (x**0.5).backward()
    xt = _t(0.0)
    (xt**0.5).backward()
    assert x.grad == xt.grad.item() == math.inf


def test_listing_and_layout():
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(1.0, label="b")
    z = x * w + b
    z.label = "z"
    y = z.tanh()
    y.label = "y"
    y.backward()
    text = listing(y)
    lines = text.splitlines()
    assert lines[0].split() == ["node", "computed", "as", "data", "grad"]
    assert [line.split()[0] for line in lines[1:]] == ["x", "w", "#2", "b", "z", "y"]
    assert "x * w" in text and "#2 + b" in text and "tanh(z)" in text
    assert lines[2].split()[-1] == f"{(1 - math.tanh(-5.0) ** 2) * 2.0:.6g}"  # w's grad: tanh'(z) x
    pos = layout(y)
    assert pos[id(x)][0] == 0 and pos[id(z)][0] == 2 and pos[id(y)][0] == 3


def test_draw_puts_one_box_per_node():
    from matplotlib.figure import Figure

    x = Value(1.0, label="x")
    y = (x * 2).relu()
    y.backward()
    ax = Figure().add_subplot()
    assert draw(y, ax) is ax
    texts = [t.get_text() for t in ax.texts if t.get_text()]  # the arrows are empty annotations
    assert len(texts) == 4  # x, the constant 2, the product, relu
    assert any(t.startswith("x\n1") and "grad 2" in t for t in texts)
    assert matplotlib.get_backend()  # drawing needed no pyplot window
