"""Notebook 03's exercises: each accepts its answer and equivalent ones, names typical mistakes, never raises."""
import numpy as np
import pytest
import torch

from nncourse.exercises import backprop as ex
from nncourse.exercises import solve
from nncourse.exercises.solutions import backprop as solutions


def _not_attempted(*args):
    raise NotImplementedError


def _message(capsys, exercise, fn):
    result = exercise.check(fn)
    return result, capsys.readouterr().out


# --- warm-up 1: mse_loss ----------------------------------------------------------------------------
def test_mse_loss_accepts_equivalent_answers(capsys):
    def with_einsum(pred, target):
        d = (pred - target).ravel()
        return np.einsum("i,i->", d, d) / d.size, (2.0 / d.size) * (pred - target)

    for fn in (solutions.mse_loss, with_einsum, lambda p, t: [((p - t) ** 2).mean(), 2 * (p - t) / p.size]):
        result, out = _message(capsys, ex.mse_loss, fn)
        assert result and "✓ mse_loss" in out


@pytest.mark.parametrize("wrong, words", [
    (lambda p, t: (((p - t) ** 2).mean(), 2 * (p - t)), "too large by the number of elements"),
    (lambda p, t: (((p - t) ** 2).sum(), 2 * (p - t)), "you summed the squared errors"),
    (lambda p, t: (((p - t) ** 2).mean(), (p - t) / (p - t).size), "factor 2"),
    (lambda p, t: (((p - t) ** 2).mean(), 2 * (p - t) / len(p)), "number of rows"),
    (lambda p, t: (((p - t) ** 2).mean(), 2 * (t - p) / p.size), "wrong sign"),
    (lambda p, t: ((p - t) ** 2).mean(), "return 2 values"),
    (_not_attempted, "not attempted"),
    (lambda p, t: 1 / 0, "ZeroDivisionError"),
])
def test_mse_loss_names_the_mistake(capsys, wrong, words):
    result, out = _message(capsys, ex.mse_loss, wrong)
    assert not result and words in out, out


# --- warm-up 2: cross_entropy_gradient --------------------------------------------------------------
def test_cross_entropy_gradient_accepts_equivalent_answers(capsys):
    def via_torch(logits, targets):
        z = torch.tensor(logits, requires_grad=True)
        torch.nn.functional.cross_entropy(z, torch.tensor(targets)).backward()
        return z.grad.numpy()

    def via_log_softmax(logits, targets):
        log_p = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        return (np.exp(log_p) - np.eye(logits.shape[1])[targets]) / len(targets)

    for fn in (solutions.cross_entropy_gradient, via_torch, via_log_softmax):
        result, out = _message(capsys, ex.cross_entropy_gradient, fn)
        assert result and "✓ cross_entropy_gradient" in out


def _naive_softmax(z):
    with np.errstate(all="ignore"):
        return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


@pytest.mark.parametrize("wrong, words", [
    (lambda z, t: (_naive_softmax(z) - np.eye(z.shape[1])[t]) / len(t), "overflow"),
    (lambda z, t: solutions.cross_entropy_gradient(z, t) * len(t), "N times too large"),
    (lambda z, t: _naive_softmax(z - z.max(axis=1, keepdims=True)), "the softmax itself"),
    (lambda z, t: _naive_softmax(z - z.max(axis=1, keepdims=True)) / len(t), "takes 1 off"),
    (lambda z, t: -solutions.cross_entropy_gradient(z, t), "wrong sign"),
    (lambda z, t: solutions.cross_entropy_gradient(z, t).T, "shape"),
    (lambda z, t: "nonsense", "expected numbers"),
])
def test_cross_entropy_gradient_names_the_mistake(capsys, wrong, words):
    result, out = _message(capsys, ex.cross_entropy_gradient, wrong)
    assert not result and words in out, out


# --- the substantial one: softmax_mlp_backward ------------------------------------------------------
def _torch_mlp(X, y, W1, b1, W2, b2):
    """The same network in PyTorch autograd: an independent reference."""
    params = [torch.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]
    h = torch.relu(torch.tensor(X) @ params[0].T + params[1])
    loss = torch.nn.functional.cross_entropy(h @ params[2].T + params[3], torch.tensor(y))
    loss.backward()
    return (loss.item(), *(p.grad.numpy() for p in params))


def _variant(X, y, W1, b1, W2, b2, *, one_hot=True, scale=None, mask="z1", dh_w2="W2", dW="right", db="sum"):
    N = len(X)
    z1 = X @ W1.T + b1
    h = np.maximum(z1, 0)
    z = h @ W2.T + b2
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(N), y]).mean()
    dz = p.copy()
    if one_hot:
        dz[np.arange(N), y] -= 1
    dz *= {None: 1 / N, "twice": 1 / N**2}.get(scale, scale)  # "twice": the mean's 1/N applied twice
    dh = dz @ (W2 if dh_w2 == "W2" else W2.T)
    dz1 = {"z1": dh * (z1 > 0), "h": dh * (h > 0), "none": dh}[mask]
    if dW == "right":
        dW1, dW2 = dz1.T @ X, dz.T @ h
    elif dW == "transposed":
        dW1, dW2 = X.T @ dz1, h.T @ dz
    else:  # per example, never summed
        dW1, dW2 = np.einsum("nh,nd->nhd", dz1, X), np.einsum("nc,nh->nch", dz, h)
    if db == "sum":
        db1, db2 = dz1.sum(axis=0), dz.sum(axis=0)
    elif db == "rows":
        db1, db2 = dz1.sum(axis=1), dz.sum(axis=1)
    else:  # "keep": not summed
        db1, db2 = dz1, dz
    return loss, dW1, db1, dW2, db2


def test_softmax_mlp_backward_accepts_equivalent_answers(capsys):
    for fn in (solutions.softmax_mlp_backward, _torch_mlp, lambda *c: list(_variant(*c, mask="h"))):
        result, out = _message(capsys, ex.softmax_mlp_backward, fn)
        assert result and "✓ softmax_mlp_backward" in out, out


def test_the_reference_is_pytorch():
    for case in ex.softmax_mlp_backward.cases():
        for ours, theirs in zip(ex._mlp_reference(*case), _torch_mlp(*case)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kwargs, words", [
    (dict(scale=1.0), "N times too large"),
    (dict(scale="twice"), "N times too small"),
    (dict(mask="none"), "as if it were the identity"),
    (dict(dh_w2="W2.T"), "used W2 transposed"),
    (dict(one_hot=False), "one-hot"),
    (dict(dW="transposed"), "is the transpose of the gradient"),
    (dict(dW="per_example"), "one gradient per example"),
    (dict(db="keep"), "one gradient per example"),
    (dict(db="rows"), "one number per example"),
])
def test_softmax_mlp_backward_names_the_mistake(capsys, kwargs, words):
    result, out = _message(capsys, ex.softmax_mlp_backward, lambda *case: _variant(*case, **kwargs))
    assert not result and words in out, out
    assert "More help: exercises.softmax_mlp_backward.hint()" in out
    assert "dW1 = dz1.T" not in out  # a nudge, never the fix


def test_softmax_mlp_backward_reports_other_failures(capsys):
    result, out = _message(capsys, ex.softmax_mlp_backward, _not_attempted)
    assert not result and "not attempted" in out
    result, out = _message(capsys, ex.softmax_mlp_backward, lambda *case: _variant(*case)[1:])
    assert not result and "return 5 values (loss, dW1, db1, dW2, db2)" in out
    result, out = _message(capsys, ex.softmax_mlp_backward, lambda X, y, W1, b1, W2, b2: (X @ W2) and None)
    assert not result and "raised ValueError" in out
    result, out = _message(capsys, ex.softmax_mlp_backward, lambda *case: ("a", "b", "c", "d", "e"))
    assert not result


def test_use_hands_back_the_learners_function_once_it_passes(capsys):
    fn = ex.softmax_mlp_backward.use(solutions.softmax_mlp_backward)
    assert fn is solutions.softmax_mlp_backward
    fallback = ex.softmax_mlp_backward.use(_not_attempted)
    assert fallback is solutions.softmax_mlp_backward
    assert "Using the course's softmax_mlp_backward" in capsys.readouterr().out


def test_hints_are_staged_and_cases_fixed(capsys):
    exercise = ex.softmax_mlp_backward
    exercise.hints_shown = 0
    exercise.hint()
    first = capsys.readouterr().out
    assert "Hint 1/3" in first and "Hint 2/3" not in first
    exercise.hint()
    assert "Hint 2/3" in capsys.readouterr().out
    exercise.hints_shown = 0
    for a, b in zip(exercise.cases(), exercise.cases()):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_every_answer_passes_and_every_stub_is_solved():
    for exercise in (ex.mse_loss, ex.cross_entropy_gradient, ex.softmax_mlp_backward):
        assert exercise.check(exercise.solution_object, quiet=True), exercise.name
    import nbformat

    nb = nbformat.read("notebooks/03_backpropagation.ipynb", as_version=4)
    names = [name for cell in nb.cells if cell.cell_type == "code" for name, _, _ in solve.stubs(cell.source)]
    assert names == ["mse_loss", "cross_entropy_gradient", "softmax_mlp_backward"]
