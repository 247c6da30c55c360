"""Exercises of notebook 01 (the perceptron). Answers: ``nncourse.exercises.solutions.perceptron``."""
from __future__ import annotations

import numpy as np

from ..perceptron import Perceptron
from . import Exercise
from .solutions import perceptron as solutions


# --- notebook 00: a first exercise, to see how check, hint and solution work ------------------------
def _mse_cases():
    rng = np.random.default_rng(0)
    return [(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))] + [
        (rng.normal(size=n), rng.normal(size=n)) for n in (5, 50)]


mean_squared_error = Exercise(
    "mean_squared_error", solution=solutions.mean_squared_error, cases=_mse_cases,
    hints=["Three steps: the errors y_hat - y, their squares, the mean of those.",
           "NumPy does each step on the whole array at once: ** 2 squares every element, np.mean averages."],
    mistakes=[(lambda y_hat, y: np.sum((y_hat - y) ** 2), "you summed the squared errors; the mean divides by N."),
              (lambda y_hat, y: np.mean(y_hat - y), "you averaged the errors without squaring them "
                                                    "(positive and negative errors cancel)."),
              (lambda y_hat, y: np.mean(np.abs(y_hat - y)), "that is the mean *absolute* error; square the errors instead."),
              (lambda y_hat, y: np.sqrt(np.mean((y_hat - y) ** 2)), "that is the root of the mean squared error (RMSE).")])


# --- warm-up: predictions -------------------------------------------------------------------------
def _predict_cases():
    rng = np.random.default_rng(1957)  # Rosenblatt's year
    square = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    cases = [(np.array([1.0, 1.0]), -1.5, square),                               # AND
             (np.array([1.0, 1.0]), -1.0, np.array([[0.5, 0.5], [2.0, 0.0], [0.0, 0.0]]))]  # (0.5, 0.5) on the line
    return cases + [(rng.normal(size=3), float(rng.normal()), rng.normal(size=(6, 3))) for _ in range(2)]


perceptron_predict = Exercise(
    "perceptron_predict", solution=solutions.perceptron_predict, cases=_predict_cases,
    hints=["First the scores: one number w·x + b per row of X, in one matrix product (no loop).",
           "Then compare each score with 0 and turn the booleans into integers 0 and 1."],
    mistakes=[(lambda w, b, X: np.where(X @ w + b > 0, 1, -1),
               "your labels are -1 and +1 (the targets t of the learning rule); predictions here are 0 and 1."),
              (lambda w, b, X: (X @ w + b >= 0).astype(int),
               "a point exactly on the line (score 0) is class 0 here: the perceptron fires only when the score is > 0."),
              (lambda w, b, X: X @ w + b,
               "you returned the scores w·x + b; the labels are what the step function makes of them.")])


# --- warm-up: NAND by hand --------------------------------------------------------------------
def _nand_compare(got, want, case):
    from ..data import logic_gate

    X, y = logic_gate("nand")
    try:
        w, b = got
        scores = X @ np.asarray(w, dtype=float).reshape(2) + float(b)
    except Exception:
        return "write nand_weights = (w, b): w a pair of numbers, b one number."
    pred = (scores > 0).astype(int)
    if np.array_equal(pred, y):
        return None
    wrong = [f"{tuple(int(v) for v in x)} -> {p} (NAND: {t})" for x, p, t in zip(X, pred, y) if p != t]
    return "a step unit with these weights answers " + ", ".join(wrong) + "."


nand_weights = Exercise(
    "nand_weights", solution=solutions.nand_weights, reference=lambda: (np.array([-1.0, -1.0]), 1.5), compare=_nand_compare, cases=[()],
    describe=lambda case: "the four inputs (0, 0), (0, 1), (1, 0), (1, 1)",
    hints=["NAND is 1 for (0, 0): with both inputs 0 the score is just b. What sign must b have?",
           "Only (1, 1) should bring the score to 0 or below: each input should *lower* the score, "
           "one input alone not enough, both together enough.",
           "Negative weights of the same size, and b between one weight's size and two weights' sizes."])


# --- substantial: a feature map that makes XOR separable --------------------------------------------
def _xor_cases():
    from ..data import logic_gate

    X, _ = logic_gate("xor")
    order = np.random.default_rng(1969).permutation(8)  # Minsky & Papert's year
    return [(X,), (np.vstack([X, X])[order],)]  # any row order: the map works row by row


def _xor_compare(got, want, case):
    (X,) = case
    try:
        F = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return f"your features are a {type(got).__name__}; return a NumPy array of numbers."
    if F.ndim != 2 or len(F) != len(X):
        return f"return one row of features per example, shape ({len(X)}, k); yours has shape {F.shape}."
    if not np.isfinite(F).all():
        return "your features contain inf or nan."
    y = (X[:, 0] != X[:, 1]).astype(int)
    if F.shape[1] == X.shape[1] and np.allclose(F, X):
        return "these are the inputs unchanged: in them XOR is not linearly separable (section 5)."
    p = Perceptron(F.shape[1], seed=0).fit(F, y, epochs=1000)
    if p.converged and np.array_equal(p.predict(F), y):
        return None
    return (f"a perceptron trained on your {F.shape[1]} feature(s) still makes mistakes after 1,000 epochs "
            f"(last epoch: {p.errors_[-1]}): in your feature space the two classes are not linearly separable yet.")


xor_features = Exercise(
    "xor_features", solution=solutions.xor_features, reference=lambda X: None, compare=_xor_compare,
    cases=_xor_cases,
    hints=["Keep x1 and x2 and add one more column computed from them (np.column_stack).",
           "XOR is 'x1 or x2, but not both'. A line in (x1, x2) gets 'or' right; the new feature should "
           "single out the one point where both are 1.",
           "The product x1 * x2 is 1 at (1, 1) and 0 elsewhere. With it, w = (1, 1, -2), b = -0.5 "
           "separates the classes - work out why."])


# --- substantial: the pocket perceptron --------------------------------------------------------------
def _training_mistakes(w, b, X, t):
    return int(np.sum(t * (X @ np.asarray(w, dtype=float) + float(b)) <= 0))


def _pocket_cases():
    rng = np.random.default_rng(1990)  # Gallant's pocket algorithm
    cases = []
    for n, d in [(40, 2), (60, 3)]:
        t = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
        X = rng.normal(size=(n, d)) + 0.8 * t[:, None]  # two overlapping clouds: no line separates them
        cases.append((X, t, 20, 0))
    return cases


def _last_weights(X, t, epochs, seed):
    """The plain perceptron's weights after the last epoch (what pocket improves on)."""
    rng = np.random.default_rng(seed)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        for i in rng.permutation(len(X)):
            if t[i] * (X[i] @ w + b) <= 0:
                w, b = w + t[i] * X[i], b + t[i]
    return w, b


def _pocket_compare(got, want, case):
    X, t, epochs, seed = case
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return two values, (w, b)."
    try:
        w, b = np.asarray(got[0], dtype=float), float(got[1])
    except (TypeError, ValueError):
        return "return (w, b): w an array of shape (d,), b a number."
    if w.shape != (X.shape[1],):
        return f"w should have shape ({X.shape[1]},); yours has shape {w.shape}."
    best, yours = _training_mistakes(*want, X, t), _training_mistakes(w, b, X, t)
    if yours <= best:
        return None
    last = _last_weights(*case)
    if np.allclose(w, last[0]) and np.isclose(b, last[1]):
        return (f"these are the weights after the last epoch ({yours} training mistakes); weights seen "
                f"earlier made only {best}.")
    return f"your weights make {yours} training mistakes; the best weights seen during training make {best}."


pocket_perceptron = Exercise(
    "pocket_perceptron", solution=solutions.pocket_perceptron, compare=_pocket_compare, cases=_pocket_cases,
    describe=lambda case: f"X {case[0].shape} from two overlapping clouds, epochs={case[2]}, seed={case[3]}",
    hints=["Start from your train_perceptron loop (section 4): the same rule, the same "
           "rng.permutation order each epoch, but do not stop early.",
           "After each epoch, count the training mistakes of the current (w, b) on the whole set. "
           "Keep a copy of the weights whenever that count is the lowest so far.",
           "Return the kept weights, not the current ones. Start the 'best so far' from the starting "
           "weights (all zero: every example is a mistake)."])
