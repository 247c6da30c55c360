"""The exercises of notebook 08 accept a correct answer, reject a wrong one, and never raise."""
import numpy as np

from nncourse.exercises import attention as ex


def not_attempted(*args):
    raise NotImplementedError


def test_causal_mask_checker(capsys):
    assert ex.check_causal_mask(lambda T: np.tril(np.ones((T, T), dtype=bool))) == True
    assert "✓" in capsys.readouterr().out
    assert ex.check_causal_mask(lambda T: np.triu(np.ones((T, T), dtype=bool))) == False  # looks ahead
    assert "Hint" in capsys.readouterr().out
    assert ex.check_causal_mask(lambda T: np.tril(np.ones((T, T), dtype=bool), k=-1)) == False  # not itself
    assert ex.check_causal_mask(not_attempted) == False
    assert "not attempted" in capsys.readouterr().out


def stable_attention(Q, K, V):
    scores = Q @ K.T / np.sqrt(Q.shape[-1])
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True) @ V


def naive_attention(Q, K, V):  # right formula, overflowing softmax
    weights = np.exp(Q @ K.T / np.sqrt(Q.shape[-1]))
    return weights / weights.sum(axis=-1, keepdims=True) @ V


def unscaled_attention(Q, K, V):  # forgets the 1/sqrt(d)
    scores = Q @ K.T
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True) @ V


def test_attention_checker(capsys):
    assert ex.check_attention(stable_attention) == True
    assert ex.check_attention(unscaled_attention) == False
    assert ex.check_attention(lambda Q, K, V: stable_attention(Q, K, V).T) == False
    with np.errstate(over="ignore", invalid="ignore"):
        assert ex.check_attention(naive_attention) == False
    assert ex.check_attention(lambda Q, K, V: Q[99]) == False
    assert "IndexError" in capsys.readouterr().out


def test_attention_flops_checker(capsys):
    assert ex.check_attention_flops(lambda T, d: 4 * T * T * d) == True
    assert ex.check_attention_flops(lambda T, d: 2 * T * T * d) == False  # forgot weights @ V
    assert ex.check_attention_flops(lambda T, d: 4 * T * d * d) == False
    assert ex.check_attention_flops(not_attempted) == False
