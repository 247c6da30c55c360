"""Notebooks 04-05's exercises: each accepts its answer and equivalent ones, and names typical mistakes."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nncourse.exercises import generalization as gen
from nncourse.exercises import optimization as ex


def _not_attempted(*args):
    raise NotImplementedError


def test_momentum_step(capsys):
    def right(p, g, velocity, lr, momentum):
        velocity = momentum * velocity + g
        return p - lr * velocity, velocity

    def damped(p, g, velocity, lr, momentum):   # the "(1 - momentum) * g" variant: not PyTorch's
        velocity = momentum * velocity + (1 - momentum) * g
        return p - lr * velocity, velocity

    assert ex.momentum_step.check(right) == True
    assert "✓" in capsys.readouterr().out
    assert ex.momentum_step.check(lambda p, g, v, lr, m: [p - lr * (m * v + g), m * v + g])  # a list is fine
    assert ex.momentum_step.check(damped) == False
    assert "damped the gradient by (1 - momentum)" in capsys.readouterr().out
    assert not ex.momentum_step.check(lambda p, g, v, lr, m: (p - lr * v, m * v + g))
    assert "with the *old* velocity" in capsys.readouterr().out
    assert not ex.momentum_step.check(lambda p, g, v, lr, m: p - lr * (m * v + g))
    assert "return 2 values as a tuple (new_p, new_velocity)" in capsys.readouterr().out


def test_adam_step(capsys):
    def right(p, g, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v

    def lerp_form(p, g, m, v, t, lr, beta1, beta2, eps):  # PyTorch's in-place form, same numbers
        m = m + (1 - beta1) * (g - m)
        v = v * beta2 + (1 - beta2) * g * g
        step = lr / (1 - beta1**t)
        return p - step * m / (np.sqrt(v) / np.sqrt(1 - beta2**t) + eps), m, v

    def no_bias_correction(p, g, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        return p - lr * m / (np.sqrt(v) + eps), m, v

    assert ex.adam_step.check(right) and ex.adam_step.check(lerp_form)
    capsys.readouterr()
    assert not ex.adam_step.check(no_bias_correction)
    assert "bias correction" in capsys.readouterr().out
    assert not ex.adam_step.check(_not_attempted)
    assert "not attempted" in capsys.readouterr().out


def _range_test(model, batches, lr_min, lr_max, *, rates=None, set_lr=True, zero_grad=True, stop=None):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr_min)
    n = len(batches)
    rates = np.geomspace(lr_min, lr_max, n) if rates is None else rates(lr_min, lr_max, n)
    lrs, losses = [], []
    for lr, (xb, yb) in zip(rates, batches):
        if set_lr:
            optimizer.param_groups[0]["lr"] = float(lr)
        loss = F.cross_entropy(model(xb), yb)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        lrs.append(lr)
        losses.append(loss.item())
        if stop is not None and len(losses) >= stop:
            break
    return lrs, losses


def test_lr_range_test(capsys):
    assert ex.lr_range_test.check(_range_test)  # np.geomspace, lists, one param group: all equivalent
    capsys.readouterr()
    for wrong, words in [
        (lambda *a: _range_test(*a, rates=np.linspace), "grow linearly"),
        (lambda *a: _range_test(*a, rates=lambda lo, hi, n: lo * (hi / lo) ** (np.arange(n) / n)), "from lr_min"),
        (lambda *a: _range_test(*a, set_lr=False), "constant rate"),
        (lambda *a: _range_test(*a, zero_grad=False), "pile up"),
        (lambda *a: _range_test(*a, stop=10), "one rate and one loss per batch"),
        (lambda *a: _range_test(*a)[1], "return two arrays"),
        (_not_attempted, "not attempted"),
    ]:
        assert not ex.lr_range_test.check(wrong)
        assert words in capsys.readouterr().out


def _train(model, loader, epochs, lr, *, bug=None):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    result = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            if bug is None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            elif bug == "no zero_grad":
                loss.backward()
                optimizer.step()
            elif bug == "zero_grad after backward":
                loss.backward()
                optimizer.zero_grad()
                optimizer.step()
            total += loss.item() * len(xb)
        if bug == "indentation":
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        result.append(total / len(loader.dataset))
    return result


def test_fixed_train(capsys):
    assert ex.fixed_train.check(_train)
    assert ex.fixed_train.check(ex.fixed_train.solution_object)
    capsys.readouterr()
    for bug, words in [("indentation", "falls, but far too slowly"),
                       ("zero_grad after backward", "does not move at all"),
                       ("no zero_grad", "jumps up")]:
        assert not ex.fixed_train.check(lambda *a, bug=bug: _train(*a, bug=bug))
        assert words in capsys.readouterr().out
    assert not ex.fixed_train.check(lambda *a: _train(*a)[:2])
    assert "one mean training loss per epoch" in capsys.readouterr().out


def test_inverted_dropout(capsys):
    assert gen.inverted_dropout.check(lambda x, keep, p: np.where(keep == 1, x / (1 - p), 0.0))
    for wrong, words in [(lambda x, keep, p: x * keep, "not scaled"),
                         (lambda x, keep, p: x * keep * (1 - p), "divides by it"),
                         (lambda x, keep, p: x * keep / p, "keep probability")]:
        capsys.readouterr()
        assert not gen.inverted_dropout.check(wrong)
        assert words in capsys.readouterr().out


def test_batchnorm_backward(capsys):
    def staged(dout, x, gamma, eps):  # the long chain rule, cs231n's staged form: same numbers
        n = len(x)
        mu = x.mean(0)
        xc = x - mu
        var = (xc**2).mean(0)
        std = np.sqrt(var + eps)
        x_hat = xc / std
        dx_hat = dout * gamma
        dvar = (dx_hat * xc).sum(0) * -0.5 * std**-3
        dmu = -dx_hat.sum(0) / std + dvar * -2 * xc.mean(0)
        return dx_hat / std + dvar * 2 * xc / n + dmu / n, (dout * x_hat).sum(0), dout.sum(0)

    def autograd(dout, x, gamma, eps):
        x_t, g_t, b_t = (torch.tensor(a, requires_grad=True) for a in (x, gamma, np.zeros_like(gamma)))
        F.batch_norm(x_t, None, None, g_t, b_t, training=True, eps=eps).backward(torch.from_numpy(dout))
        return x_t.grad.numpy(), g_t.grad.numpy(), b_t.grad.numpy()

    for right in (staged, autograd, gen.batchnorm_backward.solution_object):
        assert gen.batchnorm_backward.check(right), right
    capsys.readouterr()
    for wrong, words in [(gen._bn_constant_statistics, "treats mu and sigma as constants"),
                         (gen._bn_only_mean_term, "not the one through the variance"),
                         (gen._bn_only_variance_term, "not the one through the mean"),
                         (gen._bn_unbiased, "unbiased variance"),
                         (gen._bn_wrong_axis_for_dx, "wrong axis"),
                         (gen._bn_gamma_twice, "gamma twice")]:
        assert not gen.batchnorm_backward.check(wrong)
        assert words in capsys.readouterr().out, wrong.__name__

    def per_example_dgamma(dout, x, gamma, eps):  # forgot to sum over the batch
        dx, _, dbeta = staged(dout, x, gamma, eps)
        x_hat = (x - x.mean(0)) / np.sqrt(x.var(0) + eps)
        return dx, dout * x_hat, dbeta

    assert not gen.batchnorm_backward.check(per_example_dgamma)
    assert "'dgamma' result has shape (8, 5), expected (5,)" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", [ex.momentum_step, ex.adam_step, ex.lr_range_test, ex.fixed_train,
                                      gen.inverted_dropout, gen.batchnorm_backward], ids=lambda e: e.name)
def test_every_answer_passes_its_own_check(exercise):
    assert exercise.check(exercise.solution_object, quiet=True), exercise.name
