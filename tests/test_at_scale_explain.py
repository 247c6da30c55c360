"""nncourse.at_scale.explain: Captum glue, the trained-twin weight copy, batched deletion curves."""
import numpy as np
import pytest
import torch

from nncourse import Linear, ReLU, Sequential
from nncourse import explain as ex
from nncourse.at_scale.explain import captum_attribute, captum_noise, deletion_scores, train_torch_cnn_for
from nncourse.cnn import Conv2d, Flatten, MaxPool2d

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model():
    return Sequential(Conv2d(1, 4, 3, padding=1, seed=0), ReLU(), MaxPool2d(2), Flatten(), Linear(4 * 16, 3, seed=1))


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(0, 0.3, size=(n, 1, 8, 8)).astype(np.float32)
    for k in range(3):  # class k: a bright bar in rows 2k..2k+1
        X[y == k, 0, 2 * k:2 * k + 2] += 1.0
    return X, y


def test_train_torch_cnn_for_copies_the_trained_weights_back():
    model = _model()
    before = model.params["4.weight"].copy()
    X, y = _data()
    history = train_torch_cnn_for(model, (X, y), (X, y), epochs=3, lr=1e-2, batch_size=20)
    assert not np.allclose(model.params["4.weight"], before)
    assert (model.forward(X.astype(float)).argmax(1) == y).mean() > 0.9  # learned the bars
    assert history.epochs == 3


def test_deletion_scores_match_the_numpy_curves():
    model = _model()
    X, y = _data(5, seed=1)
    attr = np.random.default_rng(2).normal(size=X.shape)
    twin = model.to_torch().double()
    for insertion in (False, True):
        batch = deletion_scores(twin, X, attr, y, steps=8, baseline=0.1, insertion=insertion)
        for i in range(len(X)):
            _, want = ex.deletion_curve(ex.model_score(model, int(y[i])), X[i].astype(float), attr[i], steps=8,
                                        baseline=0.1, insertion=insertion)
            np.testing.assert_allclose(batch[i], want, atol=1e-12)


def test_captum_noise_is_what_noise_tunnel_draws():
    a = captum_noise((2, 1, 3, 3), 4, 0.5, seed=3)
    assert a.shape == (2, 4, 1, 3, 3) and np.allclose(a, captum_noise((2, 1, 3, 3), 4, 0.5, seed=3))
    assert 0.3 < a.std() < 0.7
    # per-example targets work, and errors name what is missing
    model = _model().to_torch().double()
    X, y = _data(4)
    out = captum_attribute(model, X, y, "saliency")
    assert out.shape == X.shape
    with pytest.raises(ValueError, match="window="):
        captum_attribute(model, X, 0, "occlusion")
    with pytest.raises(ValueError, match="layer="):
        captum_attribute(model, X, 0, "grad_cam")
    with pytest.raises(ValueError, match="method must be one of"):
        captum_attribute(model, X, 0, "lrp")
    assert isinstance(torch.as_tensor(out), torch.Tensor)
