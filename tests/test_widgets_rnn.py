"""Notebook 07 widgets driven headless: gradient through time and the LSTM gate viewer."""
import numpy as np
import pytest
import torch

from nncourse.at_scale.rnn import CharLSTM
from nncourse.rnn import gradient_through_time
from nncourse.text import CharVocab
from nncourse.widgets.rnn import CEILING, FLOOR, GradientThroughTime, LSTMGateViewer


@pytest.fixture(scope="module")
def gtt():
    return GradientThroughTime(hidden_size=16, length=40, scale=1.0, forget_bias=1.0)


def test_gradient_curves_are_the_jacobian_norms(gtt):
    assert set(gtt.norms) == {"rnn", "lstm_h", "lstm_c"} and len(gtt.norms["rnn"]) == 40
    expected = gradient_through_time(gtt.rnn, gtt.inputs[:40])["h"]
    np.testing.assert_allclose(gtt.norms["rnn"], expected)
    x, y = gtt.rnn_line.get_data()
    np.testing.assert_array_equal(x, np.arange(1, 41))
    np.testing.assert_allclose(y, np.clip(expected, FLOOR, CEILING))
    assert gtt.to_png()[:4] == b"\x89PNG"


def test_scale_moves_the_rnn_from_vanishing_to_exploding(gtt):
    with gtt.hold():
        gtt.length.value = 60
        gtt.scale.value = 0.5
    assert gtt.norms["rnn"][0] < 1e-10  # 0.5^59 times tanh' < 1
    assert gtt.rnn.params["weight_hh_l0"].shape == (16, 16)
    assert abs(np.linalg.norm(gtt.rnn.params["weight_hh_l0"], 2) - 0.5) < 1e-12  # scale x orthogonal
    gtt.scale.value = 2.5
    assert gtt.norms["rnn"][0] > 1e3  # the stretch outgrows the tanh's squashing: it explodes
    assert "RNN" in gtt.ax.title.get_text() and len(gtt.rnn_line.get_xdata()) == 60


def test_forget_bias_lets_the_lstm_carry_the_signal(gtt):
    with gtt.hold():
        gtt.length.value = 100
        gtt.scale.value = 1.0
        gtt.forget_bias.value = -2.0
    closed = gtt.norms["lstm_c"][0]
    mean_f_closed = gtt.lstm.gate_values["f"].mean()
    gtt.forget_bias.value = 5.0
    assert gtt.lstm.gate_values["f"].mean() > 0.95 > mean_f_closed
    assert gtt.norms["lstm_c"][0] > 1e-3 > 1e-20 > closed  # open forget gates: the cell carries on
    assert gtt.norms["lstm_c"][0] > 1e6 * gtt.norms["rnn"][0]


def test_forget_bias_reuses_the_rnn_curve_and_scale_recomputes_it(gtt):
    with gtt.hold():
        gtt.length.value, gtt.scale.value, gtt.forget_bias.value = 30, 1.3, 0.0
    rnn_before = gtt.norms["rnn"]
    gtt.forget_bias.value = 3.0  # the LSTM's alone: the RNN's curve is the cached one, still exact
    assert gtt.norms["rnn"] is rnn_before
    np.testing.assert_allclose(gtt.norms["rnn"], gradient_through_time(gtt.rnn, gtt.inputs[:30])["h"])
    gtt.scale.value = 0.7
    np.testing.assert_allclose(gtt.norms["rnn"], gradient_through_time(gtt.rnn, gtt.inputs[:30])["h"])
    assert gtt.norms["rnn"][0] < rnn_before[0]


def test_length_changes_the_x_range(gtt):
    gtt.length.value = 25
    assert gtt.ax.get_xlim() == (1.0, 25.0) and len(gtt.norms["lstm_h"]) == 25


@pytest.fixture(scope="module")
def viewer_setup():
    vocab = CharVocab("abc def\n")
    torch.manual_seed(0)
    model = CharLSTM(vocab.size, embedding_dim=5, hidden_size=12, num_layers=2)
    return model, vocab


def test_gate_viewer_shows_what_torch_computes(viewer_setup):
    model, vocab = viewer_setup
    viewer = LSTMGateViewer(model, vocab, text="abc def", layer=0, unit=3)
    values = viewer.values
    assert values["i"].shape == (7, 12) and set(values) == {"i", "f", "g", "o", "c"}
    # the NumPy twin's hidden state o * tanh(c) equals torch's first-layer output
    ids = torch.as_tensor(vocab.encode("abc def"))[None]
    layer0 = torch.nn.LSTM(5, 12, batch_first=True).double()
    layer0.load_state_dict({k: v for k, v in model.lstm.state_dict().items() if k.endswith("_l0")})
    with torch.no_grad():
        out, (h, c) = layer0(model.embedding(ids).double())
    np.testing.assert_allclose(values["o"] * np.tanh(values["c"]), out[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(values["c"][-1], c[0, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(viewer.images["f"].get_array(), values["f"].T)
    x, y = viewer.unit_lines["c"].get_data()
    np.testing.assert_allclose(y * np.abs(values["c"][:, 3]).max(), values["c"][:, 3])
    assert np.abs(y).max() == 1.0
    assert viewer.to_png()[:4] == b"\x89PNG"


def test_gate_viewer_second_layer_matches_torch(viewer_setup):
    model, vocab = viewer_setup
    viewer = LSTMGateViewer(model, vocab, text="fed cab", layer=1)
    with torch.no_grad():
        out = model.lstm(model.embedding(torch.as_tensor(vocab.encode("fed cab"))[None]))[0]
    values = viewer.values
    np.testing.assert_allclose(values["o"] * np.tanh(values["c"]), out[0].numpy(), atol=1e-6)


def test_gate_viewer_controls(viewer_setup):
    model, vocab = viewer_setup
    viewer = LSTMGateViewer(model, vocab, text="abc", unit=0)
    viewer.unit.value = 7
    np.testing.assert_allclose(viewer.unit_lines["i"].get_ydata(), viewer.values["i"][:, 7])
    assert viewer.markers["o"].get_ydata() == [7, 7]
    assert "unit 7" in viewer.unit_title.get_text()
    viewer.text.value = "a\nb c"
    assert viewer.values["c"].shape == (5, 12)
    assert [t.get_text() for t in viewer.axes["i"].get_xticklabels()] == ["a", "↵", "b", "␣", "c"]
    before = viewer.values
    viewer.text.value = "xyz"
    assert "Not in the model's vocabulary: 'x', 'y', 'z'" in viewer.status.value and viewer.values is before
    with pytest.raises(ValueError, match="layer must be an integer in \\[0, 1\\]"):
        LSTMGateViewer(model, vocab, layer=2, text="abc")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        LSTMGateViewer(model, vocab, text="xyz")
