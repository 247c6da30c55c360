"""The exercises of notebook 14: each checker accepts the answer and equivalent ones, and rejects
typical wrong answers with the message meant for them."""
from itertools import permutations
from math import factorial

import numpy as np
import pytest

from nncourse import explain
from nncourse.exercises import explain as ex
from nncourse.exercises.solutions import explain as solutions
from exercise_support import not_attempted, verdict as _verdict


# --- trapezoid_weights ----------------------------------------------------------------------------

def _trapezoid_by_intervals(steps):
    alphas = [k / (steps - 1) for k in range(steps)]
    weights = [0.0] * steps
    for k in range(steps - 1):  # each interval gives half its width to each of its two ends
        weights[k] += 0.5 / (steps - 1)
        weights[k + 1] += 0.5 / (steps - 1)
    return alphas, weights


@pytest.mark.parametrize("answer", [solutions.trapezoid_weights, _trapezoid_by_intervals,
                                    lambda n: explain.ig_rule("trapezoid", n)])
def test_trapezoid_accepts_equivalent_answers(answer):
    assert _verdict(ex.trapezoid_weights, answer) == (True, "✓ trapezoid_weights: correct on all 4 test cases.")


@pytest.mark.parametrize("wrong, words", [
    (ex._captum_trapezoid, "sum to (steps - 1) / steps"),
    (ex._uniform, "the end nodes count half"),
    (ex._not_halved, "sum to more than 1"),
    (lambda n: (np.linspace(0, 1, n + 1), np.full(n + 1, 1 / n)), "shape"),
    (lambda n: np.linspace(0, 1, n), "2 values"),
    (not_attempted, "not attempted"),
])
def test_trapezoid_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.trapezoid_weights, wrong)
    assert not passed and words in message


# --- shapley_exact --------------------------------------------------------------------------------

def _shapley_by_orders(value_fn, n):
    """Every one of the n! orders, each player credited with what it adds when it joins."""
    phi = np.zeros(n)
    for order in permutations(range(n)):
        mask = np.zeros(n)
        before = value_fn(mask)
        for player in order:
            mask[player] = 1
            after = value_fn(mask)
            phi[player] += after - before
            before = after
    return phi / factorial(n)


def _shapley_batched(value_fn, n):
    return explain.shapley_values(lambda masks: value_fn(np.asarray(masks, dtype=float)), n)


@pytest.mark.parametrize("answer", [solutions.shapley_exact, _shapley_by_orders, _shapley_batched])
def test_shapley_accepts_equivalent_answers(answer):
    assert _verdict(ex.shapley_exact, answer) == (True, "✓ shapley_exact: correct on all 6 test cases.")


@pytest.mark.parametrize("wrong, words", [
    (ex._banzhaf, "Banzhaf"),
    (ex._leave_one_out, "leave-one-out"),
    (ex._alone, "each player alone"),
    (ex._size_weight_missing, "summed the marginal contributions instead of averaging"),
    (lambda v, n: -solutions.shapley_exact(v, n), "wrong sign"),
    (lambda v, n: np.zeros(n + 1), "shape"),
    (not_attempted, "not attempted"),
])
def test_shapley_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.shapley_exact, wrong)
    assert not passed and words in message and "combinations(others" not in message


def test_games_answer_one_mask_or_a_batch():
    game, n = ex._shapley_cases()[3]
    masks = explain.all_coalitions(n)
    assert np.allclose([game(m) for m in masks], game(masks))
    assert isinstance(game(masks[5]), float)
    with pytest.raises(ValueError, match="one entry per player"):
        game(np.ones(n + 1))
    # the cases' answers are efficient: they sum to v(all) - v(none)
    for game, n in ex._shapley_cases():
        assert ex._shapley_reference(game, n).sum() == pytest.approx(game(np.ones(n)) - game(np.zeros(n)))
