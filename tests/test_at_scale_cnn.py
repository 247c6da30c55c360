"""The PyTorch side of notebook 06 (nncourse.at_scale.cnn): the small CNN, the speed-habit timing, saliency."""
import numpy as np
import pytest
import torch

from nncourse.at_scale.cnn import saliency_maps, speed_habits, torch_cnn, training_throughput


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("shape", [(8, 8), (28, 28), (12, 16)])
def test_torch_cnn_shapes(shape):
    torch.manual_seed(0)
    model = torch_cnn(shape, 10, channels=(4, 8), hidden=16).eval()
    assert model(torch.zeros(3, 1, *shape)).shape == (3, 10)


def test_torch_cnn_rejects_sizes_it_cannot_pool_twice():
    with pytest.raises(ValueError, match=r"divisible by 4.*\(10, 10\)"):
        torch_cnn((10, 10))


def test_saliency_of_a_linear_model_is_its_weight_row():
    """For logits = W x + b the gradient of score c is W[c] whatever x is: an exact check."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    images = np.random.default_rng(0).standard_normal((4, 1, 4, 4)).astype(np.float32)
    classes = np.array([0, 2, 1, 2])
    maps = saliency_maps(model, images, classes)
    weight = model[1].weight.detach().numpy()
    np.testing.assert_allclose(maps, np.abs(weight[classes]).reshape(4, 4, 4), rtol=1e-6)
    predicted = model(torch.from_numpy(images)).argmax(1).numpy()
    np.testing.assert_allclose(saliency_maps(model, images), np.abs(weight[predicted]).reshape(4, 4, 4), rtol=1e-6)
    with pytest.raises(ValueError, match="one class per image"):
        saliency_maps(model, images, [0, 1])


def test_saliency_leaves_the_model_mode_alone():
    model = torch_cnn((8, 8), channels=(2, 4), hidden=8).train()
    maps = saliency_maps(model, np.random.default_rng(0).random((2, 1, 8, 8)))
    assert maps.shape == (2, 8, 8) and (maps >= 0).all() and maps.max() > 0 and model.training


@pytest.mark.parametrize("habits", [dict(), dict(data_on_device=False), dict(channels_last=True), dict(bf16=True)])
def test_training_throughput_trains(habits):
    torch.manual_seed(0)
    model = torch_cnn((8, 8), channels=(2, 4), hidden=8)
    before = [p.detach().clone() for p in model.parameters()]
    X = np.random.default_rng(0).random((40, 1, 8, 8))
    speed = training_throughput(model, X, np.arange(40) % 10, batch_size=16, device="cpu", **habits)
    assert speed > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the weights moved


def test_speed_habits_table():
    rows = speed_habits(lambda: torch_cnn((8, 8), channels=(2, 4), hidden=8), np.zeros((32, 1, 8, 8)),
                        np.zeros(32, dtype=int), batch_size=8, big_batch=16, device="cpu")
    setups = [r["setup"] for r in rows]
    assert len(rows) == 7 and setups[0].startswith("plain") and setups[-1].startswith("plain again")
    assert all(r["samples_per_sec"] > 0 and np.isclose(r["speedup"], r["samples_per_sec"] / rows[0]["samples_per_sec"])
               for r in rows)


def test_speed_habits_changes_one_habit_per_row_and_repeats_the_plain_setup(monkeypatch):
    import nncourse.at_scale.cnn as cnn

    calls = []

    def fake_throughput(model, X, y, **options):
        calls.append(options)
        return 100.0 + 10 * len(calls)  # a different speed per run

    monkeypatch.setattr(cnn, "training_throughput", fake_throughput)
    rows = speed_habits(lambda: None, np.zeros((4, 1, 8, 8)), np.zeros(4, dtype=int), batch_size=8, big_batch=32,
                        epochs=2, device="cpu")
    plain = dict(batch_size=8, data_on_device=False, channels_last=False, bf16=False, epochs=2, device="cpu", seed=0)
    changes = [{}, {"data_on_device": True}, {"channels_last": True}, {"bf16": True}, {"batch_size": 32},
               {"data_on_device": True, "channels_last": True, "bf16": True, "batch_size": 32}, {}]
    assert calls == [{**plain, **change} for change in changes]
    assert [r["speedup"] for r in rows] == pytest.approx([(100 + 10 * k) / 110 for k in range(1, 8)])


def test_training_throughput_rejects_flat_data():
    with pytest.raises(ValueError, match=r"images \(N, C, H, W\)"):
        training_throughput(torch_cnn((8, 8)), np.zeros((4, 64)), np.zeros(4), device="cpu")
