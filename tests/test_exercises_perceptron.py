"""Notebook 01's exercises: each accepts its answer and equivalent ones, names typical mistakes,
and never raises."""
import numpy as np

from nncourse.exercises import perceptron as ex
from nncourse.exercises.solutions import perceptron as solutions


def _not_attempted(*args):
    raise NotImplementedError


def test_mean_squared_error_of_notebook_00(capsys):
    assert ex.mean_squared_error.check(solutions.mean_squared_error)
    assert ex.mean_squared_error.check(lambda y_hat, y: ((y - y_hat) ** 2).sum() / len(y))
    assert "✓" in capsys.readouterr().out
    for wrong, words in [(lambda y_hat, y: np.mean(y_hat - y), "without squaring"),
                         (lambda y_hat, y: np.sum((y_hat - y) ** 2), "you summed"),
                         (lambda y_hat, y: np.mean(np.abs(y_hat - y)), "mean *absolute* error"),
                         (lambda y_hat, y: np.sqrt(np.mean((y_hat - y) ** 2)), "RMSE"),
                         (lambda y_hat, y: (y_hat - y) ** 2, "shape")]:
        assert not ex.mean_squared_error.check(wrong)
        assert words in capsys.readouterr().out
    ex.mean_squared_error.hints_shown = 0
    ex.mean_squared_error.hint()
    assert "Hint 1/2" in capsys.readouterr().out
    ex.mean_squared_error.solution()
    assert "np.mean((y_hat - y) ** 2)" in capsys.readouterr().out


def test_perceptron_predict(capsys):
    assert ex.perceptron_predict.check(solutions.perceptron_predict)
    assert ex.perceptron_predict.check(lambda w, b, X: np.where(X @ w + b > 0, 1, 0))
    assert ex.perceptron_predict.check(lambda w, b, X: np.array([1 if x @ w + b > 0 else 0 for x in X]))
    assert "✓" in capsys.readouterr().out
    assert not ex.perceptron_predict.check(lambda w, b, X: (X @ w + b >= 0).astype(int))
    assert "on the line (score 0) is class 0" in capsys.readouterr().out
    assert not ex.perceptron_predict.check(lambda w, b, X: np.where(X @ w + b > 0, 1, -1))
    assert "-1 and +1" in capsys.readouterr().out
    assert not ex.perceptron_predict.check(lambda w, b, X: X @ w + b)
    assert "you returned the scores" in capsys.readouterr().out
    assert not ex.perceptron_predict.check(lambda w, b, X: (X.T @ np.ones(len(X)) > 0).astype(int))
    assert "shape" in capsys.readouterr().out
    assert not ex.perceptron_predict.check(_not_attempted)
    assert "not attempted" in capsys.readouterr().out


def test_nand_weights(capsys):
    for answer in [(np.array([-1.0, -1.0]), 1.5), ([-2, -2], 3), ((-1, -1.5), 2.0), ([-10.0, -10.0], 15.0)]:
        assert ex.nand_weights.check(answer), answer
    capsys.readouterr()
    assert not ex.nand_weights.check(([1.0, 1.0], -1.5))  # AND, not NAND
    out = capsys.readouterr().out
    assert "(0, 0) -> 0 (NAND: 1)" in out and "(1, 1) -> 1 (NAND: 0)" in out
    assert not ex.nand_weights.check(([-1.0, -1.0], 1.0))  # (0, 1) lands on the line: a score of 0 is output 0
    assert "(0, 1) -> 0 (NAND: 1)" in capsys.readouterr().out
    assert not ex.nand_weights.check(0.5)
    assert "write nand_weights = (w, b)" in capsys.readouterr().out


def test_xor_features_accepts_every_map_that_separates(capsys):
    x1, x2 = (lambda X: X[:, 0]), (lambda X: X[:, 1])
    maps = [solutions.xor_features,
            lambda X: np.column_stack([X, X[:, 0] * X[:, 1]]),
            lambda X: np.column_stack([X, (X[:, 0] - X[:, 1]) ** 2]),          # squared difference
            lambda X: np.column_stack([x1(X) * (1 - x2(X)), x2(X) * (1 - x1(X))]),  # the two AND-NOTs
            lambda X: np.column_stack([X, X ** 2, X[:, :1] * X[:, 1:]]),       # all quadratic terms
            lambda X: np.abs(X[:, :1] - X[:, 1:])]                             # one feature: |x1 - x2|
    for phi in maps:
        assert ex.xor_features.check(phi)
    assert "✓" in capsys.readouterr().out


def test_xor_features_names_what_is_wrong(capsys):
    assert not ex.xor_features.check(lambda X: X)
    assert "inputs unchanged" in capsys.readouterr().out
    assert not ex.xor_features.check(lambda X: np.column_stack([X, X.sum(axis=1)]))  # still linear
    assert "not linearly separable yet" in capsys.readouterr().out
    assert not ex.xor_features.check(lambda X: X[:, 0] * X[:, 1])  # 1-D
    assert "one row of features per example" in capsys.readouterr().out
    assert not ex.xor_features.check(lambda X: np.array([[0], [1], [1], [0]]))  # hard-coded for one row order
    assert "test case 2 of 2" in capsys.readouterr().out
    with np.errstate(divide="ignore"):
        assert not ex.xor_features.check(lambda X: np.column_stack([X, np.log(X[:, 0] * 0)]))
    assert "inf or nan" in capsys.readouterr().out


def test_pocket_perceptron(capsys):
    def tracked_every_update(X, t, epochs, seed):  # checks after every update too: never worse
        rng = np.random.default_rng(seed)
        w, b = np.zeros(X.shape[1]), 0.0
        best = (w, b, len(X) + 1)
        for _ in range(epochs):
            for i in rng.permutation(len(X)):
                if t[i] * (X[i] @ w + b) <= 0:
                    w, b = w + t[i] * X[i], b + t[i]
                mistakes = np.sum(t * (X @ w + b) <= 0)
                if mistakes < best[2]:
                    best = (w.copy(), b, mistakes)
        return best[0], best[1]

    assert ex.pocket_perceptron.check(solutions.pocket_perceptron)
    assert ex.pocket_perceptron.check(tracked_every_update)
    assert ex.pocket_perceptron.check(lambda *case: list(solutions.pocket_perceptron(*case)))
    assert "✓" in capsys.readouterr().out
    assert not ex.pocket_perceptron.check(ex._last_weights)
    assert "weights after the last epoch" in capsys.readouterr().out
    assert not ex.pocket_perceptron.check(lambda X, t, epochs, seed: (np.zeros(X.shape[1]), 0.0))
    assert "training mistakes" in capsys.readouterr().out
    assert not ex.pocket_perceptron.check(lambda X, t, epochs, seed: np.zeros(X.shape[1]))
    assert "return two values" in capsys.readouterr().out
    assert not ex.pocket_perceptron.check(lambda X, t, epochs, seed: (np.zeros(X.shape[1] + 1), 0.0))
    assert "shape" in capsys.readouterr().out
    assert not ex.pocket_perceptron.check(_not_attempted)


def test_use_hands_over_the_learners_function_only_once_it_passes(capsys):
    assert ex.xor_features.use(solutions.xor_features) is solutions.xor_features
    assert ex.xor_features.use(_not_attempted) is solutions.xor_features
    assert "Using the course's xor_features" in capsys.readouterr().out
