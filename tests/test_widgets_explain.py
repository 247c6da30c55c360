"""The attribution explorer of notebook 14, driven headless: set a control, check the figure's state."""
import numpy as np
import pytest

from nncourse import Linear, ReLU, Sequential
from nncourse import explain as ex
from nncourse.cnn import Conv2d, Flatten
from nncourse.widgets.explain import AttributionExplorer, blur


def _model():
    return Sequential(Conv2d(1, 3, 3, padding=1, seed=0), ReLU(), Flatten(), Linear(3 * 36, 4, seed=1))


@pytest.fixture
def explorer():
    images = np.random.default_rng(0).random((3, 1, 6, 6))
    w = AttributionExplorer(_model(), images, labels=[0, 1, 2])
    yield w
    w.close()


def test_first_slider_changes_the_picture(explorer):
    before = explorer.to_png()
    np.testing.assert_allclose(explorer.picture.get_array(), explorer.images[0, 0])
    explorer.image.value = 1
    np.testing.assert_allclose(explorer.picture.get_array(), explorer.images[1, 0])
    assert explorer.to_png() != before
    assert "image 1 (label 1)" in explorer.status.value


def test_integrated_gradients_map_gap_and_deletion_curve(explorer):
    with explorer.hold():
        explorer.cls.value, explorer.steps.value, explorer.baseline.value = 2, 64, "mean image"
    x = explorer.images[:1]
    base = explorer.images.mean(axis=0)[None]
    want = ex.integrated_gradients(ex.model_gradient(explorer.model, 2), x, base, steps=64, method="trapezoid")
    np.testing.assert_allclose(explorer.attribution, want[0])
    np.testing.assert_allclose(explorer.map_image.get_array(), want[0, 0])
    gap = ex.completeness_gap(ex.model_score(explorer.model, 2), x, base, want)[0]
    assert explorer.gap == pytest.approx(gap) and abs(gap) < 0.05
    assert "completeness gap" in explorer.status.value
    fractions, scores = explorer.curve_line.get_data()
    np.testing.assert_allclose(scores, ex.deletion_curve(ex.model_probability(explorer.model, 2), x[0], want[0],
                                                         baseline=base[0], steps=16)[1])
    assert fractions[0] == 0 and fractions[-1] == 1
    # more steps, smaller gap (trapezoid rule)
    explorer.steps.value = 2
    assert abs(explorer.gap) > abs(gap)


def test_methods_and_baselines_switch(explorer):
    maps = {}
    for method in ("gradient", "gradient × input", "SmoothGrad", "occlusion (2×2)"):
        explorer.method.value = method
        maps[method] = explorer.attribution.copy()
        assert explorer.gap is None and "completeness" not in explorer.status.value
    target = explorer.target()
    assert target == int(np.argmax(explorer.model.forward(explorer.images[:1])[0]))  # "predicted"
    np.testing.assert_allclose(maps["gradient"], ex.vanilla_gradient(ex.model_gradient(explorer.model, target),
                                                                     explorer.images[:1])[0])
    np.testing.assert_allclose(maps["gradient × input"], maps["gradient"] * explorer.images[0])
    explorer.baseline.value = "blurred image"
    np.testing.assert_allclose(explorer.attribution, ex.occlusion(ex.model_score(explorer.model, target),
                                                                  explorer.images[:1], (1, 2, 2), (1, 1, 1),
                                                                  blur(explorer.images)[:1])[0])


def test_cache_and_update_time_are_recorded(explorer):
    assert len(explorer._cache) == 3  # precomputed: the initial setting for each of the 3 images
    explorer.method.value = "gradient"
    for k in (1, 2, 1, 2):
        explorer.image.value = k
    assert len(explorer._cache) == 6 and len(explorer.update_seconds) == 5
    assert len(explorer._random_curves) == 3  # the random ranking's curve does not depend on the method


def test_blur_and_errors():
    images = np.zeros((1, 1, 4, 4))
    images[0, 0, 1, 1] = 9.0
    out = blur(images)
    assert out[0, 0, 1, 1] == pytest.approx(1.0) and out.sum() == pytest.approx(9.0 * 1.0)  # interior: mass kept
    with pytest.raises(ValueError, match="images must be"):
        AttributionExplorer(_model(), np.zeros((6, 6)))


def test_close_frees_the_widget(explorer):
    explorer.close()
    assert explorer.closed and explorer.image.comm is None
