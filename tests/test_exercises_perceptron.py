"""The exercises of notebook 01 accept a correct answer, reject a wrong one, and never raise."""
import numpy as np

from nncourse.exercises import perceptron as ex


def correct_update(w, b, x, t, lr):
    if t * (w @ x + b) <= 0:
        return w + lr * t * x, b + lr * t
    return w, b


def always_update(w, b, x, t, lr):  # forgets to check for a mistake
    return w + lr * t * x, b + lr * t


def not_attempted(*args):
    raise NotImplementedError


def crashing(*args):
    return args[99]


def test_update_checker(capsys):
    assert ex.check_update(correct_update) == True
    assert "✓" in capsys.readouterr().out
    assert ex.check_update(always_update) == False
    assert "Hint" in capsys.readouterr().out
    assert ex.check_update(not_attempted) == False
    assert "not attempted" in capsys.readouterr().out
    assert ex.check_update(crashing) == False
    assert "IndexError" in capsys.readouterr().out


def test_predict_checker(capsys):
    assert ex.check_predict(lambda w, b, X: (X @ w + b > 0).astype(int)) == True
    assert ex.check_predict(lambda w, b, X: (X @ w + b >= 0).astype(int) * 0) == False
    assert ex.check_predict(lambda w, b, X: X @ w + b > 0) == True  # booleans compare as 0/1


def test_gate_weights_checker(capsys):
    assert ex.check_gate_weights([-1, -1], 1.5, "nand") == True
    assert ex.check_gate_weights([1, 1], -1.5, "nand") == False
    assert "wrong on" in capsys.readouterr().out
    assert ex.check_gate_weights("oops", 1, "nand") == False
    assert ex.check_gate_weights(np.array([1.0, 1.0]), -0.5, "or") == True


def test_check_results_are_truthy_and_silent_in_notebooks():
    from nncourse.exercises import CheckResult

    assert CheckResult(True) and not CheckResult(False)
    assert CheckResult(True) == True and CheckResult(False) == False  # noqa: E712
    assert CheckResult(True)._ipython_display_() is None


def test_gate_weights_success_message_prints_plain_numbers(capsys):
    """NumPy 2 reprs scalars as np.float64(-1.0); the learner should read w=(-1, -1), b=1.5."""
    assert ex.check_gate_weights(np.array([-1.0, -1.0]), np.float64(1.5), "nand") == True
    out = capsys.readouterr().out
    assert "w=(-1, -1), b=1.5" in out and "np." not in out
    assert ex.check_gate_weights([-0.75, -0.5], 1, "nand") == True
    assert "w=(-0.75, -0.5), b=1 " in capsys.readouterr().out
