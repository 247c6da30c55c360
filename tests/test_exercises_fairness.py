"""Notebook 13's exercises: each accepts its answer and equivalent ones, and names typical mistakes."""
from pathlib import Path

import numpy as np
import pytest

from nncourse import fairness
from nncourse.exercises import REGISTRY, Question, solve
from nncourse.exercises import fairness as ex
from nncourse.exercises.solutions import fairness as solutions


def _not_attempted(*args):
    raise NotImplementedError


def test_dp_by_hand(capsys):
    assert ex.dp_by_hand.check(4 / 6 - 1 / 4) and ex.dp_by_hand.check(0.42) and ex.dp_by_hand.check(5 / 12)
    capsys.readouterr()
    for wrong, words in [(None, "replace None"), ("a lot", "expected a number"),
                         (0.375, "ratio of the two rates"), (3, "numbers of approvals"),
                         (0.3, "its own group's size"), (-5 / 12, "never negative"),
                         (0.5, "overall approval rate"), (0.9, "count the approvals")]:
        result = ex.dp_by_hand.check(wrong)
        assert not result and result == False
        assert words in capsys.readouterr().out, wrong
    namespace = {}
    exec(solutions.dp_by_hand, namespace)  # the answer solve() puts into the notebook
    assert ex.dp_by_hand.check(namespace["dp_by_hand"])


def test_equalized_odds_matches_fairlearn_on_its_cases():
    flm = pytest.importorskip("fairlearn.metrics")
    for y_true, y_pred, groups in ex.equalized_odds.cases():
        want = flm.equalized_odds_difference(y_true, y_pred, sensitive_features=groups)
        assert solutions.equalized_odds(y_true, y_pred, groups) == pytest.approx(want, abs=1e-12)
        assert ex._equalized_odds_reference(y_true, y_pred, groups) == pytest.approx(want, abs=1e-12)


def test_equalized_odds_cases_tell_the_mistakes_apart():
    cases = ex.equalized_odds.cases()
    assert len({len(np.unique(c[2])) for c in cases}) == 3  # 2, 3 and 4 groups
    larger = set()
    for y_true, y_pred, groups in cases:
        tpr, fpr = ex._group_rates(y_true, y_pred, groups)
        larger.add("tpr" if ex._gap(tpr) > ex._gap(fpr) else "fpr" if ex._gap(fpr) > ex._gap(tpr) else "tie")
        for g in np.unique(groups):  # no empty (group, label) cell: every rate is defined
            assert {0, 1} <= set(y_true[groups == g].tolist())
    assert {"tpr", "fpr"} <= larger  # forgetting either rate fails somewhere
    assert [c[0].tolist() for c in cases] == [c[0].tolist() for c in ex.equalized_odds.cases()]  # fixed


def test_equalized_odds_accepts_equivalent_answers(capsys):
    def with_fairness_module(y_true, y_pred, groups):
        table = fairness.by_group({"tpr": fairness.true_positive_rate, "fpr": fairness.false_positive_rate},
                                  y_true, y_pred, sensitive_features=groups)
        return max(table.difference().values())

    def vectorised(y_true, y_pred, groups):
        names, codes = np.unique(groups, return_inverse=True)
        pos = np.bincount(codes, weights=y_true, minlength=len(names))
        neg = np.bincount(codes, weights=1 - y_true, minlength=len(names))
        tpr = np.bincount(codes, weights=y_pred * y_true, minlength=len(names)) / pos
        fpr = np.bincount(codes, weights=y_pred * (1 - y_true), minlength=len(names)) / neg
        return float(np.max([np.ptp(tpr), np.ptp(fpr)]))

    def with_sklearn(y_true, y_pred, groups):
        from sklearn.metrics import recall_score

        tpr = [recall_score(y_true[groups == g], y_pred[groups == g]) for g in np.unique(groups)]
        fpr = [1 - recall_score(y_true[groups == g], y_pred[groups == g], pos_label=0) for g in np.unique(groups)]
        return max(max(tpr) - min(tpr), max(fpr) - min(fpr))

    for answer in (solutions.equalized_odds, with_fairness_module, vectorised, with_sklearn):
        assert ex.equalized_odds.check(answer), answer.__name__
    assert "✓ equalized_odds" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (ex._tpr_over_everyone, "over *all* of the group's examples"),
    (ex._both_over_everyone, "divide by all of the group's examples"),
    (ex._precision_for_tpr, "PPV (precision)"),
    (ex._mean_of_gaps, "averaged the TPR gap and the FPR gap"),
    (ex._sum_of_gaps, "you added the two gaps"),
    (ex._tpr_gap_only, "TPR gap alone"),
    (ex._fpr_gap_only, "FPR gap alone"),
    (ex._first_two_groups, "not the first two"),
])
def test_equalized_odds_names_the_typical_mistakes(wrong, words, capsys):
    assert not ex.equalized_odds.check(wrong)
    out = capsys.readouterr().out
    assert words in out and "exercises.equalized_odds.hint()" in out
    assert "max(tpr_gap, fpr_gap)" not in out  # a nudge, never the answer


def test_equalized_odds_other_failures(capsys):
    assert not ex.equalized_odds.check(_not_attempted)
    assert "not attempted" in capsys.readouterr().out
    assert not ex.equalized_odds.check(lambda y_true, y_pred, groups: groups.upper())
    assert "AttributeError" in capsys.readouterr().out
    assert not ex.equalized_odds.check(lambda y_true, y_pred, groups: np.zeros(2))
    assert "shape (2,), expected ()" in capsys.readouterr().out


def test_equalized_odds_use_hands_on_the_learners_function_once_it_passes(capsys):
    assert ex.equalized_odds.use(solutions.equalized_odds) is solutions.equalized_odds
    fallback = ex.equalized_odds.use(_not_attempted)
    assert fallback is solutions.equalized_odds and "Using the course's equalized_odds" in capsys.readouterr().out


def test_equalized_odds_hints_come_in_stages(capsys):
    exercise = ex.equalized_odds
    exercise.hints_shown = 0
    exercise.hint()
    first = capsys.readouterr().out
    assert "Hint 1/3" in first and "larger" not in first
    exercise.hint(), exercise.hint()
    assert "worse (larger)" in capsys.readouterr().out
    exercise.solution()
    assert "max(tpr_gap, fpr_gap)" in capsys.readouterr().out
    exercise.hints_shown = 0


def test_reweighing_weights(capsys):
    def via_conditional(y, groups):  # P(y) / P(y | a) - the same number written another way
        w = np.empty(len(y))
        for g in np.unique(groups):
            for label in np.unique(y[groups == g]):
                w[(groups == g) & (y == label)] = np.mean(y == label) / np.mean(y[groups == g] == label)
        return w

    assert ex.reweighing_weights.check(solutions.reweighing_weights)
    assert ex.reweighing_weights.check(via_conditional)
    capsys.readouterr()
    assert not ex.reweighing_weights.check(ex._inverse_weights)
    assert "upside down" in capsys.readouterr().out
    assert not ex.reweighing_weights.check(lambda y, groups: np.ones(len(y)))
    assert "every weight is 1" in capsys.readouterr().out


def test_the_judgement_question_reveals_a_balanced_answer_on_request(capsys):
    assert isinstance(ex.lender_criterion, Question)
    assert "answer()" in repr(ex.lender_criterion)
    assert capsys.readouterr().out == ""  # nothing printed until asked
    ex.lender_criterion.answer()
    text = capsys.readouterr().out
    for words in ("false negative", "false positive", "equal opportunity", "labels", "Demographic parity",
                  "Who decides", "people affected", "law", "Regulation B", "trade-offs"):
        assert words in text, words


def test_every_exercise_is_registered_and_the_notebook_stubs_solve():
    for name in ("dp_by_hand", "equalized_odds", "reweighing_weights"):
        assert REGISTRY[name] is getattr(ex, name)
    import nbformat

    nb = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "13_ethics_bias.ipynb", as_version=4)
    found = [name for cell in nb.cells if cell.cell_type == "code" for name, *_ in solve.stubs(cell.source)]
    assert sorted(found) == ["dp_by_hand", "equalized_odds", "reweighing_weights"]
