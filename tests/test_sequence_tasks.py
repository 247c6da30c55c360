"""Marked recall data, the recurrent sequence classifier (vs torch) and its training loop."""
import numpy as np
import pytest

from nncourse import compare_with_torch, gradcheck
from nncourse.sequence_tasks import (
    MemoryResult, SequenceClassifier, clip_grad_norm, marked_recall, train_memory_task,
)


def test_marked_recall_layout():
    X, y = marked_recall(50, 7, num_symbols=3, noise=0.5, seed=1)
    assert X.shape == (50, 9, 5) and y.shape == (50,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1, 2}
    np.testing.assert_array_equal(X[:, 0, :3].argmax(axis=1), y)         # the symbol, one-hot, at step 0
    np.testing.assert_array_equal(X[:, 0, :3].sum(axis=1), 1.0)
    np.testing.assert_array_equal(X[:, :, 3], np.eye(9)[0][None].repeat(50, 0))   # marker only at step 0
    np.testing.assert_array_equal(X[:, :, 4], np.eye(9)[-1][None].repeat(50, 0))  # cue only at the end
    noise = X[:, 1:-1, :3]
    assert abs(noise.std() - 0.5) < 0.05 and abs(noise.mean()) < 0.05
    assert np.all(X[:, -1, :4] == 0)
    np.testing.assert_array_equal(X, marked_recall(50, 7, num_symbols=3, noise=0.5, seed=1)[0])
    assert not np.array_equal(X, marked_recall(50, 7, num_symbols=3, noise=0.5, seed=2)[0])
    X0, _ = marked_recall(4, 0)
    assert X0.shape == (4, 2, 6)


def test_marked_recall_errors():
    with pytest.raises(ValueError, match="delay must be an integer >= 0"):
        marked_recall(5, -1)
    with pytest.raises(ValueError, match="num_symbols must be at least 2"):
        marked_recall(5, 3, num_symbols=1)
    with pytest.raises(ValueError, match="noise"):
        marked_recall(5, 3, noise=float("nan"))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        marked_recall(0, 3)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("seed", [0, 1])
def test_classifier_matches_torch_and_finite_differences(cell, seed):
    model = SequenceClassifier(cell, 6, 5, 4, seed=seed, forget_bias=1.0 if cell == "lstm" else 0.0)
    X, _ = marked_recall(3, 5 + 20 * seed, seed=seed)
    errors = compare_with_torch(model, X, seed=seed)
    assert set(errors) >= {"out", "x", "rnn.weight_hh_l0", "head.weight", "head.bias"}
    assert max(errors.values()) < 1e-10, errors
    small = SequenceClassifier(cell, 6, 3, 4, seed=seed)
    assert max(gradcheck(small, marked_recall(2, 3, seed=seed)[0]).values()) < 1e-6


def test_classifier_params_are_the_layers_arrays():
    model = SequenceClassifier("lstm", 6, 4, 3)
    model.params["rnn.weight_hh_l0"][0, 0] = 42.0
    model.params["head.bias"][1] = -1.0
    assert model.rnn.params["weight_hh_l0"][0, 0] == 42.0 and model.head.params["bias"][1] == -1.0
    with pytest.raises(ValueError, match="cell must be one of"):
        SequenceClassifier("gru", 6, 4, 3)
    with pytest.raises(ValueError, match="forget_bias only applies"):
        SequenceClassifier("rnn", 6, 4, 3, forget_bias=1.0)


def test_classifier_is_a_container_of_its_two_layers():
    from nncourse.layers import Container

    model = SequenceClassifier("rnn", 6, 4, 3)
    assert isinstance(model, Container) and list(model.named_children()) == ["rnn", "head"]
    assert list(model.params) == [f"rnn.{k}" for k in model.rnn.params] + [f"head.{k}" for k in model.head.params]
    model.eval()
    assert not model.rnn.training and not model.head.training
    model.astype(np.float32)
    assert all(v.dtype == np.float32 for v in model.params.values())


def test_clip_grad_norm_matches_torch():
    import torch

    rng = np.random.default_rng(0)
    grads = {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
    tensors = [torch.tensor(g, requires_grad=True) for g in grads.values()]
    for t, g in zip(tensors, grads.values()):
        t.grad = torch.tensor(g)
    before = clip_grad_norm(grads, 0.5)
    torch_before = torch.nn.utils.clip_grad_norm_(tensors, 0.5)
    assert abs(before - float(torch_before)) < 1e-12
    for t, g in zip(tensors, grads.values()):
        np.testing.assert_allclose(g, t.grad.numpy(), atol=1e-12)
    assert abs(np.sqrt(sum((g**2).sum() for g in grads.values())) - 0.5) < 1e-5
    small = {"a": np.full(3, 0.1)}
    clip_grad_norm(small, 1.0)
    np.testing.assert_array_equal(small["a"], 0.1)  # under the limit: untouched


def test_training_learns_a_short_delay_and_is_reproducible():
    result = train_memory_task("lstm", 2, hidden_size=8, steps=150, noise=0.5, seed=0, test_size=300)
    assert isinstance(result, MemoryResult) and len(result.losses) == 150
    assert result.accuracy > 0.9 and np.mean(result.losses[-10:]) < np.mean(result.losses[:10]) / 3
    again = train_memory_task("lstm", 2, hidden_size=8, steps=150, noise=0.5, seed=0, test_size=300)
    assert again.losses == result.losses and again.accuracy == result.accuracy
    assert "LSTM, delay 2" in repr(result)
