"""Notebook 02's exercises: each accepts its answer and equivalent ones, names typical mistakes,
and never raises."""
import math

import numpy as np
import pytest

from nncourse.exercises import activations as ex
from nncourse.exercises.solutions import activations as solutions
from nncourse.initializers import signal_propagation, verdict


def _not_attempted(*args):
    raise NotImplementedError


def test_stable_softmax(capsys):
    def via_logsumexp(x):
        m = x.max(axis=-1, keepdims=True)
        return np.exp(x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))

    def with_a_loop(x):  # row by row: slow, but right
        flat = x.reshape(-1, x.shape[-1])
        rows = [np.exp(r - r.max()) / np.exp(r - r.max()).sum() for r in flat]
        return np.array(rows).reshape(x.shape)

    for right in (solutions.stable_softmax, via_logsumexp, with_a_loop):
        assert ex.stable_softmax.check(right)
    assert "✓" in capsys.readouterr().out
    with np.errstate(all="ignore"):
        assert not ex.stable_softmax.check(ex._naive_softmax)
        assert "overflows for logits like ±800" in capsys.readouterr().out
        assert not ex.stable_softmax.check(ex._softmax_global_max)
        assert "largest logit of the whole array" in capsys.readouterr().out
    assert not ex.stable_softmax.check(ex._softmax_axis0)
    assert "normalised over the first axis" in capsys.readouterr().out
    assert not ex.stable_softmax.check(ex._softmax_global_sum)
    assert "sum over the whole array" in capsys.readouterr().out
    def no_keepdims(x):  # fine on one row, a broadcasting error on (3, 4)
        e = np.exp(x - x.max(axis=-1))
        return e / e.sum(axis=-1, keepdims=True)

    assert not ex.stable_softmax.check(no_keepdims)
    assert "raised ValueError" in capsys.readouterr().out
    assert not ex.stable_softmax.check(_not_attempted)
    assert "not attempted" in capsys.readouterr().out


def test_he_std(capsys):
    assert ex.he_std.check(solutions.he_std)
    assert ex.he_std.check(lambda fan_in: math.sqrt(2) / math.sqrt(fan_in))
    assert "✓" in capsys.readouterr().out
    assert not ex.he_std.check(lambda fan_in: 2 / fan_in)
    assert "the variance s^2" in capsys.readouterr().out
    assert not ex.he_std.check(lambda fan_in: math.sqrt(1 / fan_in))
    assert "LeCun's 1 / fan_in" in capsys.readouterr().out
    assert not ex.he_std.check(lambda fan_in: 2 * math.sqrt(2 / fan_in))
    assert "2 times the answer" in capsys.readouterr().out
    assert not ex.he_std.check(_not_attempted)


@pytest.mark.parametrize("gain", [1.1, 1.3, 5 / 3, 1.8])
def test_tanh_gain_accepts_the_healthy_range(gain, capsys):
    assert ex.tanh_gain.check(gain)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("gain, words", [(1.0, "the signal fades"), (0.5, "the signal fades"),
                                         (1.9, "gradients explode"), (3, "gradients explode")])
def test_tanh_gain_names_what_goes_wrong(gain, words, capsys):
    assert not ex.tanh_gain.check(gain)
    assert words in capsys.readouterr().out


def test_tanh_gain_rejects_non_numbers(capsys):
    for bad, words in [(None, "not attempted"), ("5/3", "one number"), (-1.0, "positive"), (True, "one number")]:
        assert not ex.tanh_gain.check(bad)
        assert words in capsys.readouterr().out


def test_the_accepted_gains_are_healthy_on_other_seeds_too():
    """The range the checker accepts (judged on seeds 0-4) is the range where 50 tanh layers are
    healthy on fresh seeds as well: gains just above 1 up to about 1.8. At gain 1 (plain Xavier) the
    spread keeps shrinking with depth; at 1.9 and above the backward signal grows by more than 1e3."""
    fresh = range(5, 10)
    for gain in (1.1, 5 / 3, 1.8):
        assert ex.gain_problem(gain, seeds=fresh) is None, gain
    spreads = [signal_propagation(50, 64, "tanh", "xavier", scale=1.0, seed=s).activation_std for s in fresh]
    assert all(s[-1] < ex.MIN_SPREAD and s[-1] < s[9] for s in spreads)  # gain 1: still fading at layer 50
    assert any(verdict(signal_propagation(50, 64, "tanh", "xavier", scale=2.0, seed=s))["backward"] == "exploding"
               for s in fresh)


def test_use_gives_the_learners_gain_once_it_passes(capsys):
    assert ex.tanh_gain.use(1.5) == 1.5
    assert ex.tanh_gain.use(None) == pytest.approx(5 / 3)
    assert "Using the course's tanh_gain" in capsys.readouterr().out
