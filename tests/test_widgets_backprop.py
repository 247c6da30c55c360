"""Notebook 03's widgets, driven headless."""
import html

import numpy as np
import pytest
import torch

# --- Backprop stepper ----------------------------------------------------------------------------

from nncourse.widgets.backprop import (
    BACKWARD_STEPS, DEFAULT_PARAMS, FORWARD_STEPS, BackpropStepper, TrainingReplay, two_two_one,
)
from nncourse.widgets.drawing import GlyphStampedTexts


def _torch_221(inputs, params, activation):
    """The same 2-2-1 network with torch.nn layers (PyTorch's layouts), values and gradients."""
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), getattr(torch.nn, {"sigmoid": "Sigmoid", "tanh": "Tanh",
                                                                          "relu": "ReLU"}[activation])(),
                              torch.nn.Linear(2, 1), torch.nn.Sigmoid()).double()
    p = {k: torch.tensor(v, dtype=torch.float64) for k, v in params.items()}  # float64, not torch's float32
    with torch.no_grad():
        net[0].weight.copy_(torch.stack([torch.stack([p["w11"], p["w12"]]), torch.stack([p["w21"], p["w22"]])]))
        net[0].bias.copy_(torch.stack([p["b1"], p["b2"]]))
        net[2].weight.copy_(torch.stack([p["v1"], p["v2"]])[None])
        net[2].bias.copy_(p["c"][None])
    x = torch.tensor([inputs["x1"], inputs["x2"]], dtype=torch.float64, requires_grad=True)
    z = net[0](x)
    h = net[1](z)
    z3 = net[2](h)
    yhat = net[3](z3)
    loss = torch.nn.functional.mse_loss(yhat, torch.tensor([inputs["y"]], dtype=torch.float64))
    for t in (z, h, z3, yhat):
        t.retain_grad()
    loss.backward()
    values = {"z1": z[0], "z2": z[1], "h1": h[0], "h2": h[1], "z3": z3[0], "yhat": yhat[0], "L": loss}
    values = {k: v.item() for k, v in values.items()}
    grads = {"z1": z.grad[0], "z2": z.grad[1], "h1": h.grad[0], "h2": h.grad[1], "z3": z3.grad[0],
             "yhat": yhat.grad[0], "x1": x.grad[0], "x2": x.grad[1],
             "w11": net[0].weight.grad[0, 0], "w12": net[0].weight.grad[0, 1], "w21": net[0].weight.grad[1, 0],
             "w22": net[0].weight.grad[1, 1], "b1": net[0].bias.grad[0], "b2": net[0].bias.grad[1],
             "v1": net[2].weight.grad[0, 0], "v2": net[2].weight.grad[0, 1], "c": net[2].bias.grad[0]}
    return values, {k: v.item() for k, v in grads.items()}


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_two_one_matches_torch(activation, seed):
    rng = np.random.default_rng(seed)
    params = {k: float(rng.normal()) for k in DEFAULT_PARAMS}
    inputs = {"x1": float(rng.normal()), "x2": float(rng.normal()), "y": float(rng.uniform())}
    nodes = two_two_one(inputs, params, activation)
    want_values, want_grads = _torch_221(inputs, params, activation)
    for name, want in want_values.items():
        assert nodes[name].data == pytest.approx(want, abs=1e-12), name
    for name, want in want_grads.items():
        assert nodes[name].grad == pytest.approx(want, abs=1e-12), name


def test_stepper_reveals_values_then_gradients_equal_to_torch():
    w = BackpropStepper("tanh")
    assert w.value_texts["z1"].get_text() == "?" and w.grad_texts["z1"].get_text() == ""
    assert w.backward_step() is False and "forward step(s) to go" in w.status.value
    for i, name in enumerate(FORWARD_STEPS):
        assert w.forward_step()
        assert w.step_name() == ("forward", name)
        assert w.value_texts[name].get_text() != "?"
        later = FORWARD_STEPS[i + 1:]
        assert all(w.value_texts[n].get_text() == "?" for n in later)
    assert w.forward_step() is False
    want_values, want_grads = _torch_221(w.inputs(), w.params(), "tanh")
    for name in FORWARD_STEPS:
        assert w.value_texts[name].get_text() == f"{want_values[name]:.4g}"
    assert w.grad_texts["L"].get_text() == ""
    for name in BACKWARD_STEPS:
        assert w.backward_step()
        assert w.step_name() == ("backward", name)
        if name != "L":
            assert w.grad_texts[name].get_text() == f"{want_grads[name]:.4g}"
    assert w.grad_texts["L"].get_text() == "1"
    assert w.backward_step() is False and "every gradient is known" in w.status.value
    for pname in DEFAULT_PARAMS:
        assert f"∂L/∂{pname} = {want_grads[pname]:.4g}" in w.param_texts[pname].get_text()
    # The formula of the last step names both paths into x2.
    assert "∂L/∂z1 · w12 + ∂L/∂z2 · w22" in html.unescape(w.formula.value)


def test_stepper_editing_a_weight_changes_every_number():
    w = BackpropStepper("sigmoid")
    w.show_all()
    before = dict(w.grads)
    w.fields["w11"].value = -1.3
    w.fields["y"].value = 0.0
    want_values, want_grads = _torch_221(w.inputs(), w.params(), "sigmoid")
    assert w.values["L"] == pytest.approx(want_values["L"], abs=1e-12)
    assert w.grads["w12"] == pytest.approx(want_grads["w12"], abs=1e-12)
    assert w.grads["w12"] != before["w12"]
    assert w.value_texts["L"].get_text() == f"{want_values['L']:.4g}"
    assert w.param_texts["w11"].get_text().startswith("w11 = -1.3")
    w.activation.value = "relu"
    want_values, want_grads = _torch_221(w.inputs(), w.params(), "relu")
    assert w.grad_texts["z2"].get_text() == f"{want_grads['z2']:.4g}"
    w.reset()
    assert w.step_name() is None and w.value_texts["h1"].get_text() == "?"
    assert len(w.highlight.get_segments()) == 0


def test_stepper_highlights_the_edges_of_the_step():
    w = BackpropStepper()
    w.forward_step()  # z1 = w11 x1 + w12 x2 + b1: the two edges into z1
    segments = w.highlight.get_segments()
    assert len(segments) == 2
    for (start, end), origin in zip(segments, [(0.0, 1.0), (0.0, -1.0)]):  # x1 -> z1 and x2 -> z1
        along, target = np.subtract(end, start), np.subtract((1.7, 1.0), origin)
        assert abs(along[0] * target[1] - along[1] * target[0]) < 1e-9   # on the edge ...
        assert 0.7 < np.linalg.norm(along) / np.linalg.norm(target) < 1  # ... cut back to the circles
    np.testing.assert_allclose(w.current.get_offsets(), [[1.7, 1.0]])


def test_stepper_labels_are_stamped_where_matplotlib_draws_them():
    # Every label (values, gradients, the two-line parameter labels with their white box) is stamped
    # glyph by glyph; compared with matplotlib drawing the same Text: the same ink, in the same
    # place to within a pixel.
    w = BackpropStepper("tanh", params={"w12": -1.25e-5})  # an exponent and a minus sign too
    w.show_all()
    w.render()
    canvas = w.fig.canvas
    height = canvas.get_width_height()[1]
    renderer = canvas.get_renderer()
    assert len(w.numbers.texts) == 29 and "e-05" in w.param_texts["w12"].get_text()
    checked = 0
    for text in w.numbers.texts:
        if not text.get_text():
            continue
        pictures = []
        for draw in (text.draw, GlyphStampedTexts([text]).draw):
            canvas.restore_region(w._background)
            before = np.asarray(canvas.buffer_rgba())[..., :3].astype(float)
            draw(renderer)
            pictures.append(np.abs(np.asarray(canvas.buffer_rgba())[..., :3] - before).sum(axis=2))
        own, stamped = pictures
        box = text.get_window_extent(renderer).padded(4)
        inside = np.zeros_like(own, bool)
        inside[max(int(height - box.y1), 0):int(height - box.y0) + 1, max(int(box.x0), 0):int(box.x1) + 1] = True
        assert own[~inside].sum() == 0 and stamped[~inside].sum() == 0, text.get_text()  # nothing strays
        assert stamped.sum() == pytest.approx(own.sum(), rel=0.1), text.get_text()
        for axis in (0, 1):  # rows, then columns: the ink's extent and centre agree to a pixel
            p_own, p_stamped = own.sum(axis=1 - axis), stamped.sum(axis=1 - axis)
            assert abs(np.flatnonzero(p_own)[0] - np.flatnonzero(p_stamped)[0]) <= 1, text.get_text()
            assert abs(np.flatnonzero(p_own)[-1] - np.flatnonzero(p_stamped)[-1]) <= 1, text.get_text()
            centre = [np.average(np.arange(p.size), weights=p) for p in (p_own, p_stamped)]
            assert abs(centre[0] - centre[1]) < 1, text.get_text()
        checked += 1
    assert checked == 28  # every label but y's gradient (y is a target, not a node backward reaches)


def test_stepper_bad_arguments():
    with pytest.raises(ValueError, match=r"activation must be one of \['sigmoid', 'tanh', 'relu'\], got 'gelu'"):
        BackpropStepper("gelu")
    with pytest.raises(ValueError, match=r"missing values for \['c'\]"):
        two_two_one({"x1": 0, "x2": 0, "y": 0}, {k: 0.0 for k in DEFAULT_PARAMS if k != "c"})


# --- Training replay -----------------------------------------------------------------------------

def test_training_replay_records_and_scrubs():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    replay = TrainingReplay(X, y, resolution=20)
    replay.update()
    assert "Nothing recorded" in replay.status.value
    xor_like = lambda P: (np.abs(P[:, 0] - P[:, 1]) > 0.5).astype(float)  # noqa: E731
    replay.record(0, lambda P: np.full(len(P), 0.5), 0.69)
    replay.record(10, xor_like, 0.01)
    replay.update()
    assert list(replay.epoch.options) == [0, 10]
    assert replay.accuracies == [0.5, 1.0]  # 0.5 is not > 0.5: all predicted class 0
    replay.epoch.value = 10
    assert replay.region.get_array().shape == (20, 20)
    np.testing.assert_array_equal(replay.region.get_array(), replay.probabilities[1])
    assert replay.marker.get_xdata()[0] == 10 and "accuracy 100%" in replay.ax.get_title()
    with pytest.raises(ValueError, match="one probability per point"):
        replay.record(20, lambda P: np.zeros(3), 0.0)


def test_training_replay_opens_on_the_last_epoch_and_draws_snapshots():
    import matplotlib.pyplot as plt

    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    replay = TrainingReplay(X, np.array([0, 1]), resolution=10)
    for epoch, loss in [(0, 0.7), (5, 0.3), (10, 0.1)]:
        replay.record(epoch, lambda P, e=epoch: np.clip(P.sum(axis=1) / 2 + e / 100, 0, 1), loss)
    replay.update()
    assert replay.epoch.value == 10 and replay.marker.get_ydata()[0] == 0.1
    fig = replay.plot_snapshots([0, 10])
    assert [ax.get_title().splitlines()[0] for ax in fig.axes] == ["epoch 0", "epoch 10"]
    assert len(replay.plot_snapshots(columns=3).axes) == 3
    with pytest.raises(ValueError, match=r"epochs \[7\] were not recorded"):
        replay.plot_snapshots([7])
    plt.close("all")


def test_training_replay_new_recordings_refresh_once_and_the_slider_still_reacts(monkeypatch):
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    replay = TrainingReplay(X, np.array([0, 1]), resolution=10)
    for epoch, loss in [(0, 0.7), (5, 0.3)]:
        replay.record(epoch, lambda P, e=epoch: np.clip(P.sum(axis=1) / 2 + e / 100, 0, 1), loss)
    calls = []
    original = replay.update
    monkeypatch.setattr(replay, "update", lambda: (calls.append(1), original())[1])
    replay.refresh()  # new recordings: the slider's options change inside update(), quietly
    assert len(calls) == 1 and replay.epoch.value == 5 and not replay.quiet
    replay.epoch.value = 0  # the learner drags the slider: the widget redraws on its own
    assert len(calls) == 2 and replay.ax.get_title().startswith("epoch 0")
