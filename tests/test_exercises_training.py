"""Notebooks 04-05's exercises: each accepts its answer and equivalent ones, and names typical mistakes."""
import numpy as np

from nncourse.exercises import training as ex


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


def test_inverted_dropout(capsys):
    assert ex.inverted_dropout.check(lambda x, keep, p: np.where(keep == 1, x / (1 - p), 0.0))
    for wrong, words in [(lambda x, keep, p: x * keep, "not scaled"),
                         (lambda x, keep, p: x * keep * (1 - p), "divides by it"),
                         (lambda x, keep, p: x * keep / p, "keep probability")]:
        capsys.readouterr()
        assert not ex.inverted_dropout.check(wrong)
        assert words in capsys.readouterr().out


def test_every_answer_passes_its_own_check():
    for exercise in (ex.momentum_step, ex.adam_step, ex.inverted_dropout):
        assert exercise.check(exercise.solution_object, quiet=True), exercise.name
