"""The exercises of notebook 12: each checker accepts the answer and equivalent ones, and rejects
typical wrong answers with the message meant for them."""
import numpy as np
import pytest
import torch

from nncourse import compression
from nncourse.exercises import compression as ex
from nncourse.exercises.solutions import compression as solutions
from exercise_support import not_attempted, verdict as _verdict


# --- mlp_macs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    solutions.mlp_macs,
    lambda sizes: int(np.dot(sizes[:-1], sizes[1:])),
    lambda sizes: sum(torch.nn.Linear(a, b).weight.numel() for a, b in zip(sizes, sizes[1:])),
])
def test_macs_accepts_equivalent_answers(answer):
    assert _verdict(ex.mlp_macs, answer) == (True, "✓ mlp_macs: correct on all 4 test cases.")


@pytest.mark.parametrize("wrong, words", [
    (lambda sizes: compression.mlp_cost(sizes)["params"], "number of parameters"),
    (lambda sizes: 2 * solutions.mlp_macs(sizes), "FLOPs"),
    (lambda sizes: sum(sizes[1:]), "counts neurons"),
    (lambda sizes: [1, 2], "one number"),
    (lambda sizes: sizes[0] * sizes[-1], "you give"),
    (not_attempted, "not attempted"),
])
def test_macs_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.mlp_macs, wrong)
    assert not passed and words in message, message


# --- quantize_per_channel_symmetric ---------------------------------------------------------------

def _with_torch(w, bits):
    """Another correct answer: PyTorch's per-channel kernels give the values, the scales give q."""
    qmax = 2 ** (bits - 1) - 1
    amax = torch.from_numpy(np.abs(w).max(1))
    scale = torch.where(amax > 0, amax, torch.ones_like(amax)) / qmax
    values = torch.fake_quantize_per_channel_affine(torch.from_numpy(w).float(), scale.float(),
                                                    torch.zeros(len(w), dtype=torch.int32), 0, -qmax - 1, qmax)
    return np.round(values.double().numpy() / scale.float().double().numpy()[:, None]), scale.numpy()


def _zero_scale_eps(w, bits):  # tiny positive scale for the zero row: also fine
    qmax = 2 ** (bits - 1) - 1
    scale = np.maximum(np.abs(w).max(1), 1e-12) / qmax
    return np.clip(np.rint(w / scale[:, None]), -qmax - 1, qmax).astype(int), scale


@pytest.mark.parametrize("answer", [solutions.quantize_per_channel_symmetric, _with_torch, _zero_scale_eps])
def test_per_channel_accepts_equivalent_answers(answer):
    passed, message = _verdict(ex.quantize_per_channel_symmetric, answer)
    assert passed, message


def _nan_scale(w, bits):
    qmax = 2 ** (bits - 1) - 1
    scale = np.abs(w).max(axis=1, keepdims=True) / qmax
    with np.errstate(all="ignore"):
        return np.nan_to_num(np.round(w / scale)).astype(np.int64), scale.ravel()


@pytest.mark.parametrize("wrong, words", [
    (ex._per_tensor, "per-tensor"),
    (ex._power_of_two, "falls off the grid"),
    (ex._truncated, "truncates toward zero"),
    (ex._per_column, "one scale per column"),
    (_nan_scale, "scale 0"),
    (lambda w, bits: solutions.quantize_per_channel_symmetric(w, bits)[0], "return two things"),
    (lambda w, bits: (solutions.quantize_per_channel_symmetric(w, bits)[0].T, np.ones(len(w))), "shape"),
    (lambda w, bits: (solutions.quantize_per_channel_symmetric(w, bits)[0] * 2,
                      solutions.quantize_per_channel_symmetric(w, bits)[1] / 2), "signed range"),
    (not_attempted, "not attempted"),
])
def test_per_channel_rejects_typical_mistakes(wrong, words):
    passed, message = _verdict(ex.quantize_per_channel_symmetric, wrong)
    assert not passed and words in message, message


def test_the_cases_contain_the_traps():
    cases = ex.quantize_per_channel_symmetric.cases()
    assert any((np.abs(w).max(1) == 0).any() for w, _ in cases)           # a dead row
    assert {bits for _, bits in cases} >= {2, 4, 8}
    _, scale = solutions.quantize_per_channel_symmetric(*cases[0])
    assert scale.max() > 5 * np.median(scale)                              # an outlier channel
