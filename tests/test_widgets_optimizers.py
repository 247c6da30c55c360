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


# --- momentum's phase diagram ----------------------------------------------------------------------

def test_momentum_phase_markers_paths_and_rates_follow_the_sliders():
    from nncourse import recipe
    from nncourse.widgets.optimizers import MomentumPhase

    w = MomentumPhase()  # section 2's run: lr 0.05, beta 0.9 on the ravine's curvatures 0.2 and 4
    assert np.allclose(np.ravel(w.markers[0].get_data()), [0.01, 0.9])
    assert np.allclose(np.ravel(w.markers[1].get_data()), [0.2, 0.9])
    assert "oscillates" in w.status.value
    w.lr_control.value = 0.668                  # the optimum of section 11
    w.beta_control.value = 0.403
    assert np.allclose(np.ravel(w.markers[1].get_data()), [0.668 * 4, 0.403])
    assert w.rates() == pytest.approx([recipe.heavy_ball_rate(0.668, 0.403, c) for c in (0.2, 4.0)])
    assert max(w.rates()) < 0.64 and w.status.value.count("oscillates") == 2   # both just inside the edge
    t, shown = w.path_lines[1].get_data()
    expected = np.abs(recipe.heavy_ball_simulate(0.668, 0.403, 4.0, 100))
    np.testing.assert_allclose(shown, expected)
    w.lr_control.value = 1.0                    # 1 x 4 > 2 (1 + 0.403): diverges along the steep direction
    assert "diverges" in w.status.value and w.rates()[1] > 1
    assert len(w.path_lines[1].get_data()[0]) <= 101   # overflowed steps are not drawn
    assert max(w.update_seconds[1:]) < 0.5
    w.close()
    assert w.closed


def test_momentum_phase_regimes():
    from nncourse.widgets.optimizers import _regime

    assert _regime(0.9, 0.05, 0.81, 0.2) == "critically damped"   # lr x curvature = (1 - sqrt(beta))^2
    assert _regime(0.9, 0.02, 0.81, 0.2) == "converges without oscillating"   # overdamped
    assert _regime(0.9, 0.5, 0.81, 0.2) == "oscillates"
    assert _regime(0.5, 0.375, 0.0, 4.0) == "zig-zags: x flips sign each step"  # plain GD, 1 < lr x curvature < 2
    assert _regime(1.0, 0.5, 0.0, 4.0).startswith("on the edge")              # plain GD at lr x curvature = 2
    assert _regime(1.2, 0.5, 0.81, 0.2) == "diverges"


def test_momentum_phase_names_the_edge_of_plain_gradient_descent():
    from nncourse.widgets.optimizers import MomentumPhase

    w = MomentumPhase(lr=0.5, beta=0.0)         # the notebook's "plain gradient descent at its limit"
    assert w.rates()[1] == pytest.approx(1.0)
    assert "on the edge" in w.status.value and "diverges" not in w.status.value
    w.lr_control.value = 0.4                    # lr x curvature = 1.6 along the steep direction
    assert "zig-zags" in w.status.value
    w.close()


def test_momentum_phase_errors():
    from nncourse.widgets.optimizers import MomentumPhase

    with pytest.raises(ValueError, match="lr must be one of"):
        MomentumPhase(lr=0.07)
    with pytest.raises(ValueError, match="two positive numbers"):
        MomentumPhase(curvatures=(1.0,))


def test_a_surface_seen_before_is_painted_from_its_saved_picture_as_a_full_redraw_would_draw_it():
    race = OptimizerRace("ravine", steps=50)
    pictures = {}
    for surface in ["rosenbrock", "beale", "ravine", "rosenbrock", "beale"]:   # the last two: saved pictures
        race.landscape_control.value = surface
        race.step(20)
        blitted = race.render().copy()
        race.invalidate()                                   # draw everything from the artists' state
        np.testing.assert_array_equal(race.render(), blitted)
        if surface in pictures:
            np.testing.assert_array_equal(blitted, pictures[surface])
        pictures[surface] = blitted
    assert not np.array_equal(pictures["rosenbrock"], pictures["beale"])
    # the stamped tick labels are the axis' own choice, inside the limits (none below 1e-10 on the log axis)
    loss_ticks = race.ticks[3]
    assert loss_ticks.positions.min() >= 1e-10 and loss_ticks.positions.max() <= race.ax_loss.get_ylim()[1]
    race.steps_control.value = 60                           # a new x range on the loss panel: drawn anew
    assert race.ticks[2].positions.max() == 60
    blitted = race.render().copy()
    race.invalidate()
    np.testing.assert_array_equal(race.render(), blitted)
