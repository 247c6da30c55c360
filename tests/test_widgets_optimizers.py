"""Optimizer race widget, driven headless: controls change the paths the figure shows."""
import numpy as np
import pytest

from nncourse import landscapes
from nncourse.widgets.optimizers import PRESETS, OptimizerRace


def shown_path(race, slot):
    x, y = race.path_lines[slot].get_data()
    return np.column_stack([x, y])


def test_paths_are_nncourse_optim_descents_revealed_step_by_step():
    race = OptimizerRace("ravine", steps=50)
    assert race.play.value == 0 and len(shown_path(race, 0)) == 1
    race.step_button.click()
    race.step_button.click()
    assert race.play.value == 2
    for slot, (name, lr) in enumerate(PRESETS["ravine"]):
        expected, losses = landscapes.descend("ravine", name, lr=lr, steps=50)
        np.testing.assert_array_equal(race.paths[slot], expected)
        np.testing.assert_array_equal(shown_path(race, slot), expected[:3])
        np.testing.assert_array_equal(np.ravel(race.heads[slot].get_data()), expected[2])
    race.play.value = 30                        # what a Play tick does
    assert len(shown_path(race, 1)) == 31
    assert "step 30/50" in race.status.value
    race.step(100)
    assert race.play.value == 50                # never past the last computed step
    race.reset_button.click()
    assert race.play.value == 0 and len(race.loss_lines[0].get_data()[0]) == 1
    assert len(race.update_seconds) >= 5


def test_changing_a_learning_rate_or_optimizer_recomputes_that_path():
    race = OptimizerRace("rosenbrock", steps=40)
    race.lr_controls[2].value = 0.05
    expected, _ = landscapes.descend("rosenbrock", "adam", lr=0.05, steps=40)
    np.testing.assert_array_equal(race.paths[2], expected)
    race.optimizer_controls[2].value = "adamw"
    expected, _ = landscapes.descend("rosenbrock", "adamw", lr=0.05, steps=40)
    np.testing.assert_array_equal(race.paths[2], expected)
    assert "adamw" in [t.get_text() for t in race.ax_loss.get_legend().get_texts()]


def test_changing_the_surface_loads_its_presets_and_view():
    race = OptimizerRace("ravine")
    race.play.value = 20
    race.landscape_control.value = "beale"
    assert race.play.value == 0
    assert race.ax.get_xlim() == landscapes.get("beale").xlim
    assert [(c.value, l.value) for c, l in zip(race.optimizer_controls, race.lr_controls)] == \
        [(n, pytest.approx(lr)) for n, lr in PRESETS["beale"]]
    expected, _ = landscapes.descend("beale", "sgd", lr=race.lr_controls[0].value, steps=100)
    np.testing.assert_array_equal(race.paths[0], expected)


def test_disabling_a_racer_hides_it():
    race = OptimizerRace()
    race.enabled[3].value = False
    race.step(5)
    assert 3 not in race.paths and len(race.path_lines[3].get_data()[0]) == 0
    assert len(race.ax_loss.get_legend().get_texts()) == 3


def test_a_diverging_racer_is_reported():
    race = OptimizerRace("ravine", steps=60)
    race.lr_controls[0].value = 1.0               # SGD on curvature 4: factor 1 - 4 = -3 per step
    race.step(60)
    assert "sgd diverged after step" in race.status.value
    assert np.all(np.isfinite(np.ravel(race.heads[0].get_data())))


def test_the_race_shows_the_claims_of_the_notebook():
    race = OptimizerRace("ravine", steps=40)
    sgd_y = race.paths[0][:, 1]
    assert np.all(np.sign(sgd_y[1:]) == -np.sign(sgd_y[:-1]))     # SGD zig-zags
    assert race.paths[1][:, 0].max() > 0.5                          # momentum overshoots
    first_adam_step = np.abs(race.paths[2][1] - race.paths[2][0])
    np.testing.assert_allclose(first_adam_step, race.lr_controls[2].value, rtol=1e-6)  # Adam: steps of lr


def test_unknown_surface():
    with pytest.raises(ValueError, match="unknown landscape 'moon'"):
        OptimizerRace("moon")


def test_learning_rate_sliders_show_the_presets_exactly():
    # A log slider snapped 0.3 to 0.3162 in the browser and sent it back; the selection slider's
    # readout and value are the preset itself on every surface.
    race = OptimizerRace()
    for surface, presets in PRESETS.items():
        race.landscape_control.value = surface
        assert [(c.label, c.value) for c in race.lr_controls] == [(f"{lr:g}", lr) for _, lr in presets]
    race.landscape_control.value = "ravine"
    race.lr_controls[0].value = 0.51                # "raise SGD above 0.5" is one notch away
    expected, losses = landscapes.descend("ravine", "sgd", lr=0.51, steps=100)
    np.testing.assert_array_equal(race.paths[0], expected)
    assert losses[-1] > losses[0]                   # past 2 / lambda_max: it grows


def test_the_start_marker_is_not_hidden_under_the_racers_before_they_move():
    race = OptimizerRace()
    assert all(len(head.get_data()[0]) == 0 for head in race.heads)
    race.step()
    assert all(len(head.get_data()[0]) == 1 for head in race.heads)
    race.reset()
    assert all(len(head.get_data()[0]) == 0 for head in race.heads)
