"""Answers to the exercises of notebook 01 (the perceptron)."""
import numpy as np


def perceptron_predict(w, b, X):
    return (X @ w + b > 0).astype(int)  # on the line (score 0) counts as class 0


nand_weights = "nand_weights = (np.array([-1.0, -1.0]), 1.5)  # only (1, 1) brings the score below 0"


def xor_features(X):
    x1, x2 = X[:, 0], X[:, 1]
    return np.column_stack([x1, x2, x1 * x2])  # the product is 1 only for (1, 1)


def pocket_perceptron(X, t, epochs, seed):
    rng = np.random.default_rng(seed)
    w, b = np.zeros(X.shape[1]), 0.0
    best_w, best_b = w, b
    best_mistakes = np.sum(t * (X @ w + b) <= 0)
    for _ in range(epochs):
        for i in rng.permutation(len(X)):
            if t[i] * (X[i] @ w + b) <= 0:
                w, b = w + t[i] * X[i], b + t[i]
        mistakes = np.sum(t * (X @ w + b) <= 0)  # on the whole training set
        if mistakes < best_mistakes:             # better than any weights so far: keep them
            best_w, best_b, best_mistakes = w.copy(), b, mistakes
    return best_w, best_b


def mean_squared_error(y_hat, y):  # notebook 00's warm-up: how exercises work
    return np.mean((y_hat - y) ** 2)
