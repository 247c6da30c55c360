"""The PyTorch side: device choice, seeding, and the fit loop."""
import numpy as np
import pytest
import torch
import torch.nn as nn

import nncourse
from nncourse.data import load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def linear_model():
    return nn.Linear(64, 10)


def test_get_device_prints_and_falls_back_to_cpu(capsys):
    device = nncourse.get_device()
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device.type == expected or device.type == "mps"
    assert f"Using device: {device.type}" in capsys.readouterr().out


def test_fit_learns_digits_and_reports_history(digits, capsys):
    torch.manual_seed(0)
    history = nncourse.fit(linear_model(), (digits.X_train, digits.y_train), (digits.X_test, digits.y_test),
                           epochs=8, lr=0.01, batch_size=64, device="cpu", progress=False)
    assert history.epochs == 8 and len(history.val_loss) == 8
    assert history.train_loss[-1] < history.train_loss[0] * 0.5
    assert history.metrics["val_accuracy"][-1] > 0.9
    assert history.samples_per_sec > 0 and history.seconds > 0 and history.device == "cpu"
    assert "samples/s" in capsys.readouterr().out


def test_same_seed_same_numbers(digits):
    def run(seed):
        nncourse.seed_everything(seed)
        model = linear_model()
        return nncourse.fit(model, (digits.X_train, digits.y_train), epochs=2, lr=0.01, device="cpu",
                            seed=seed, progress=False, verbose=False).train_loss
    assert run(3) == run(3)
    assert run(3) != run(4)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw"])
def test_every_named_optimizer_trains(digits, optimizer):
    nncourse.seed_everything(0)
    lr = 0.1 if optimizer in ("sgd", "momentum") else 0.01
    history = nncourse.fit(linear_model(), (digits.X_train, digits.y_train), epochs=3, lr=lr, device="cpu",
                           optimizer=optimizer, progress=False, verbose=False)
    assert history.train_loss[-1] < history.train_loss[0]


def test_bf16_autocast_runs_on_cpu(digits):
    nncourse.seed_everything(0)
    history = nncourse.fit(linear_model(), (digits.X_train, digits.y_train), epochs=2, lr=0.01, device="cpu",
                           amp="bf16", progress=False, verbose=False)
    assert history.train_loss[-1] < history.train_loss[0]


def test_evaluate(digits):
    model = linear_model()
    result = nncourse.evaluate(model, (digits.X_test, digits.y_test))
    assert set(result) == {"loss", "accuracy"} and 0 <= result["accuracy"] <= 1


def test_divergence_stops_with_advice(digits):
    nncourse.seed_everything(0)
    X = digits.X_train * 1e6
    with pytest.raises(FloatingPointError, match="diverged - try a smaller learning rate than lr=1e\\+30"):
        nncourse.fit(linear_model(), (X, digits.y_train), epochs=3, lr=1e30, optimizer="sgd", device="cpu",
                     progress=False, verbose=False)


def _trained_weight(X, y, sample_weight=None, epochs=5):
    """Full-batch SGD from the same start, so the result does not depend on the shuffle."""
    torch.manual_seed(0)
    model = linear_model().double()
    nncourse.fit(model, (torch.from_numpy(X), torch.from_numpy(y)), epochs=epochs, lr=0.5, optimizer="sgd",
                 batch_size=len(X), device="cpu", sample_weight=sample_weight, progress=False, verbose=False)
    return model.weight.detach().numpy()


def test_integer_sample_weights_equal_repeating_the_examples(digits):
    X, y = digits.X_train[:200].astype(np.float64), digits.y_train[:200]
    w = np.random.default_rng(0).integers(0, 4, len(y))  # 0 drops an example, 3 counts it three times
    weighted = _trained_weight(X, y, sample_weight=w)
    repeated = _trained_weight(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted, repeated, rtol=0, atol=1e-6)
    assert np.abs(weighted - _trained_weight(X, y)).max() > 1e-3  # the weights did change the result


def test_weighted_train_loss_is_the_weighted_mean(digits):
    X, y = digits.X_train[:300], digits.y_train[:300]
    w = np.random.default_rng(1).uniform(0.1, 3.0, len(y))
    torch.manual_seed(0)
    model = linear_model()
    expected = torch.nn.functional.cross_entropy(model(torch.from_numpy(X).float()), torch.from_numpy(y),
                                                 reduction="none").detach().numpy()
    history = nncourse.fit(model, (X, y), epochs=1, lr=1e-12, optimizer="sgd", batch_size=64, device="cpu",
                           sample_weight=w, progress=False, verbose=False)
    assert history.train_loss[0] == pytest.approx(np.sum(w * expected) / w.sum(), rel=1e-5)


def test_bad_sample_weight_is_a_clear_error(digits):
    pair = (digits.X_train, digits.y_train)
    n = len(digits.y_train)
    with pytest.raises(ValueError, match=rf"sample_weight must have one weight per example \({n}\), got 10"):
        nncourse.fit(linear_model(), pair, sample_weight=np.ones(10), device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"finite and non-negative, got values in \[-1, -1\]"):
        nncourse.fit(linear_model(), pair, sample_weight=-np.ones(n), device="cpu", progress=False)
    with pytest.raises(ValueError, match="sample_weight must not be all zero"):
        nncourse.fit(linear_model(), pair, sample_weight=np.zeros(n), device="cpu", progress=False)
    with pytest.raises(ValueError, match="sample_weight must be finite and non-negative.*with NaN/inf"):
        nncourse.fit(linear_model(), pair, sample_weight=np.full(n, np.nan), device="cpu", progress=False)
    with pytest.raises(TypeError, match="sample_weight must hold real numbers, got dtype <U1"):
        nncourse.fit(linear_model(), pair, sample_weight=np.array(["a"] * n), device="cpu", progress=False)
    with pytest.raises(TypeError, match="sample_weight must hold real numbers, got dtype complex128"):
        nncourse.fit(linear_model(), pair, sample_weight=np.ones(n) + 1j, device="cpu", progress=False)


def test_bad_input_is_a_clear_error(digits):
    X = digits.X_train.copy()
    X[3, 5] = np.nan
    with pytest.raises(ValueError, match=r"train\[0\] must be finite"):
        nncourse.fit(linear_model(), (X, digits.y_train), epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="same number of examples"):
        nncourse.fit(linear_model(), (digits.X_train, digits.y_train[:10]), epochs=1, device="cpu", progress=False)
    with pytest.raises(TypeError, match=r"pair \(X, y\)"):
        nncourse.fit(linear_model(), digits.X_train, epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        nncourse.fit(linear_model(), (digits.X_train, digits.y_train), lr=-1, device="cpu")
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        nncourse.fit(linear_model(), (digits.X_train, digits.y_train), optimizer="lbfgs", device="cpu")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        nncourse.fit(linear_model(), (digits.X_train, digits.y_train), epochs=0, device="cpu")


def test_history_plot_draws_both_curves_on_whole_epochs():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = nncourse.at_scale.training.History(device="cpu", train_loss=[1.0, 0.6, 0.5, 0.45, 0.4],
                                       val_loss=[1.1, 0.8, 0.7, 0.7, 0.72])
    fig, ax = plt.subplots()
    history.plot(ax, label="mlp")
    train, val = ax.get_lines()
    assert list(train.get_ydata()) == history.train_loss and list(val.get_ydata()) == history.val_loss
    assert val.get_linestyle() == "--" and val.get_color() == train.get_color()
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 5]
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
    plt.close(fig)


def _one_sgd_step(digits, **kwargs):
    """One full-batch SGD step from a seeded start; returns the weight change and the initial gradient."""
    X, y = torch.from_numpy(digits.X_train[:64]).double(), torch.from_numpy(digits.y_train[:64])
    torch.manual_seed(0)
    model = linear_model().double()
    before = model.weight.detach().clone()
    reference = linear_model().double()
    reference.load_state_dict(model.state_dict())
    torch.nn.functional.cross_entropy(reference(X), y).backward()
    grads = [p.grad for p in reference.parameters()]
    nncourse.fit(model, (X, y), epochs=1, lr=0.1, optimizer="sgd", batch_size=64, device="cpu",
                 progress=False, verbose=False, **kwargs)
    return model.weight.detach() - before, grads


def test_clip_grad_norm_rescales_the_whole_gradient(digits):
    change, grads = _one_sgd_step(digits, clip_grad_norm=0.01)
    norm = float(torch.sqrt(sum((g ** 2).sum() for g in grads)))
    assert norm > 0.01  # clipping is active
    torch.testing.assert_close(change, -0.1 * grads[0] * 0.01 / norm, rtol=1e-4, atol=1e-12)
    unclipped, _ = _one_sgd_step(digits, clip_grad_norm=1e6)  # a loose bound changes nothing
    torch.testing.assert_close(unclipped, -0.1 * grads[0], rtol=1e-6, atol=1e-12)


def test_warmup_starts_at_lr_over_steps_and_reaches_lr(digits):
    change, grads = _one_sgd_step(digits, warmup_steps=4)  # the first of 4 warm-up steps: lr / 4
    torch.testing.assert_close(change, -0.1 / 4 * grads[0], rtol=1e-6, atol=1e-12)
    seen = []

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            seen.append(self.param_groups[0]["lr"])
            return super().step(closure)

    nncourse.fit(linear_model(), (digits.X_train[:64], digits.y_train[:64]), epochs=6, lr=0.1, batch_size=16,
                 optimizer=lambda p: Spy(p, lr=0.1), warmup_steps=8, device="cpu", progress=False, verbose=False)
    np.testing.assert_allclose(seen[:10], [0.1 * k / 8 for k in range(1, 9)] + [0.1, 0.1])


def test_progress_bar_closes_when_training_fails(digits, monkeypatch):
    import tqdm.auto

    closed = []

    class Bar(tqdm.auto.tqdm):
        def close(self):
            closed.append(True)
            super().close()

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)

    def broken_loss(out, y):
        raise RuntimeError("a bug in the loss")

    with pytest.raises(RuntimeError, match="a bug in the loss"):
        nncourse.fit(linear_model(), (digits.X_train, digits.y_train), epochs=1, loss_fn=broken_loss,
                     device="cpu", verbose=False)
    assert closed


def test_clip_and_warmup_arguments_are_checked(digits):
    with pytest.raises(ValueError, match="clip_grad_norm must be None or a positive finite number, got 0"):
        nncourse.fit(linear_model(), (digits.X_train, digits.y_train), clip_grad_norm=0, device="cpu")
    with pytest.raises(ValueError, match="warmup_steps must be a non-negative integer, got 2.5"):
        nncourse.fit(linear_model(), (digits.X_train, digits.y_train), warmup_steps=2.5, device="cpu")
