"""The notebook-04 self-checks accept a correct answer, reject a wrong one, and never raise."""
import numpy as np

from nncourse.exercises import training as ex


def test_momentum_checker(capsys):
    def right(p, g, velocity, lr, momentum):
        velocity = momentum * velocity + g
        return p - lr * velocity, velocity

    def damped(p, g, velocity, lr, momentum):   # the "(1 - momentum) * g" variant: not PyTorch's
        velocity = momentum * velocity + (1 - momentum) * g
        return p - lr * velocity, velocity

    assert ex.check_momentum_step(right) == True
    assert "✓" in capsys.readouterr().out
    assert ex.check_momentum_step(damped) == False
    assert "Hint" in capsys.readouterr().out


def test_adam_checker(capsys):
    def right(p, g, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v

    def no_bias_correction(p, g, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        return p - lr * m / (np.sqrt(v) + eps), m, v

    def not_attempted(*args):
        raise NotImplementedError

    assert ex.check_adam_step(right) == True
    assert ex.check_adam_step(no_bias_correction) == False
    assert "expected" in capsys.readouterr().out
    assert ex.check_adam_step(not_attempted) == False
    assert "not attempted" in capsys.readouterr().out


def test_dropout_checker(capsys):
    assert ex.check_dropout(lambda x, keep, p: x * keep / (1 - p)) == True
    assert ex.check_dropout(lambda x, keep, p: x * keep) == False           # forgot to rescale
    assert ex.check_dropout(lambda x, keep, p: x * keep * (1 - p)) == False  # scaled the wrong way
    assert ex.check_dropout(lambda x, keep, p: x[99]) == False               # crashes: reported, not raised
    assert "IndexError" in capsys.readouterr().out
