"""The Playground: its datasets, its headless state (nncourse.playground, no widget), and the widget
(nncourse.widgets.Playground) driven through its controls."""
import numpy as np
import pytest

from nncourse import data

# --- the Playground's extra datasets (nncourse.data) -----------------------------------------


def test_regress_plane_targets():
    X, y = data.regress_plane(300, noise=0.0, seed=1)
    assert X.shape == (300, 2) and y.shape == (300,)
    np.testing.assert_allclose(y, X.sum(axis=1) / 10)
    Xn, yn = data.regress_plane(300, noise=0.5, seed=1)
    np.testing.assert_array_equal(X, Xn)                     # noise moves the target, not the point
    assert 0.05 < np.std(yn - X.sum(axis=1) / 10) < 0.5


def test_regress_gaussian_targets():
    X, y = data.regress_gaussian(2000, seed=0)
    assert np.all(np.abs(y) <= 1) and y.max() > 0.8 and y.min() < -0.8
    # at a bump centre the target is its sign, far from every bump it is 0
    near = np.linalg.norm(X - [-4, 2.5], axis=1) < 0.2
    assert near.any() and np.all(y[near] > 0.85)
    far = np.all(np.linalg.norm(X[:, None] - data._GAUSSIAN_BUMPS[None, :, :2], axis=2) > 2, axis=1)
    assert far.any() and np.all(y[far] == 0)


@pytest.mark.parametrize("fn", [data.blobs, data.spiral_arms])
@pytest.mark.parametrize("classes", [2, 3, 5])
def test_multiclass_sets(fn, classes):
    X, y = fn(200, noise=0.1, seed=0, classes=classes)
    assert X.shape == (200, 2) and y.dtype == np.int64
    assert sorted(np.unique(y)) == list(range(classes))
    assert np.bincount(y).max() - np.bincount(y).min() <= 1   # balanced
    assert np.all(np.abs(X) < 8)
    X2, y2 = fn(200, noise=0.1, seed=0, classes=classes)
    np.testing.assert_array_equal(X, X2)                     # seeded
    with pytest.raises(ValueError, match="classes must be an integer from 2 to 8, got 1"):
        fn(10, classes=1)


def test_blobs_are_separable_by_nearest_centre():
    X, y = data.blobs(300, noise=0.0, seed=0, classes=4)
    angle = 2 * np.pi * np.arange(4) / 4 + np.pi / 2
    centres = 3.5 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    nearest = np.argmin(np.linalg.norm(X[:, None] - centres[None], axis=2), axis=1)
    assert np.mean(nearest == y) > 0.97


def test_load_points_from_arrays_and_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2))
    y = (X[:, 0] > 0).astype(int)
    X1, y1 = data.load_points((X, y))
    np.testing.assert_array_equal(X1, X)
    assert y1.dtype == np.int64
    table = np.column_stack([X, y])
    X2, y2 = data.load_points(table)
    np.testing.assert_array_equal(y2, y)
    path = tmp_path / "points.csv"
    path.write_text("x1,x2,label\n" + "\n".join(f"{a},{b},{c}" for a, b, c in table))
    X3, y3 = data.load_points(path)
    np.testing.assert_allclose(X3, X)
    np.testing.assert_array_equal(y3, y)
    path.write_text("\n".join(f"{a},{b},{c + 0.5}" for a, b, c in table))  # no header, float targets
    X4, y4 = data.load_points(str(path))
    assert y4.dtype == np.float64 and len(X4) == 10


def test_load_points_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"own data must have 3 columns \(x1, x2, label\), got shape \(5, 2\)"):
        data.load_points(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"X must have shape \(N, 2\): two features per point, got \(5, 3\)"):
        data.load_points((np.zeros((5, 3)), np.zeros(5)))
    with pytest.raises(ValueError, match=r"y must have one label per point, shape \(5,\), got \(4,\)"):
        data.load_points((np.zeros((5, 2)), np.zeros(4)))
    with pytest.raises(ValueError, match="at least 4 points"):
        data.load_points(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="must be finite"):
        data.load_points(np.array([[0, 0, 1], [1, np.nan, 0], [2, 2, 1], [3, 3, 0]]))
    with pytest.raises(FileNotFoundError, match="no such CSV file"):
        data.load_points(tmp_path / "missing.csv")


# --- the state, without any widget -----------------------------------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

from nncourse.layers import ActivationLayer, Linear  # noqa: E402
from nncourse.playground import PlaygroundState, Settings, build_network  # noqa: E402
from nncourse.regularization import Dropout  # noqa: E402


def test_the_state_needs_no_widget_library():
    code = ("import sys; from nncourse.playground import PlaygroundState; s = PlaygroundState(); s.train(2); "
            "assert 'ipywidgets' not in sys.modules and 'matplotlib' not in sys.modules, 'imported a widget library'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_state_training_reduces_the_loss():
    state = PlaygroundState(dataset="xor", hidden=[8, 8], optimizer="adam", learning_rate=0.01)
    assert state.task == "binary" and state.epoch == 0 and len(state.train_loss) == 1
    assert state.train(30)
    assert state.epoch == 30 and len(state.train_loss) == len(state.test_loss) == 31
    assert state.train_loss[-1] < 0.5 * state.train_loss[0]
    assert state.trainer.evaluate(state.X_test, state.y_test)["accuracy"] > 0.85


def test_state_network_is_layers_mlp_with_an_activation_per_layer():
    settings = Settings(hidden=[5, 3], activations=["relu", "sigmoid"], dropout=0.2, init_seed=2)
    net = build_network(settings, 4, 1)
    names = [type(layer).__name__ if not isinstance(layer, ActivationLayer) else layer.fn.name for layer in net]
    assert names == ["Linear", "relu", "Dropout", "Linear", "sigmoid", "Dropout", "Linear"]
    assert list(net.params) == ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]  # torch's names
    from nncourse.layers import mlp
    same = mlp([4, 5, 3, 1], "relu", seed=2000, dropout=0.2)   # the weights are mlp's, seeded by init_seed
    for name, p in same.params.items():
        np.testing.assert_array_equal(net.params[name], p)


def test_state_set_rebuilds_only_what_a_setting_needs():
    state = PlaygroundState()
    state.train(3)
    points = state.points_train
    assert state.set(learning_rate=0.1, batch_size=25, regularization="L2", regularization_rate=0.3) == {
        "learning_rate", "batch_size", "regularization", "regularization_rate"}
    assert state.epoch == 3 and state.points_train is points          # training continues
    assert state.trainer.optimizer.lr == 0.1 and state.trainer.batch_size == 25 and state.trainer.l2 == 0.3
    assert state.set(hidden=[4, 2, 2]) == {"hidden", "activations"}
    assert state.epoch == 0 and state.settings.activations == ["tanh"] * 3 and state.points_train is points
    assert state.set(noise=20) == {"noise"} and state.points_train is not points
    assert state.set(noise=20) == set()                                 # no change, nothing rebuilt
    state.reset()
    assert state.settings.init_seed == 1 and state.epoch == 0


def test_state_config_round_trip_continues_identically():
    state = PlaygroundState(dataset="spiral", hidden=[6, 5], activations=["relu", "tanh"], optimizer="adam",
                            learning_rate=0.01, dropout=0.1, features=["x1", "x2", "sin x1"], data_seed=3)
    state.train(5)
    copy = PlaygroundState(config=state.config())
    assert copy.settings == state.settings and copy.epoch == 5 and copy.train_loss == state.train_loss
    state.train(3)
    copy.train(3)                                   # same moments, same random generators: same future
    for name, p in state.model.params.items():
        np.testing.assert_array_equal(copy.model.params[name], p)
    fresh = PlaygroundState(config=state.config(weights=False))
    assert fresh.settings == state.settings and fresh.epoch == 0
    faster = PlaygroundState(config=state.config(), learning_rate=0.03)  # overriding a training setting
    assert faster.epoch == 8 and faster.trainer.optimizer.lr == 0.03
    with pytest.raises(ValueError, match="weights do not fit the network"):
        PlaygroundState(config=state.config(), hidden=[2])
    other = PlaygroundState()
    other.load_config(state.config())
    assert other.settings == state.settings and other.epoch == 8


def test_state_torch_export_equals_the_numpy_network():
    state = PlaygroundState(dataset="blobs (multi-class)", classes=4, features=["x1", "x2", "x1·x2", "sin x1"],
                            hidden=[6, 4], activations=["sigmoid", "relu"], optimizer="adam", learning_rate=0.01)
    state.train(3)
    net = state.to_torch()
    points = np.random.default_rng(1).uniform(-6, 6, (200, 2))
    with torch.no_grad():
        out = net(torch.from_numpy(points)).numpy()
    assert out.shape == (200, 4)
    np.testing.assert_allclose(out, state.predict(points), rtol=0, atol=1e-12)
    outputs = state.layer_outputs(points)            # every column the widget draws, output last
    assert [o.shape[1] for o in outputs] == [4, 6, 4, 4]
    np.testing.assert_array_equal(outputs[-1], state.predict(points))


def test_state_divergence_is_reported_not_raised():
    state = PlaygroundState(dataset="plane (regression)", learning_rate=10.0, activations=["relu", "relu"])
    assert state.train(20) is False and state.diverged and "no longer finite" in state.divergence
    assert all(np.isfinite(state.train_loss)) and len(state.test_loss) == len(state.train_loss)
    assert state.train(1) is False                  # stays stopped until a reset
    state.set(learning_rate=0.01)
    state.reset()
    assert not state.diverged and state.train(2)


@pytest.mark.parametrize("settings, message", [
    (dict(noise=60), "noise must be a percentage from 0 to 50, got 60"),
    (dict(noise="10"), "noise must be a percentage from 0 to 50, got '10'"),
    (dict(hidden=[9]), r"hidden must list up to 6 layer widths from 1 to 8, got \[9\]"),
    (dict(hidden=4), "hidden must list up to 6 layer widths from 1 to 8, got 4"),
    (dict(hidden=[4], activations=["tanh", "relu"]),
     r"activations must name one of \['relu', 'tanh', 'sigmoid', 'linear'\] per hidden layer \(1\), got \['tanh', 'relu'\]"),
    (dict(activations=["gelu", "tanh"]), r"activations must name one of .* got \['gelu', 'tanh'\]"),
    (dict(learning_rate=0.05), r"learning_rate must be one of \[1e-05, .*10.0\], got 0.05"),
    (dict(optimizer="rmsprop"), r"optimizer must be one of \['sgd', 'momentum', 'adam'\], got 'rmsprop'"),
    (dict(features=[]), r"features must be a non-empty list from \['x1', .*\], got \[\]"),
    (dict(dataset="moons"), r"dataset must be one of \['circle', .*\], got 'moons'"),
    (dict(dataset="own data"), r"got 'own data' \(pass your points with data=\(X, y\)\)"),
    (dict(dropout=0.9), "dropout must be from 0 to 0.5, got 0.9"),
    (dict(batch_size=0), "batch_size must be from 1 to 30, got 0"),
    (dict(data_seed=-1), "data_seed must be an integer >= 0, got -1"),
])
def test_state_bad_settings_name_expected_and_given(settings, message):
    with pytest.raises(ValueError, match=message):
        PlaygroundState(**settings)


def test_state_unknown_setting_and_bad_config_are_clear():
    with pytest.raises(TypeError, match=r"unknown Playground setting\(s\) \['layers'\]; the settings are \['dataset'"):
        PlaygroundState(layers=3)
    state = PlaygroundState()
    with pytest.raises(TypeError, match="unknown Playground setting"):
        state.set(lr=0.1)
    assert state.settings.learning_rate == 0.03     # a refused change changes nothing
    with pytest.raises(ValueError, match="not a Playground config string"):
        PlaygroundState(config="hello")
    with pytest.raises(ValueError, match=r"points must have shape \(N, 2\), got \(3, 3\)"):
        state.predict(np.zeros((3, 3)))


# --- the widget, driven headless --------------------------------------------------------------

from nncourse.widgets import Playground  # noqa: E402


def linears(pg):
    return [layer for layer in pg.model.layers if isinstance(layer, Linear)]


def test_default_playground_learns_the_circle():
    pg = Playground()
    assert pg.settings.hidden == [4, 2] and pg.task == "binary" and pg.epoch == 0
    before = pg.out_image.get_array().copy()
    assert pg.step(150)
    assert pg.epoch == 150 and len(pg.train_loss) == 151
    assert pg.train_loss[-1] < 0.5 * pg.train_loss[0]
    assert pg.trainer.evaluate(pg.X_test, pg.y_test)["accuracy"] > 0.9
    assert "epoch 150" in pg.status.value
    assert not np.array_equal(pg.out_image.get_array(), before)  # the picture follows the training
    png = pg.to_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_changing_the_dataset_control_rebuilds_data_and_network():
    pg = Playground()
    pg.step(3)
    old_points = pg.points_train.copy()
    pg.dataset_control.value = "xor"
    assert pg.settings.dataset == "xor" and pg.epoch == 0
    assert not np.array_equal(pg.points_train, old_points)
    pg.noise_control.value = 30
    pg.train_control.value = 80
    assert len(pg.points_train) == 400 and pg.settings.noise == 30
    seed = pg.settings.data_seed
    pg.regenerate_button.click()
    assert pg.settings.data_seed == seed + 1


def test_layer_and_neuron_buttons_and_activations():
    pg = Playground()
    pg.add_layer_button.click()
    assert pg.settings.hidden == [4, 2, 2]
    assert [layer.out_features for layer in linears(pg)] == [4, 2, 2, 1]
    assert pg.layer_rows[2].layout.display == "" and pg.layer_rows[3].layout.display == "none"
    pg.layer_plus[2].click()
    pg.layer_plus[2].click()
    pg.layer_minus[0].click()
    assert pg.settings.hidden == [3, 2, 4]
    for _ in range(10):
        pg.layer_plus[0].click()
    assert pg.settings.hidden[0] == 8                 # at most 8 neurons
    pg.activation_control.value = "relu"
    assert pg.settings.activations == ["relu"] * 3
    pg.layer_activations[1].value = "sigmoid"          # beyond TF Playground: one activation per layer
    names = [layer.fn.name for layer in pg.model.layers if isinstance(layer, ActivationLayer)]
    assert names == ["relu", "sigmoid", "relu"]
    for _ in range(5):
        pg.add_layer_button.click()
    assert len(pg.settings.hidden) == 6                # at most 6 hidden layers
    for _ in range(7):
        pg.remove_layer_button.click()
    assert pg.settings.hidden == [] and len(linears(pg)) == 1  # logistic regression on the features
    assert pg.step(2)


def test_features_learning_rate_batch_and_regularization():
    pg = Playground()
    pg.feature_controls["x1²"].value = True
    pg.feature_controls["sin x2"].value = True
    assert pg.settings.features == ["x1", "x2", "x1²", "sin x2"]
    assert linears(pg)[0].in_features == 4
    pg.step(2)
    pg.lr_control.value = 0.1                          # applied on the fly: training continues
    pg.batch_control.value = 25
    assert pg.epoch == 2 and pg.trainer.optimizer.lr == 0.1 and pg.trainer.batch_size == 25
    for name in list(pg.settings.features):
        pg.feature_controls[name].value = False
    assert pg.settings.features == ["sin x2"]          # the last feature cannot be switched off
    assert pg.feature_controls["sin x2"].value
    pg.regularization_control.value = "L2"
    pg.rate_control.value = 0.3
    assert pg.trainer.l2 == 0.3 and pg.trainer.l1 == 0.0
    pg.regularization_control.value = "L1"
    assert pg.trainer.l1 == 0.3 and pg.trainer.l2 == 0.0


def test_l2_regularization_shrinks_the_weights():
    def weight_norm(**settings):
        pg = Playground(dataset="xor", hidden=[8, 8], **settings)
        pg.step(40)
        return sum(float(np.sum(layer.params["weight"] ** 2)) for layer in linears(pg))

    assert weight_norm(regularization="L2", regularization_rate=0.1) < 0.5 * weight_norm()


@pytest.mark.parametrize("dataset", ["plane (regression)", "multi-gaussian (regression)"])
def test_regression_datasets(dataset):
    pg = Playground(dataset=dataset, hidden=[8, 8], optimizer="adam", learning_rate=0.01)
    assert pg.task == "regression" and pg.trainer.loss_name == "mse"
    pg.step(30)
    assert pg.train_loss[-1] < 0.6 * pg.train_loss[0]


def test_multiclass_dataset_uses_softmax_outputs():
    pg = Playground(dataset="blobs (multi-class)", classes=4, optimizer="adam", learning_rate=0.03)
    assert pg.task == "multiclass" and linears(pg)[-1].out_features == 4
    assert pg.trainer.loss_name == "cross_entropy"
    assert pg.classes_control.layout.display == ""
    pg.step(20)
    assert pg.trainer.evaluate(pg.X_test, pg.y_test)["accuracy"] > 0.9
    pg.classes_control.value = 5
    assert linears(pg)[-1].out_features == 5 and pg.epoch == 0


def test_dropout_and_optimizer_choice():
    pg = Playground(dropout=0.2, optimizer="momentum")
    assert sum(isinstance(layer, Dropout) for layer in pg.model.layers) == 2
    assert pg.trainer.optimizer.momentum == 0.9
    pg.optimizer_control.value = "adam"
    assert type(pg.trainer.optimizer).__name__ == "Adam"


def test_discretize_toggles_the_output_colours():
    pg = Playground()
    pg.step(150)
    smooth = len(np.unique(pg.out_image.get_array().reshape(-1, 4), axis=0))
    pg.discretize_control.value = True
    hard = len(np.unique(pg.out_image.get_array().reshape(-1, 4), axis=0))
    assert smooth > 20 and hard <= 2
    pg.test_control.value = True
    assert pg.test_scatter.get_visible()


def test_divergence_stops_play_and_says_why():
    pg = Playground(dataset="plane (regression)", learning_rate=10.0, activations=["relu", "relu"])
    pg.play.playing = True
    assert pg.step(20) is False
    assert pg.diverged and not pg.play.playing
    assert "diverged" in pg.status.value and "learning rate 10 is too high" in pg.status.value
    assert all(np.isfinite(pg.train_loss))             # only finite losses are plotted
    assert np.isfinite(pg.render().astype(float)).all()
    assert pg.step() is False and "press Reset" in pg.status.value
    pg.lr_control.value = 0.01
    pg.reset_button.click()
    assert not pg.diverged and pg.settings.init_seed == 1 and pg.step(3)


def test_play_ticks_train_one_epoch_each():
    pg = Playground()
    pg.play.value = 1
    pg.play.value = 2
    assert pg.epoch == 2 and len(pg.frame_seconds) == 2
    pg.play.value = 0                                  # the stop button rewinds: no training
    assert pg.epoch == 2


def test_config_string_restores_the_exact_state():
    pg = Playground(dataset="spiral", hidden=[6, 5], activations=["relu", "tanh"], optimizer="adam",
                    learning_rate=0.01, dropout=0.1, features=["x1", "x2", "sin x1"], noise=10,
                    regularization="L2", regularization_rate=0.001, data_seed=3)
    pg.step(7)
    config = pg.config()
    assert isinstance(config, str) and config.replace("-", "").replace("_", "").replace("=", "").isalnum()
    copy = Playground(config=config)
    assert copy.settings == pg.settings and copy.epoch == 7
    assert copy.train_loss == pg.train_loss
    for name, p in pg.model.params.items():
        np.testing.assert_array_equal(copy.model.params[name], p)
    pg.step(3)                                          # same moments, same random state: same future
    copy.step(3)
    for name, p in pg.model.params.items():
        np.testing.assert_array_equal(copy.model.params[name], p)
    fresh = Playground(config=pg.config(weights=False))
    assert fresh.settings == pg.settings and fresh.epoch == 0
    other = Playground()
    other.config_text.value = config
    other.load_config_button.click()
    assert other.settings.dataset == "spiral" and other.epoch == 7
    assert other.dataset_control.value == "spiral" and other.activation_control.value == "tanh"
    with pytest.raises(ValueError, match="not a Playground config string"):
        Playground(config="hello")


def test_to_torch_export_matches_the_numpy_network():
    pg = Playground(features=["x1", "x2", "x1²", "x1·x2", "sin x2"], hidden=[5, 3], activations=["relu", "tanh"])
    pg.step(5)
    net = pg.to_torch()
    points = np.random.default_rng(0).uniform(-6, 6, (100, 2))
    with torch.no_grad():
        out = net(torch.from_numpy(points)).numpy()
    np.testing.assert_allclose(out, pg.predict(points), atol=1e-12)


def test_own_data_arrays_and_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(100, 200, (120, 2))               # any scale: the Playground rescales it
    y = np.digitize(X[:, 0], [133, 166]) + 7          # three classes labelled 7, 8, 9
    pg = Playground(data=(X, y), optimizer="adam")
    assert pg.settings.dataset == "own data" and pg.task == "multiclass" and pg.n_classes == 3
    assert np.abs(np.concatenate([pg.points_train, pg.points_test])).max() <= 5 + 1e-9
    pg.step(30)
    assert pg.trainer.evaluate(pg.X_train, pg.y_train)["accuracy"] > 0.8
    copy = Playground(config=pg.config())               # own data travels in the config
    np.testing.assert_array_equal(copy.points_train, pg.points_train)
    path = tmp_path / "mine.csv"
    path.write_text("x1,x2,target\n" + "\n".join(f"{a},{b},{a - b:.3f}" for a, b in X))
    reg = Playground(data=str(path))
    assert reg.task == "regression"


def test_bad_settings_are_clear():
    with pytest.raises(TypeError, match="unknown Playground setting"):
        Playground(layers=3)
    with pytest.raises(ValueError, match=r"hidden must list up to 6 layer widths from 1 to 8, got \[9\]"):
        Playground(hidden=[9])
    with pytest.raises(ValueError, match="learning_rate must be one of"):
        Playground(learning_rate=0.05)
    with pytest.raises(ValueError, match="dataset must be one of"):
        Playground(dataset="own data")                 # no own data given
    with pytest.raises(ValueError, match="features must be a non-empty list"):
        Playground(features=["x3"])
    pg = Playground()
    with pytest.raises(ValueError, match=r"points must have shape \(N, 2\)"):
        pg.predict(np.zeros((3, 3)))


def test_every_control_has_its_own_layout():
    # Hiding the 'classes' slider for a two-class dataset sets its layout.display; a Layout shared
    # with other controls would hide them too (it did: the data and training columns vanished).
    pg = Playground()
    layouts = [c.layout for c in (pg.dataset_control, pg.noise_control, pg.train_control, pg.batch_control,
                                  pg.classes_control, pg.lr_control, pg.optimizer_control,
                                  pg.activation_control, pg.regularization_control, pg.rate_control,
                                  pg.dropout_control)]
    assert len({id(layout) for layout in layouts}) == len(layouts)
    assert pg.classes_control.layout.display == "none" and pg.noise_control.layout.display != "none"


def test_the_fast_network_picture_matches_matplotlib_nearest():
    pg = Playground(hidden=[8, 8])
    pg.step(3)
    pg.invalidate()
    fast = pg.render().astype(int)
    from matplotlib.image import AxesImage

    reference = AxesImage(pg.ax_net, origin="lower", interpolation="nearest", extent=pg.net_image.get_extent())
    reference.set_data(pg.net_image.get_array())
    pg.ax_net.add_image(reference)
    pg.net_image.set_visible(False)
    reference.set_animated(True)
    pg._animated.append(reference)
    pg.invalidate()
    slow = pg.render().astype(int)
    assert np.abs(fast - slow).max() <= 1          # same picture, colours within 1/255 (rounding)
    assert pg.ax_net.get_aspect() == 1.0            # square tiles


def test_relayout_repaints_the_labels_as_a_full_redraw_would_draw_them():
    from nncourse.widgets import Playground

    pg = Playground(hidden=[8, 8])
    pictures = []
    for change in (pg.add_layer_button.click, pg.add_layer_button.click, pg.remove_layer_button.click,
                   lambda: pg.set(features=["x1", "x2", "x1²"]), lambda: pg.set(hidden=[3])):
        change()
        blitted = pg.render().copy()
        pg.invalidate()
        np.testing.assert_array_equal(pg.render(), blitted)
        pictures.append(blitted)
    assert [label.get_text() for label in pg.column_labels[:3]] == ["features", "layer 1\n3 tanh", "output"]
    assert not np.array_equal(pictures[0], pictures[1])     # a third layer's label appeared
    np.testing.assert_array_equal(pictures[0], pictures[2])  # and is gone again
