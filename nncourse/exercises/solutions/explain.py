"""Answers to the exercises of notebook 14 (explainability). Each answer is self-contained (its
imports inside), since ``solve`` pastes it into the notebook."""
import numpy as np


def trapezoid_weights(steps):
    alphas = np.linspace(0.0, 1.0, steps)         # steps nodes, 0 and 1 included: steps - 1 intervals
    weights = np.full(steps, 1.0 / (steps - 1))   # each inner node is shared by two intervals ...
    weights[0] /= 2                               # ... the two end nodes belong to one interval each
    weights[-1] /= 2
    return alphas, weights


def shapley_exact(value_fn, n_players):
    from itertools import combinations
    from math import factorial

    phi = np.zeros(n_players)
    for i in range(n_players):
        others = [j for j in range(n_players) if j != i]
        for size in range(n_players):
            weight = factorial(size) * factorial(n_players - size - 1) / factorial(n_players)
            for S in combinations(others, size):           # every coalition S without player i
                without = np.zeros(n_players)
                without[list(S)] = 1
                with_i = without.copy()
                with_i[i] = 1
                phi[i] += weight * (value_fn(with_i) - value_fn(without))  # i's marginal contribution to S
    return phi
