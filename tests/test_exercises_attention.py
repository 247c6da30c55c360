"""The exercises of notebook 08: each checker accepts the answer and equivalent ones, and rejects
typical wrong answers with the message meant for them."""
import numpy as np
import pytest
import torch

from nncourse.exercises import attention as ex
from nncourse.exercises.solutions import attention as solutions
from exercise_support import not_attempted, verdict as _verdict


# --- my_causal_mask -------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    solutions.my_causal_mask,
    lambda T: np.arange(T)[:, None] >= np.arange(T)[None, :],
    lambda T: ~np.triu(np.ones((T, T), dtype=bool), k=1),
])
def test_causal_mask_accepts_equivalent_answers(answer):
    assert _verdict(ex.my_causal_mask, answer) == (True, "✓ my_causal_mask: correct on all 4 test cases.")


@pytest.mark.parametrize("wrong, words", [
    (lambda T: np.triu(np.ones((T, T), dtype=bool)), "attending to the future"),
    (lambda T: np.triu(np.ones((T, T), dtype=bool), k=1), "the opposite"),
    (lambda T: np.tril(np.ones((T, T), dtype=bool), k=-1), "must also see itself"),
    (lambda T: np.tril(np.ones((T, T))), "boolean"),
    (lambda T: np.tril(np.ones((T, T + 1), dtype=bool)), "shape"),
    (not_attempted, "not attempted"),
])
def test_causal_mask_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.my_causal_mask, wrong)
    assert not passed and words in message and "np.tril" not in message  # a nudge, not the fix


# --- layernorm_backward ---------------------------------------------------------------------------

def _explicit_paths(dout, x_hat, inv_std, gamma):
    """A correct answer written as the three chain-rule paths (x directly, through mean and variance)."""
    E = x_hat.shape[-1]
    dx_hat = dout * gamma
    dvar = (dx_hat * x_hat).sum(-1, keepdims=True) * -0.5 * inv_std**2   # d/dvar of (x-mean)*(var+eps)^-1/2
    dmean = -(dx_hat * inv_std).sum(-1, keepdims=True)                   # (x - mean) summed: 0 from dvar
    xc = x_hat / inv_std                                                 # x - mean
    dx = dx_hat * inv_std + dvar * 2 * xc / E + dmean / E
    return dx, (dout * x_hat).reshape(-1, E).sum(0), dout.reshape(-1, E).sum(0)


def test_layernorm_backward_accepts_the_answer_and_the_three_paths():
    assert _verdict(ex.layernorm_backward, solutions.layernorm_backward)[0]
    assert _verdict(ex.layernorm_backward, _explicit_paths)[0]


def test_layernorm_reference_is_pytorchs_autograd():
    for dout, x_hat, inv_std, gamma in ex.layernorm_backward.cases():
        x = x_hat / inv_std  # x - mean: an input whose LayerNorm has exactly this x_hat and inv_std
        xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(gamma, requires_grad=True)
        bt = torch.zeros(gamma.shape, dtype=torch.float64, requires_grad=True)
        torch.nn.functional.layer_norm(xt, gamma.shape, gt, bt, eps=1e-5).backward(torch.from_numpy(dout))
        dx, dgamma, dbeta = solutions.layernorm_backward(dout, x_hat, inv_std, gamma)
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-9)
        np.testing.assert_allclose(dgamma, gt.grad.numpy(), atol=1e-9)
        np.testing.assert_allclose(dbeta, bt.grad.numpy(), atol=1e-9)


def _not_summed(dout, x_hat, inv_std, gamma):
    dx, _, dbeta = solutions.layernorm_backward(dout, x_hat, inv_std, gamma)
    return dx, dout * x_hat, dbeta


def _flipped_sign(dout, x_hat, inv_std, gamma):
    dx, dgamma, dbeta = solutions.layernorm_backward(dout, x_hat, inv_std, gamma)
    return -dx, dgamma, dbeta


@pytest.mark.parametrize("wrong, words", [
    (ex._constants, "treated the mean and the variance as constants"),
    (ex._without_mean_path, "not the one through the mean"),
    (ex._without_variance_path, "not the one through the variance"),
    (ex._without_gamma, "forgot gamma"),
    (ex._without_inv_std, "missing the final factor inv_std"),
    (_not_summed, "'dgamma' result has shape (4, 6), expected (6,)"),
    (_flipped_sign, "'dx' result has the wrong sign"),
    (lambda dout, x_hat, inv_std, gamma: solutions.layernorm_backward(dout, x_hat, inv_std, gamma)[:2], "return 3"),
    (not_attempted, "not attempted"),
])
def test_layernorm_backward_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.layernorm_backward, wrong)
    assert not passed and words in message, message
    assert ".mean(-1, keepdims=True) - x_hat" not in message  # the nudge does not give the formula


def test_layernorm_backward_hints_come_one_at_a_time(capsys):
    exercise = ex.layernorm_backward
    exercise.hints_shown = 0
    exercise.hint()
    first = capsys.readouterr().out
    assert "Hint 1/4" in first and "inv_std * (" not in first
    for _ in range(3):
        exercise.hint()
    assert "Hint 4/4" in capsys.readouterr().out
    exercise.hints_shown = 0


def test_use_gives_the_learners_function_once_it_passes(capsys):
    assert ex.layernorm_backward.use(_explicit_paths) is _explicit_paths
    assert ex.layernorm_backward.use(not_attempted) is solutions.layernorm_backward
    assert "Using the course's layernorm_backward" in capsys.readouterr().out


# --- attention_flops ------------------------------------------------------------------------------

def test_attention_flops_accepts_equivalent_answers():
    for answer in (solutions.attention_flops, lambda T, d: 4 * T**2 * d, lambda T, d: 2 * (2 * T * T * d)):
        assert _verdict(ex.attention_flops, answer)[0]


@pytest.mark.parametrize("wrong, words", [
    (lambda T, d: 2 * T * T * d, "only one of the two matrix products"),
    (lambda T, d: 4 * T * d, "linearly with T"),
    (lambda T, d: 4 * T * T * d * d, "d appears once"),
    (lambda T, d: 3 * T * T * d, "constant factor"),
])
def test_attention_flops_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.attention_flops, wrong)
    assert not passed and words in message, message
