"""Each notebook 13 checker accepts a right answer and rejects wrong ones."""
import numpy as np
import pytest

from nncourse import fairness, mitigation
from nncourse.exercises import CheckResult
from nncourse.exercises import fairness as ex


def test_dp_by_hand(capsys):
    assert ex.check_dp_by_hand(4 / 6 - 1 / 4)
    assert not ex.check_dp_by_hand(0.5)
    assert not ex.check_dp_by_hand("a lot")
    assert "Hint" in capsys.readouterr().out
    untried = ex.check_dp_by_hand(None)
    assert not untried
    assert "not attempted yet" in capsys.readouterr().out
    # a CheckResult, not a bool: as a cell's last value it displays nothing (a bare False would print)
    assert isinstance(untried, CheckResult) and isinstance(ex.check_dp_by_hand(5 / 12), CheckResult)


def test_demographic_parity_checker():
    def right(y_pred, groups):
        return fairness.demographic_parity_difference(y_pred, y_pred, sensitive_features=groups)

    def two_groups_only(y_pred, groups):  # a plausible mistake: compares the first two groups only
        a, b = np.unique(groups)[:2]
        return abs(y_pred[groups == a].mean() - y_pred[groups == b].mean())

    assert ex.check_demographic_parity(right)
    assert not ex.check_demographic_parity(two_groups_only)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the wrong answer takes a mean of nothing
def test_true_positive_rate_checker(capsys):
    assert ex.check_true_positive_rate(lambda t, p: fairness.true_positive_rate(t, p))
    assert not ex.check_true_positive_rate(lambda t, p: float(np.mean(p == t)))  # accuracy, not TPR
    assert not ex.check_true_positive_rate(lambda t, p: float(p[t == 1].mean()))  # NaN without positives

    def todo(t, p):
        raise NotImplementedError

    assert not ex.check_true_positive_rate(todo)
    assert "not attempted yet" in capsys.readouterr().out


def test_reweighing_checker():
    assert ex.check_reweighing(lambda y, g: mitigation.reweighing(y, sensitive_features=g))
    assert not ex.check_reweighing(lambda y, g: np.ones(len(y)))
