"""Exercises of notebook 14 (explainability).

* ``trapezoid_weights`` (warm-up): the nodes and weights of the trapezoid rule on [0, 1]; the
  learner's integrated gradients then integrate with it, and its completeness gap is measured.
* ``shapley_exact`` (substantial): exact Shapley values of any game by enumerating coalitions;
  the notebook then explains the loan model of notebook 13 with it (one applicant, the global
  importance, the proxy feature), checked against ``nncourse.explain.shapley_values`` and Captum.

Expected answers come from the package (``nncourse.explain.ig_rule`` and
``nncourse.explain.shapley_values``, tested against Captum); the answers a teacher can show are
in ``nncourse.exercises.solutions.explain``.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from .. import explain
from . import Exercise
from .solutions import explain as solutions

# --- warm-up: the trapezoid rule ------------------------------------------------------------------


def _captum_trapezoid(steps):  # Captum's "riemann_trapezoid": step 1/steps, halved at the ends
    return explain.ig_rule("riemann_trapezoid", steps)


def _uniform(steps):
    return np.linspace(0.0, 1.0, steps), np.full(steps, 1.0 / steps)


def _not_halved(steps):
    return np.linspace(0.0, 1.0, steps), np.full(steps, 1.0 / (steps - 1))


trapezoid_weights = Exercise(
    "trapezoid_weights", solution=solutions.trapezoid_weights,
    reference=lambda steps: explain.ig_rule("trapezoid", steps),
    cases=[(5,), (2,), (11,), (64,)], output_names=("alphas", "weights"), atol=1e-12,
    hints=["The nodes are `steps` equally spaced points from 0 to 1, both ends included "
           "(np.linspace). Between them lie steps - 1 intervals of width h = 1 / (steps - 1).",
           "The trapezoid rule averages the two ends of each interval: h * (g(a) + g(b)) / 2. Add up "
           "the intervals: each inner node appears in two of them, each end node in one.",
           "weights = h everywhere, then halve the first and the last; they sum to 1."],
    mistakes=[(_captum_trapezoid, "your weights sum to (steps - 1) / steps, not 1: with `steps` nodes there are "
                                  "steps - 1 intervals, so each is 1 / (steps - 1) wide. (Captum's "
                                  "'riemann_trapezoid' makes exactly this choice.)"),
              (_uniform, "your weights are all equal and sum to 1: that is an average of the nodes, not the "
                         "trapezoid rule (the end nodes count half)."),
              (_not_halved, "your weights sum to more than 1: the two end nodes belong to one interval each.")])


# --- substantial: exact Shapley values -------------------------------------------------------------

class Game:
    """A cooperative game for the checker: ``v(mask)`` for one 0/1 mask (n,) -> a number, or for a
    batch (M, n) -> (M,). The value of every coalition is stored (row k: binary digits of k)."""

    def __init__(self, values, label: str):
        self.values = np.asarray(values, dtype=float)
        self.n = int(np.log2(len(self.values)))
        self.label = label

    def __call__(self, mask):
        m = np.asarray(mask)
        if m.shape[-1] != self.n:
            raise ValueError(f"a mask has one entry per player ({self.n}), got shape {m.shape}")
        index = (np.asarray(m, dtype=bool).astype(int) << np.arange(self.n)).sum(axis=-1)
        return self.values[index] if m.ndim > 1 else float(self.values[index])

    def __repr__(self) -> str:
        return self.label


def _game(fn, n, label):
    return Game(fn(explain.all_coalitions(n)), label)


def _shapley_cases():
    rng = np.random.default_rng(1953)  # Shapley, "A value for n-person games"
    w = rng.normal(size=4)
    x, base = rng.normal(size=4), rng.normal(size=4)
    W1, W2 = rng.normal(size=(4, 6)), rng.normal(size=6)

    def model(masks):  # a small tanh network on x with absent features set to a baseline
        inputs = np.where(masks.astype(bool), x, base)
        return np.tanh(inputs @ W1) @ W2

    return [
        (_game(model, 4, "a small network's score, 4 features"), 4),
        (_game(lambda m: m @ w, 4, "an additive game of 4 players"), 4),
        (_game(lambda m: (m[:, 0] * m[:, 1]).astype(float), 3, "players 0 and 1 only score together"), 3),
        (Game(rng.normal(size=2 ** 4), "a random game of 4 players"), 4),
        (Game(rng.normal(size=2 ** 5), "a random game of 5 players"), 5),
        (Game([0.5, 2.0], "a game of 1 player"), 1),
    ]


def _batched(game, n):
    return lambda masks: game(np.atleast_2d(masks))


def _shapley_reference(game, n):
    return explain.shapley_values(_batched(game, n), n)


def _marginals(game, n):
    """v(S + i) - v(S) for every player i and every S without i: (n, 2^(n-1)), with |S|."""
    masks = explain.all_coalitions(n)
    values = game(masks)
    out = []
    for i in range(n):
        without = np.flatnonzero(masks[:, i] == 0)
        out.append((values[without + (1 << i)] - values[without], masks[without].sum(axis=1)))
    return out


def _banzhaf(game, n):
    return np.array([m.mean() for m, _ in _marginals(game, n)])


def _leave_one_out(game, n):
    full = np.ones(n)
    return np.array([game(full) - game(np.where(np.arange(n) == i, 0.0, 1.0)) for i in range(n)])


def _alone(game, n):
    empty = np.zeros(n)
    return np.array([game(np.eye(n)[i]) - game(empty) for i in range(n)])


def _size_weight_missing(game, n):  # averages over sizes, forgetting to average within a size
    return np.array([sum(m[s == k].sum() for k in range(n)) / n for m, s in _marginals(game, n)])


def _describe_game(case):
    game, n = case
    return f"{game!r} (n_players={n})"


shapley_exact = Exercise(
    "shapley_exact", solution=solutions.shapley_exact, reference=_shapley_reference,
    cases=_shapley_cases, describe=_describe_game, atol=1e-10,
    hints=["Player i's Shapley value averages its marginal contribution v(S + i) - v(S) over the "
           "coalitions S of the other players. A coalition is a 0/1 mask; value_fn(mask) gives v.",
           "Not a plain average: think of all n! orders in which players join. S is the set of "
           "players before i in an order, and |S|! (n - |S| - 1)! orders put exactly S before i.",
           "itertools.combinations(others, size) lists the coalitions of each size; the weight of "
           "one of size s is s! (n - s - 1)! / n!. The values must then sum to v(all) - v(none).",
           "for i: for size in range(n): for S in combinations(others, size): phi[i] += "
           "weight(size) * (value_fn(S with i) - value_fn(S))"],
    mistakes=[(_banzhaf, "you averaged the marginal contributions over all coalitions with equal weight: that is "
                         "the Banzhaf value. Shapley weights a coalition by how many orders of the players "
                         "put exactly it before i (your values do not sum to v(all) - v(none))."),
              (_leave_one_out, "you computed leave-one-out, v(all) - v(all without i): only the last of the "
                               "marginal contributions, the one to the full coalition of the others."),
              (_alone, "you computed each player alone, v({i}) - v({}): only the first of the marginal "
                       "contributions, the one to the empty coalition."),
              (_size_weight_missing, "within one coalition size you summed the marginal contributions instead "
                                     "of averaging them (each size gets 1/n in total, shared by its "
                                     "C(n-1, size) coalitions).")])
