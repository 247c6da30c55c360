"""Optimizer race (notebook 04): up to four optimizers descend the same 2-D loss surface.

Left: the surface as contour lines (log-spaced, so the valley floor shows) and each racer's
path up to the current step, with a dot where it is now. Right: each racer's loss above the
minimum, on a log scale, against the step. Play/Pause animates the steps (the browser's timer
ticks an ``ipywidgets.Play``), Step advances one, Reset goes back to the start.

The paths come from :func:`nncourse.landscapes.descend`, which runs the optimizers of
:mod:`nncourse.optim` - the same code the tests check against ``torch.optim``. Because a
path only depends on the settings, all steps are computed when a setting changes (a few
milliseconds) and playing merely reveals them, so the axes never need rescaling while playing.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.artist import Artist

from .. import landscapes
from .base import FigureWidget
from .drawing import StampedTicks

OPTIMIZER_NAMES = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
# Learning rates that show each optimizer's character on each surface (the widget's presets).
PRESETS = {
    "ravine": [("sgd", 0.45), ("momentum", 0.05), ("adam", 0.3), ("rmsprop", 0.1)],
    "rosenbrock": [("sgd", 0.002), ("momentum", 0.001), ("adam", 0.1), ("rmsprop", 0.01)],
    "saddle": [("sgd", 0.1), ("momentum", 0.05), ("adam", 0.1), ("rmsprop", 0.05)],
    "beale": [("sgd", 0.01), ("momentum", 0.002), ("adam", 0.1), ("rmsprop", 0.01)],
}
FLOOR = 1e-12  # loss above the minimum is clipped here for the log scale
# The learning-rate sliders step through these values. A FloatLogSlider would snap a preset such
# as 0.3 to its own grid (10**-0.5 = 0.3162) as soon as the browser draws it, and send that value
# back, so the race would silently run at other rates than the notebook's text states.
LEARNING_RATES = [1e-4, 2e-4, 5e-4, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3,
                  0.4, 0.45, 0.49, 0.51, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0]


class _SavedPicture(Artist):
    """A saved copy of the whole figure's pixels, painted back by :meth:`FigureWidget.repaint`."""

    def __init__(self):
        super().__init__()
        self.pixels = None

    def draw(self, renderer) -> None:
        renderer.restore_region(self.pixels)


class OptimizerRace(FigureWidget):
    """Contour plot + paths + loss curves for up to four (optimizer, learning rate) racers."""

    static_pictures_kept = 8  # static figures saved, by (surface, steps, racers shown); ~1 MB each

    def __init__(self, landscape: str = "ravine", steps: int = 100):
        super().__init__(figsize=(10.5, 4.3))
        landscapes.get(landscape)  # a clear error for an unknown name
        self.landscape_control = widgets.Dropdown(options=list(landscapes.LANDSCAPES), value=landscape,
                                                  description="surface")
        self.steps_control = widgets.IntSlider(value=steps, min=10, max=500, step=10, description="steps")
        self.enabled, self.optimizer_controls, self.lr_controls = [], [], []
        rows = []
        for i, (name, lr) in enumerate(PRESETS[landscape]):
            enabled = widgets.Checkbox(value=True, description="", indent=False, layout=widgets.Layout(width="24px"))
            optimizer = widgets.Dropdown(options=OPTIMIZER_NAMES, value=name, layout=widgets.Layout(width="110px"))
            lr_control = widgets.SelectionSlider(options=[(f"{v:g}", v) for v in LEARNING_RATES], value=lr,
                                                 description="lr", layout=widgets.Layout(width="300px"))
            swatch = widgets.HTML(f"<span style='color:{COLOURS[i]};font-size:20px'>●</span>")
            self.enabled.append(enabled)
            self.optimizer_controls.append(optimizer)
            self.lr_controls.append(lr_control)
            rows.append(widgets.HBox([enabled, swatch, optimizer, lr_control]))
        self.play = widgets.Play(value=0, min=0, max=steps, step=1, interval=60, show_repeat=False)
        self.step_button = widgets.Button(description="Step", layout=widgets.Layout(width="70px"))
        self.reset_button = widgets.Button(description="Reset", layout=widgets.Layout(width="70px"))
        self.controls = widgets.VBox([
            widgets.HBox([self.landscape_control, self.steps_control]),
            widgets.HBox([widgets.VBox(rows[:2]), widgets.VBox(rows[2:])]),
            widgets.HBox([self.play, self.step_button, self.reset_button]),
            self.status,
        ])

        self.ax, self.ax_loss = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        # room for the loss axis label between the panels, and less empty margin on the right
        self.fig.subplots_adjust(left=0.07, right=0.97, wspace=0.3)
        self.contours = None
        # Drawing the static part (contours, axes and their labels, legend) is most of a new
        # surface's refresh: it is drawn once per (surface, steps, racers) and saved, and a
        # combination seen before is painted back from its copy (see _show_static).
        self._static_pictures: dict = {}
        self._static_picture = _SavedPicture()
        self._static_changed = False
        self.path_lines, self.heads, self.loss_lines = [], [], []
        for colour in COLOURS:
            (line,) = self.ax.plot([], [], "-", color=colour, lw=1.6, alpha=0.9)
            (head,) = self.ax.plot([], [], "o", color=colour, ms=7, mec="k", zorder=5)
            (loss,) = self.ax_loss.plot([], [], "-", color=colour, lw=1.6)
            self.path_lines.append(line)
            self.heads.append(head)
            self.loss_lines.append(loss)
        (self.start_marker,) = self.ax.plot([], [], "k^", ms=8, zorder=6)
        self.minimum_markers = self.ax.scatter([], [], marker="*", s=160, c="gold", edgecolors="k", zorder=6)
        self.ax.set_xlabel("x")
        self.ax.set_ylabel("y")
        self.ax_loss.set_yscale("log")
        self.ax_loss.set_xlabel("step")
        self.ax_loss.set_ylabel("loss − minimum")
        # the tick labels, laid out glyph by glyph, were most of a full draw: stamped instead
        self.ticks = [StampedTicks(ax, which) for ax in (self.ax, self.ax_loss) for which in "xy"]
        self.animate(*self.path_lines, *self.heads, *self.loss_lines)

        self.observe(self.play)
        self.landscape_control.observe(self._on_landscape, names="value")
        self.observe(self.steps_control, *self.enabled, *self.optimizer_controls, *self.lr_controls,
                     handler=lambda _: self._recompute())
        self.step_button.on_click(lambda _: self.step())
        self.reset_button.on_click(lambda _: self.reset())
        self._draw_landscape()
        self._compute_paths()
        self.update()

    # --- state -------------------------------------------------------------------------------
    @property
    def land(self) -> landscapes.Landscape:
        return landscapes.get(self.landscape_control.value)

    def racers(self) -> list[tuple[int, str, float]]:
        """(slot, optimizer name, learning rate) of every enabled racer."""
        return [(i, self.optimizer_controls[i].value, float(self.lr_controls[i].value))
                for i in range(len(COLOURS)) if self.enabled[i].value]

    def _compute_paths(self):
        steps = self.steps_control.value
        self.paths, self.losses = {}, {}
        for i, name, lr in self.racers():
            self.paths[i], self.losses[i] = landscapes.descend(self.land, name, lr=lr, steps=steps)
        # Only static things that really changed trigger a new static picture: a new learning rate
        # just replaces the animated paths.
        if self.ax_loss.get_xlim() != (0, steps):
            self.ax_loss.set_xlim(0, steps)
            self._static_changed = True
        legend = [(i, name) for i, name, _ in self.racers()]
        if legend != getattr(self, "_legend", None):
            self._legend = legend
            if self.ax_loss.get_legend() is not None:
                self.ax_loss.get_legend().remove()
            for i, line in enumerate(self.loss_lines):
                line.set_label(next((name for j, name in legend if j == i), "_hidden"))
            if legend:
                self.ax_loss.legend(handles=[self.loss_lines[i] for i, _ in legend], fontsize=8, loc="upper right")
            self._static_changed = True
        self.play.max = steps

    def _draw_landscape(self):
        land = self.land
        xx, yy, zz = land.grid(120)
        if self.contours is not None:
            self.contours.remove()
        excess = zz - land.min_value
        levels = np.geomspace(max(excess.min(), 1e-3), excess.max(), 25)
        self.contours = self.ax.contour(xx, yy, np.maximum(excess, 1e-3), levels=levels, cmap="viridis",
                                        linewidths=0.8, norm="log")
        self.ax.set_xlim(land.xlim)
        self.ax.set_ylim(land.ylim)
        self.ax.set_title(land.description, fontsize=9)
        # a fixed loss range per surface, so the axes stay put while learning rates change
        start_excess = float(land.value(*land.start)) - land.min_value
        self.ax_loss.set_ylim(1e-10, 10 * max(start_excess, 1.0))
        self.start_marker.set_data([land.start[0]], [land.start[1]])
        self.minimum_markers.set_offsets(np.array(land.minima))
        self._static_changed = True

    def _on_landscape(self, change):
        with self.hold(), self.quietly():  # several controls change: compute and draw once, at the end
            for i, (name, lr) in enumerate(PRESETS[change["new"]]):
                self.optimizer_controls[i].value = name
                self.lr_controls[i].value = lr
            self._draw_landscape()
            self.play.value = 0
            self._compute_paths()

    def _recompute(self):
        self._compute_paths()
        self.refresh()

    # --- actions ------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance ``n`` steps (what the Step button and every Play tick do)."""
        self.play.value = min(self.play.value + n, self.play.max)

    def reset(self) -> None:
        self.play.playing = False
        self.play.value = 0
        self.refresh()

    # --- drawing ------------------------------------------------------------------------------
    def _show_static(self) -> None:
        """Paint the static figure of the current (surface, steps, racers shown) over the cached
        background: drawn in full the first time (animated artists left out), saved, and from then
        on restored from the saved pixels."""
        for ticks in self.ticks:  # also when the picture is saved: a full redraw draws them too
            ticks.follow_locator()
        key = (self.landscape_control.value, self.steps_control.value, tuple(self._legend))
        pixels = self._static_pictures.pop(key, None)
        if pixels is None:
            self.fig.canvas.draw()
            pixels = self.fig.canvas.copy_from_bbox(self.fig.bbox)
        self._static_pictures[key] = pixels  # the most recently shown last
        while len(self._static_pictures) > self.static_pictures_kept:
            del self._static_pictures[next(iter(self._static_pictures))]
        self._static_picture.pixels = pixels
        self.repaint(self._static_picture)
        self._static_changed = False

    def update(self):
        if self._static_changed:
            self._show_static()
        t = self.play.value
        words = []
        for i in range(len(COLOURS)):
            if i not in self.paths:
                for artist in (self.path_lines[i], self.heads[i], self.loss_lines[i]):
                    artist.set_data([], [])
                continue
            path, losses = self.paths[i][: t + 1], self.losses[i][: t + 1]
            self.path_lines[i].set_data(path[:, 0], path[:, 1])
            finite = np.flatnonzero(np.isfinite(path[:, 0]))
            last = finite[-1]
            if t == 0:  # all racers sit on the start: leave the ▲ visible until they move
                self.heads[i].set_data([], [])
            else:
                self.heads[i].set_data([path[last, 0]], [path[last, 1]])
            self.loss_lines[i].set_data(np.arange(len(losses)), np.clip(losses - self.land.min_value, FLOOR, None))
            name = self.optimizer_controls[i].value
            if last < t:
                words.append(f"<span style='color:{COLOURS[i]}'>{name} diverged after step {last}</span>")
            else:
                words.append(f"<span style='color:{COLOURS[i]}'>{name}: loss {losses[last]:.3g}</span>")
        self.status.value = f"step {t}/{self.play.max} · " + " · ".join(words)


# --- momentum's phase diagram (notebook 04, section 11) ----------------------------------------

MOMENTUM_LRS = [0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.668, 0.8, 0.9, 1.0]
MOMENTUM_BETAS = [0.0, 0.1, 0.2, 0.3, 0.403, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]


def _regime(rate: float, lr: float, beta: float, curvature: float) -> str:
    if rate > 1 + 1e-9:
        return "diverges"
    if rate >= 1 - 1e-9:
        return "on the edge: ρ = 1, never settles"
    trace = 1 + beta - lr * curvature            # the eigenvalues solve z^2 - trace z + beta = 0
    discriminant = trace ** 2 - 4 * beta
    if abs(discriminant) < 1e-9:
        return "critically damped"
    if discriminant < 0:
        return "oscillates"                      # complex eigenvalues, modulus sqrt(beta)
    return "zig-zags: x flips sign each step" if trace < 0 else "converges without oscillating"


class MomentumPhase(FigureWidget):
    """Heavy ball on a quadratic with two curvatures (the ravine's 0.2 and 4 by default).

    Left: the phase diagram, the rate rho of :func:`nncourse.recipe.heavy_ball_rate` over
    (lr x curvature, beta), the divergence line and the oscillating (complex-eigenvalue) region, with
    one marker per curvature at the chosen (lr, beta). Right: |x_t| along each curvature, simulated
    (:func:`nncourse.recipe.heavy_ball_simulate`), with the predicted rho**t dashed.
    """

    def __init__(self, lr: float = 0.05, beta: float = 0.9, curvatures=(0.2, 4.0), steps: int = 100):
        super().__init__(figsize=(10.5, 4.0))
        from .. import recipe

        if len(curvatures) != 2 or min(curvatures) <= 0:
            raise ValueError(f"curvatures must be two positive numbers, got {curvatures!r}")
        for value, options, name in [(lr, MOMENTUM_LRS, "lr"), (beta, MOMENTUM_BETAS, "beta")]:
            if value not in options:
                raise ValueError(f"{name} must be one of {options}, got {value!r}")
        self.recipe, self.curvatures, self.steps = recipe, tuple(float(c) for c in curvatures), steps
        self.lr_control = widgets.SelectionSlider(options=[(f"{v:g}", v) for v in MOMENTUM_LRS], value=lr,
                                                  description="lr", layout=widgets.Layout(width="380px"))
        self.beta_control = widgets.SelectionSlider(options=[(f"{v:g}", v) for v in MOMENTUM_BETAS], value=beta,
                                                    description="β", layout=widgets.Layout(width="380px"))
        self.controls = widgets.VBox([widgets.HBox([self.lr_control, self.beta_control]), self.status])

        self.ax, self.ax_path = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
        self.fig.subplots_adjust(left=0.07, right=0.97, wspace=0.25, bottom=0.14)
        a_max = 2 * (1 + max(MOMENTUM_BETAS)) + 0.2
        a_values, betas = np.linspace(0.005, a_max, 160), np.linspace(0, 0.99, 100)
        rates = recipe.heavy_ball_rate(*np.meshgrid(a_values, betas))
        self.ax.pcolormesh(a_values, betas, np.clip(rates, 0, 1.2), cmap="viridis", shading="auto")
        fine = np.linspace(0, 0.99, 200)
        self.ax.plot(2 * (1 + fine), fine, color="red", lw=2)
        self.ax.plot((1 - np.sqrt(fine)) ** 2, fine, color="white", lw=1)
        self.ax.plot((1 + np.sqrt(fine)) ** 2, fine, color="white", lw=1)
        self.ax.set(xlim=(0, a_max), ylim=(0, 0.99), xlabel="lr × curvature", ylabel="β",
                    title="rate ρ (yellow: ρ ≥ 1); white: oscillation region; red: ρ = 1")
        self.ax.title.set_fontsize(9)
        self.markers, self.path_lines, self.predicted = [], [], []
        for colour, curvature in zip(("#ff7f0e", "#d62728"), self.curvatures):
            (marker,) = self.ax.plot([], [], "^", color=colour, ms=10, mec="k", clip_on=False)
            (line,) = self.ax_path.plot([], [], "-", color=colour, lw=1.5, label=f"curvature {curvature:g}")
            (guess,) = self.ax_path.plot([], [], "--", color=colour, lw=1, alpha=0.8)
            self.markers.append(marker)
            self.path_lines.append(line)
            self.predicted.append(guess)
        self.ax_path.set(yscale="log", xlim=(0, steps), ylim=(1e-12, 1e6), xlabel="step", ylabel="|x|  (dashed: ρ^t)")
        self.ax_path.legend(fontsize=8, loc="upper right")
        self.animate(*self.path_lines, *self.predicted, *self.markers)
        self.observe(self.lr_control, self.beta_control)
        self.update()

    def rates(self) -> list[float]:
        """The rate rho along each curvature at the current settings."""
        lr, beta = float(self.lr_control.value), float(self.beta_control.value)
        return [float(self.recipe.heavy_ball_rate(lr, beta, c)) for c in self.curvatures]

    def update(self):
        lr, beta = float(self.lr_control.value), float(self.beta_control.value)
        t = np.arange(self.steps + 1)
        words = []
        for i, (curvature, rate) in enumerate(zip(self.curvatures, self.rates())):
            self.markers[i].set_data([lr * curvature], [beta])
            path = np.abs(self.recipe.heavy_ball_simulate(lr, beta, curvature, self.steps))
            finite = np.isfinite(path)
            self.path_lines[i].set_data(t[finite], np.clip(path[finite], 1e-30, None))
            with np.errstate(over="ignore", divide="ignore"):
                self.predicted[i].set_data(t, np.clip(rate ** t, 1e-30, 1e30))
            words.append(f"curvature {curvature:g}: lr×λ = {lr * curvature:.3g}, ρ = {rate:.3f} "
                         f"({_regime(rate, lr, beta, curvature)})")
        self.status.value = " · ".join(words)
