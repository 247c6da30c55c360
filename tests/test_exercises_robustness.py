"""The exercises of notebook 15: each checker accepts the answer and equivalent ones, and rejects
typical wrong answers with the message meant for them."""
import numpy as np
import pytest

from nncourse.exercises import robustness as ex
from nncourse.exercises.solutions import robustness as solutions
from exercise_support import not_attempted, verdict as _verdict


# --- linf_project ---------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    solutions.linf_project,
    lambda x_adv, x, eps: np.clip(x_adv, np.maximum(x - eps, 0), np.minimum(x + eps, 1)),   # one clip to the intersection
    lambda x_adv, x, eps: x + np.clip(np.clip(x_adv, 0, 1) - x, -eps, eps),                 # range first, then the ball
    lambda x_adv, x, eps: np.minimum(np.maximum(x_adv, x - eps), x + eps).clip(0, 1),
])
def test_linf_project_accepts_equivalent_answers(answer):
    assert _verdict(ex.linf_project, answer) == (True, "✓ linf_project: correct on all 3 test cases.")


@pytest.mark.parametrize("wrong, words", [
    (lambda x_adv, x, eps: x + np.clip(x_adv - x, -eps, eps), "valid range"),
    (lambda x_adv, x, eps: np.clip(x_adv, 0, 1), "more than eps away"),
    (lambda x_adv, x, eps: np.clip(x_adv, -eps, eps), "the image itself"),
    (lambda x_adv, x, eps: x_adv, "wrong"),
    (not_attempted, "not attempted"),
])
def test_linf_project_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.linf_project, wrong)
    assert not passed and words in message and "np.clip(x +" not in message


# --- private_gradient -----------------------------------------------------------------------------

def _opacus_style(per_example, max_norm, noise_multiplier, noise):
    """Without the 1e-6, with a loop: still right."""
    total = np.zeros(per_example.shape[1])
    for g in per_example:
        total += g * min(1.0, max_norm / np.linalg.norm(g))
    return (total + noise_multiplier * max_norm * noise) / per_example.shape[0]


def _rescale_when_above(per_example, max_norm, noise_multiplier, noise):
    norms = np.linalg.norm(per_example, axis=1)
    clipped = np.where((norms > max_norm)[:, None], per_example / norms[:, None] * max_norm, per_example)
    return clipped.mean(axis=0) + noise_multiplier * max_norm * noise / len(per_example)


@pytest.mark.parametrize("answer", [solutions.private_gradient, _opacus_style, _rescale_when_above])
def test_private_gradient_accepts_equivalent_answers(answer):
    assert _verdict(ex.private_gradient, answer) == (True, "✓ private_gradient: correct on all 4 test cases.")


@pytest.mark.parametrize("wrong, words", [
    (ex._clip_mean, "each example's gradient"),
    (ex._normalise, "exactly max_norm"),
    (ex._noise_sigma, "scale with the clipping norm"),
    (ex._noise_after_mean, "too large by the batch size"),
    (ex._clip_values, "whole"),
    (ex._no_noise, "no noise"),
    (ex._no_clip, "no example's gradient was clipped"),
    (lambda g, C, s, z: g.sum(0) + s * C * z, "wrong"),
    (not_attempted, "not attempted"),
])
def test_private_gradient_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.private_gradient, wrong)
    assert not passed and words in message, message


def test_cases_have_norms_on_both_sides_of_the_clip_and_a_case_without_noise():
    cases = ex.private_gradient.cases()
    assert any(s == 0 for _, _, s, _ in cases) and any(C != 1 for _, C, _, _ in cases)
    for g, C, _, _ in cases[:2]:
        norms = np.linalg.norm(g, axis=1)
        assert (norms > C).any() and (norms < C).any()
