"""The PyTorch side of notebook 10 (nncourse.at_scale.transfer): encoder, NT-Xent twin, probe head,
SimCLR and the label-budget runner on tiny synthetic data."""
import numpy as np
import pytest
import torch

from nncourse import transfer
from nncourse.at_scale import transfer as ts

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _bars(n_per_class=12, seed=0):
    """Two classes of 8x8 images: a horizontal or a vertical bar at a random place, plus noise."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label in (3, 4):
        for _ in range(n_per_class):
            img = rng.random((8, 8)) * 0.1
            k = rng.integers(1, 7)
            if label == 3:
                img[k, 1:7] = 1
            else:
                img[1:7, k] = 1
            images.append(img)
            labels.append(label)
    return np.array(images, dtype=np.float32)[:, None], np.array(labels)


@pytest.mark.parametrize("shape", [(8, 8), (28, 28)])
def test_encoder_width(shape):
    body = ts.make_encoder(shape, channels=(4, 6), seed=0)
    assert body(torch.zeros(2, 1, *shape)).shape == (2, ts.encoder_width(shape, (4, 6)))
    with pytest.raises(ValueError, match=r"divisible by 4.*\(10, 10\)"):
        ts.make_encoder((10, 10))


@pytest.mark.parametrize("seed", [0, 1])
def test_nt_xent_torch_equals_the_numpy_version(seed):
    rng = np.random.default_rng(seed)
    z1, z2 = rng.normal(size=(2, 6, 4))
    got = ts.nt_xent_torch(torch.tensor(z1), torch.tensor(z2), 0.2).item()
    assert got == pytest.approx(transfer.nt_xent(z1, z2, 0.2), abs=1e-12)


def test_head_from_probe_reproduces_the_probe():
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(30, 5)) * 3 + 1, np.repeat([5, 6, 8], 10)
    probe = transfer.fit_linear_probe(features, labels)
    head = ts.head_from_probe(torch.nn.Linear(5, 3).double(), probe)
    np.testing.assert_allclose(head(torch.tensor(features)).detach().numpy(), probe.logits(features), atol=1e-10)
    with pytest.raises(ValueError, match="needs"):
        ts.head_from_probe(torch.nn.Linear(4, 3), probe)


def test_train_steps_learns_and_frozen_body_does_not_move():
    X, y = _bars()
    model = ts.Classifier(ts.make_encoder(channels=(4, 4), seed=0), 16, 2)
    losses = ts.train_steps(model, X, y - 3, steps=60, lr=1e-2)
    assert losses[-1] < 0.2 * losses[0] and ts.accuracy(model, X, y - 3) == 1.0
    before = [p.detach().clone() for p in model.body.parameters()]
    ts.train_steps(model, X, 1 - (y - 3), steps=5, lr=1e-2, body_lr=0)   # body frozen: only the head moves
    assert all(torch.equal(a, b) for a, b in zip(before, model.body.parameters()))


def test_simclr_pretrain_lowers_the_loss_without_labels():
    X, _ = _bars(16)
    body = ts.make_encoder(channels=(4, 4), seed=0)
    losses = ts.simclr_pretrain(body, X, width=16, projection=8, steps=40, batch_size=16, lr=1e-2, progress=False)
    assert len(losses) == 40 and np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.3


def test_label_budget_runs_gives_every_method_the_same_draw(monkeypatch):
    draws = []
    sample = transfer.sample_per_class
    monkeypatch.setattr(transfer, "sample_per_class", lambda *a, **kw: draws.append(sample(*a, **kw)) or draws[-1])
    X, y = _bars(12, seed=0)
    Xt, yt = _bars(10, seed=1)
    body = ts.make_encoder(channels=(4, 4), seed=0)
    ts.train_steps(ts.Classifier(body, 16, 2), X, y - 3, steps=40, lr=1e-2)   # "pretrained"
    records = ts.label_budget_runs(body, lambda s: ts.make_encoder(channels=(4, 4), seed=s), (X, y), (Xt, yt),
                                   budgets=(1, 5), seeds=(0, 1), width=16, steps=20, progress=False)
    assert len(records) == 2 * 2 * 4
    assert len(draws) == 2 * 2                     # one draw per (seed, budget), shared by the 4 methods
    assert [len(d) for d in draws] == [2, 10, 2, 10] and not np.array_equal(draws[0], draws[2])   # seeds differ
    assert {r["method"] for r in records} == set(ts.METHODS)
    table = transfer.summarize(records)
    assert table[("linear probe", 5)][0] > 0.9 and table[("nearest class mean", 5)][0] > 0.9
    assert all(0 <= r["accuracy"] <= 1 for r in records)
    with pytest.raises(ValueError, match="unknown methods"):
        ts.label_budget_runs(body, None, (X, y), (Xt, yt), methods=("magic",))
