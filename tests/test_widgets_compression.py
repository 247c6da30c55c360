"""The Compression explorer of notebook 12, driven headless: set a control, check the figure's state."""
import time

import numpy as np
import pytest

from nncourse import compression
from nncourse.widgets.compression import CompressionExplorer

SPARSITIES = (0.0, 0.5, 0.9)


def _table():
    return {(b, pc, s, st): {"accuracy": 0.5 + b / 20 - s / 4 + 0.01 * pc - 0.02 * st, "kbytes": b * (1 - s)}
            for b in range(2, 9) for pc in (False, True) for s in SPARSITIES for st in (False, True)}


@pytest.fixture
def explorer():
    w = np.random.default_rng(0).normal(0, 0.1, size=(16, 12))
    w[3] *= 10  # an outlier row
    widget = CompressionExplorer(w, _table(), sparsities=SPARSITIES, float_accuracy=0.95)
    yield widget
    widget.close()


def test_bits_slider_changes_the_grid_error_and_marker(explorer):
    png = explorer.to_png()
    assert explorer.bits.value == 8 and len(explorer.grid.get_segments()) <= 32
    error8 = explorer.error
    explorer.bits.value = 3
    assert len(explorer.grid.get_segments()) == 8 and explorer.error > 5 * error8
    np.testing.assert_allclose(explorer.marker.get_ydata(), [_table()[(3, False, 0.0, False)]["accuracy"]])
    assert explorer.to_png() != png
    assert "<b>3 bits</b> per tensor" in explorer.status.value
    assert "3.0 KB" in explorer.status.value and "RMS error" in explorer.status.value


def test_per_channel_lowers_the_error_with_an_outlier_row(explorer):
    explorer.bits.value = 4
    per_tensor = explorer.error
    explorer.per_channel.value = True
    assert explorer.error < per_tensor / 3
    pruned, quantized, qp = explorer.shown_weights()
    np.testing.assert_array_equal(quantized, compression.fake_quantize(pruned, qp))
    assert "<b>4 bits</b> per channel" in explorer.status.value
    np.testing.assert_allclose(explorer.curve.get_ydata(), [_table()[(b, True, 0.0, False)]["accuracy"]
                                                            for b in range(2, 9)])


def test_sparsity_and_structured_prune_the_shown_weights(explorer):
    explorer.sparsity.value = 0.5
    pruned, _, _ = explorer.shown_weights()
    assert compression.sparsity(pruned) == pytest.approx(0.5)
    counts_unstructured = explorer.hist.get_data().values.copy()
    assert counts_unstructured.sum() == pruned.size / 2
    explorer.structured.value = True
    pruned, _, _ = explorer.shown_weights()
    assert ((pruned == 0).all(1)).sum() == 8  # 8 whole rows of 16
    assert explorer.entry == _table()[(8, False, 0.5, True)]


def test_update_is_fast_and_bad_input_is_named():
    w = np.random.default_rng(1).normal(size=(64, 64))
    widget = CompressionExplorer(w, _table(), sparsities=SPARSITIES)
    for b in [2, 5, 8, 3, 7] * 2:
        widget.bits.value = b
    assert np.median(widget.update_seconds) < 0.5  # generous: shared CI machines; the notebook prints it
    widget.close()
    with pytest.raises(ValueError, match="2-D matrix"):
        CompressionExplorer(np.ones(4), _table(), sparsities=SPARSITIES)
    with pytest.raises(ValueError, match="no entry for"):
        CompressionExplorer(w, _table(), sparsities=(0.0, 0.3))
