"""nncourse.at_scale.compression: PTQ, QAT with the STE, pruning, shrink, distillation, ONNX Runtime."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nncourse import compression as C
from nncourse.at_scale import compression as AC
from nncourse.at_scale.training import evaluate, fit


def _data(seed=0, n=240):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    y = (X[:, :3].sum(1) > 0).astype(np.int64) + 2 * (X[:, 3] > 0)
    return X, y


def test_quantize_weights_snaps_every_linear_to_the_package_grid():
    model = AC.mlp([12, 16, 4], seed=0)
    for per_channel in (False, True):
        q = AC.quantize_weights(model, 3, per_channel=per_channel)
        for layer, original in zip(AC.linears(q), AC.linears(model)):
            w = original.weight.detach().numpy()
            qp = C.calibrate(w, 3, "symmetric", axis=0 if per_channel else None)
            np.testing.assert_array_equal(layer.weight.detach().numpy(), C.fake_quantize(w, qp))
            rows = [np.unique(r).size for r in layer.weight.detach().numpy()]
            assert max(rows) <= 8
            torch.testing.assert_close(layer.bias, original.bias)
    assert not torch.equal(AC.linears(model)[0].weight, AC.linears(AC.quantize_weights(model, 3))[0].weight)


def test_ste_passes_the_gradient_straight_through_and_qat_trains():
    w = torch.randn(5, 7, requires_grad=True)
    out = AC.ste_fake_quantize(w, 4)
    qp = C.calibrate(w.detach().numpy(), 4, "symmetric", axis=0)
    np.testing.assert_allclose(out.detach().numpy(), C.fake_quantize(w.detach().numpy(), qp), atol=1e-6)
    (out * torch.arange(7.0)).sum().backward()
    torch.testing.assert_close(w.grad, torch.arange(7.0).expand(5, 7))  # identity through the rounding
    X, y = _data()
    model = AC.mlp([12, 32, 4], seed=0)
    qat = AC.to_qat(model, 2)
    assert isinstance(qat[0], AC.QuantLinear) and "bits=2" in repr(qat)
    torch.testing.assert_close(qat[0].weight, model[0].weight)
    before = evaluate(qat, (X, y))["loss"]
    fit(qat, (X, y), epochs=15, lr=1e-2, progress=False, verbose=False)
    assert evaluate(qat, (X, y))["loss"] < 0.7 * before
    frozen = AC.quantize_weights(AC.to_qat(qat, 2), 2, per_channel=True)  # what is deployed computes the same
    torch.testing.assert_close(frozen(torch.from_numpy(X)), qat(torch.from_numpy(X)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("amount", [0.5, 0.8])
def test_prune_model_uses_torch_prune_and_shrink_keeps_the_function(amount):
    model = AC.mlp([12, 20, 10, 4], seed=1)
    p = AC.prune_model(model, amount)
    for layer, original in zip(AC.linears(p), AC.linears(model)):
        mask = C.magnitude_mask(original.weight.detach().numpy(), amount)
        np.testing.assert_array_equal(layer.weight.detach().numpy(), original.weight.detach().numpy() * mask)
        assert not hasattr(layer, "weight_mask")  # made permanent
    s = AC.zero_pruned_biases(AC.prune_model(model, amount, structured=True))
    layers = AC.linears(s)
    assert (layers[-1].weight != 0).all()  # output classes kept
    dead = (layers[0].weight == 0).all(1)
    assert int(dead.sum()) == round(amount * 20)
    small = AC.shrink(s)
    assert AC.linears(small)[0].out_features == 20 - round(amount * 20)
    x = torch.randn(9, 12)
    torch.testing.assert_close(small(x), s(x))
    assert AC.model_cost(small)["macs"] < AC.model_cost(model)["macs"]
    assert AC.model_cost(p, sparse=True)["macs"] == sum(int((l.weight != 0).sum()) for l in AC.linears(p))


def test_pruning_masks_survive_fine_tuning():
    X, y = _data(1)
    pm = AC.prune_model(AC.mlp([12, 16, 4], seed=0), 0.7, permanent=False)
    zeros = [(l.weight == 0) for l in AC.linears(pm)]
    fit(pm, (X, y), epochs=3, lr=1e-2, progress=False, verbose=False)
    AC.make_permanent(pm)
    for z, layer in zip(zeros, AC.linears(pm)):
        assert (layer.weight[z] == 0).all()


def test_distillation_loss_and_training():
    s, t, y = torch.randn(6, 4, requires_grad=True), torch.randn(6, 4), torch.randint(0, 4, (6,))
    loss = AC.distillation_loss(s, t, y, T=3.0, alpha=1.0)
    value, _ = C.distillation_loss_forward(s.detach().double().numpy(), t.double().numpy(), 3.0)
    assert float(loss.detach()) == pytest.approx(value, rel=1e-5)
    assert float(AC.distillation_loss(s, t, y, alpha=0.0).detach()) == pytest.approx(float(F.cross_entropy(s, y).detach()))
    X, y = _data(2)
    teacher = AC.mlp([12, 64, 4], seed=0)
    fit(teacher, (X, y), epochs=20, lr=1e-2, progress=False, verbose=False)
    student = AC.mlp([12, 8, 4], seed=1)
    history = AC.distill(student, teacher, (X, y), (X, y), epochs=15, lr=1e-2, progress=False, verbose=False)
    assert history.epochs == 15 and history.train_loss[-1] < 0.5 * history.train_loss[0]
    agree = (student(torch.from_numpy(X)).argmax(1) == teacher(torch.from_numpy(X)).argmax(1)).float().mean()
    assert agree > 0.85
    with pytest.raises(ValueError, match="T > 0"):
        AC.distill(student, teacher, (X, y), T=0)


def test_onnx_runtime_float_and_int8_agree_with_torch(tmp_path):
    model = AC.mlp([12, 128, 64, 4], seed=0).eval()
    x = np.random.default_rng(0).normal(size=(7, 12)).astype(np.float32)
    path = AC.export_onnx(model, torch.from_numpy(x[:2]), tmp_path / "m.onnx")
    session = AC.ort_session(path)
    want = AC.torch_predictor(model)(x)
    np.testing.assert_allclose(AC.ort_run(session, x), want, atol=1e-5)  # batch 7 though exported with 2
    int8 = AC.ort_session(AC.ort_int8(path, tmp_path / "m8.onnx"))
    got = AC.ort_run(int8, x)
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max() and not np.array_equal(got, want)
    assert AC.onnx_bytes(tmp_path / "m8.onnx") < 0.5 * AC.onnx_bytes(path)  # 1 byte a weight, not 4
    timing = AC.latency(lambda a: AC.ort_run(session, a), x, repeats=5, warmup=1)
    assert set(timing) == {"p50_ms", "p95_ms", "per_sec"} and 0 < timing["p50_ms"] <= timing["p95_ms"]
    with pytest.raises(ValueError, match="repeats must be at least 2"):
        AC.latency(len, x, repeats=1)


def test_mlp_and_cost_errors():
    with pytest.raises(ValueError, match="at least an input and an output"):
        AC.mlp([3])
    model = AC.mlp([64, 32, 10])
    assert AC.model_cost(model) == C.mlp_cost([64, 32, 10])
    assert AC.model_cost(model, weight_bits=8)["bytes"] == C.mlp_cost([64, 32, 10], weight_bits=8)["bytes"]
