"""The NumPy training loop: penalties match PyTorch, training converges, early stopping works."""
import numpy as np
import pytest
import torch

import nncourse
from nncourse import data
from nncourse.regularization import Dropout
from nncourse.training import Trainer, train


def circle_data(n=200, noise=0.1, seed=0):
    X, y = data.toy_dataset("circle", n=n, noise=noise, seed=seed)
    return X / 5.0, y


@pytest.mark.parametrize("seed", [0, 1])
def test_l2_penalty_equals_torch_weight_decay_on_weights_only(seed):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((12, 3)), rng.integers(0, 3, 12)
    model = nncourse.mlp([3, 5, 3], "tanh", seed=seed)
    twin = model.to_torch()
    trainer = Trainer(model, "momentum", lr=0.1, l2=0.05, loss="cross_entropy")
    weights = [p for n, p in twin.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in twin.named_parameters() if n.endswith("bias")]
    opt = torch.optim.SGD([{"params": weights, "weight_decay": 0.05}, {"params": biases}], lr=0.1, momentum=0.9)
    for _ in range(25):
        trainer.step(X, y)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(twin(torch.from_numpy(X)), torch.from_numpy(y)).backward()
        opt.step()
    for name, p in twin.named_parameters():
        np.testing.assert_allclose(model.params[name], p.detach().numpy(), atol=1e-10)
    expected = 0.025 * sum(float((w.detach() ** 2).sum()) for w in weights)
    assert trainer.penalty() == pytest.approx(expected, rel=1e-12)


def test_l1_penalty_matches_autograd_with_adam():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((10, 2)), rng.standard_normal(10)
    model = nncourse.mlp([2, 4, 1], "relu", seed=3)
    twin = model.to_torch()
    trainer = Trainer(model, "adam", lr=0.01, l1=0.02, loss="mse")
    opt = torch.optim.Adam(twin.parameters(), lr=0.01)
    for _ in range(25):
        trainer.step(X, y)
        opt.zero_grad()
        out = twin(torch.from_numpy(X)).reshape(-1)
        penalty = sum(p.abs().sum() for n, p in twin.named_parameters() if n.endswith("weight"))
        (torch.nn.functional.mse_loss(out, torch.from_numpy(y)) + 0.02 * penalty).backward()
        opt.step()
    for name, p in twin.named_parameters():
        np.testing.assert_allclose(model.params[name], p.detach().numpy(), atol=1e-10)


def test_training_learns_the_circle():
    X, y = circle_data()
    model = nncourse.mlp([2, 8, 8, 2], "tanh", seed=0)
    history = train(model, (X[:150], y[:150]), (X[150:], y[150:]), epochs=60, lr=0.03, batch_size=16)
    assert history.train_loss[-1] < 0.3 * history.train_loss[0]
    assert history.val_accuracy[-1] > 0.9
    assert history.epochs == 60 and not history.stopped_early


def test_binary_logit_and_regression_targets_are_reshaped():
    X, y = circle_data()
    model = nncourse.mlp([2, 8, 1], "tanh", seed=0)
    history = train(model, (X, y), epochs=40, lr=0.05, loss="bce")
    assert history.train_accuracy[-1] > 0.9
    rng = np.random.default_rng(0)
    Xr = rng.uniform(-1, 1, (200, 2))
    yr = Xr[:, 0] - 0.5 * Xr[:, 1]
    reg = train(nncourse.mlp([2, 8, 1], "tanh", seed=0), (Xr, yr), epochs=40, lr=0.02, loss="mse")
    assert reg.train_loss[-1] < 0.01 and reg.train_accuracy == []


def test_early_stopping_stops_and_restores_the_best_epoch():
    X, y = circle_data(60, noise=0.5, seed=1)   # few noisy points, a big network: it will overfit
    model = nncourse.mlp([2, 64, 64, 2], "relu", seed=0)
    history = train(model, (X[:30], y[:30]), (X[30:], y[30:]), epochs=400, lr=0.01, patience=10)
    assert history.stopped_early and history.epochs < 400
    assert history.epochs == history.best_epoch + 10
    best = min(history.val_loss)
    assert history.val_loss[history.best_epoch - 1] == best
    trainer = Trainer(model, loss="cross_entropy")
    assert trainer.evaluate(X[30:], y[30:])["loss"] == pytest.approx(best, rel=1e-12)  # restored
    assert history.test_loss is None and history.test_accuracy is None  # no test data given


def test_test_data_is_evaluated_once_on_the_restored_model():
    X, y = circle_data(120, noise=0.5, seed=1)
    train_set, val_set, test_set = (X[:30], y[:30]), (X[30:60], y[30:60]), (X[60:], y[60:])
    model = nncourse.mlp([2, 64, 64, 2], "relu", seed=0)
    history = train(model, train_set, val_set, test_data=test_set, epochs=400, lr=0.01, patience=10)
    assert history.stopped_early and history.epochs == history.best_epoch + 10
    expected = Trainer(model).evaluate(*test_set)  # the model holds the best epoch's weights
    assert history.test_loss == pytest.approx(expected["loss"], rel=1e-12)
    assert history.test_accuracy == pytest.approx(expected["accuracy"], rel=1e-12)
    assert history.test_loss != pytest.approx(history.val_loss[history.best_epoch - 1])  # another set
    assert len(history.val_loss) == history.epochs  # the test set is not watched per epoch

    reg = train(nncourse.mlp([2, 8, 1], "tanh", seed=0), train_set, test_data=(X[60:], X[60:, 0]), epochs=3,
                loss="mse")
    assert reg.test_loss > 0 and reg.test_accuracy is None  # regression: no accuracy


def test_same_seed_same_history_and_dropout_is_off_in_evaluation():
    X, y = circle_data()
    runs = []
    for _ in range(2):
        model = nncourse.Sequential(nncourse.Linear(2, 16), nncourse.ReLU(), Dropout(0.3, seed=1), nncourse.Linear(16, 2))
        runs.append(train(model, (X, y), (X, y), epochs=5, lr=0.02, seed=4))
    assert runs[0].train_loss == runs[1].train_loss
    # evaluation mode: train and validation are the same set, so the losses agree exactly
    assert runs[0].train_loss == runs[0].val_loss


def test_divergence_raises_a_clear_error():
    X, y = circle_data()
    trainer = Trainer(nncourse.mlp([2, 8, 1], "relu", seed=0), "sgd", lr=1e6, loss="mse")
    with pytest.raises(FloatingPointError, match=r"diverged - try a smaller learning rate than lr=1e\+06"):
        for _ in range(50):
            trainer.step(X, y * 1e3)


def test_bad_input():
    model = nncourse.mlp([2, 4, 2], seed=0)
    X, y = circle_data(20)
    with pytest.raises(ValueError, match="unknown loss 'hinge'; known: mse, bce, cross_entropy"):
        Trainer(model, loss="hinge")
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0, got -1"):
        Trainer(model, l2=-1)
    with pytest.raises(ValueError, match=r"y must have one target per row of X \(20 rows\), got shape \(19,\)"):
        train(model, (X, y[:-1]))
    with pytest.raises(ValueError, match="X must be 2-D, got a 1-D array"):
        train(model, (X[:, 0], y))
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"X must be finite, got 1 NaN/inf value\(s\) \(first at index \(3, 1\)\)"):
        train(model, (bad, y))
    with pytest.raises(ValueError, match="early stopping .* needs val_data"):
        train(model, (X, y), patience=3)
    with pytest.raises(TypeError, match=r"test_data must be a pair \(X, y\)"):
        train(model, (X, y), test_data=X)
    with pytest.raises(TypeError, match=r"train_data must be a pair \(X, y\)"):
        train(model, X)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        Trainer(model, batch_size=0)
