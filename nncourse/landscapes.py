"""Two-dimensional loss surfaces for watching optimizers move (notebook 04, Optimizer race).

Each :class:`Landscape` has a value ``f(x, y)`` and its gradient, written with arithmetic only,
so they work elementwise on NumPy arrays of any shape (for contour plots) and on torch tensors
(the tests check the gradients against autograd). :func:`descend` runs an optimizer from
``nncourse.optim`` on a landscape and returns the path - the same code the widget animates.

* ``ravine``: an ill-conditioned quadratic bowl (curvatures 0.2 and 4): plain gradient
  descent zig-zags across the steep direction while crawling along the flat one.
* ``rosenbrock``: a curved, flat-bottomed valley (Rosenbrock 1960), minimum at (1, 1).
* ``saddle``: a saddle point at the origin between two minima at (0, +-1); starting near the
  ridge, plain gradient descent lingers at the saddle.
* ``beale``: Beale's function, steep walls and flat plateaus, minimum at (3, 0.5).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import optim
from .validation import check_positive_int


@dataclass(frozen=True)
class Landscape:
    """A loss surface f(x, y) with its gradient, a view window and a suggested start."""

    name: str
    value: Callable            # f(x, y), elementwise
    gradient: Callable         # (df/dx, df/dy), elementwise
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    description: str = ""

    def __call__(self, x, y):
        return self.value(x, y)

    def grid(self, resolution: int = 200):
        """Coordinates and values for a contour plot: xx, yy, zz each (resolution, resolution)."""
        xx, yy = np.meshgrid(np.linspace(*self.xlim, resolution), np.linspace(*self.ylim, resolution))
        return xx, yy, self.value(xx, yy)

    @property
    def min_value(self) -> float:
        return float(min(self.value(np.float64(x), np.float64(y)) for x, y in self.minima))


# --- the surfaces: value and gradient side by side ------------------------------------------

def _ravine(x, y):
    return 0.1 * x**2 + 2.0 * y**2


def _ravine_grad(x, y):
    return 0.2 * x, 4.0 * y


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosenbrock_grad(x, y):
    return -2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)


def _saddle(x, y):
    return 0.5 * x**2 + 0.25 * y**4 - 0.5 * y**2


def _saddle_grad(x, y):
    return x, y**3 - y


def _beale(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _beale_grad(x, y):
    a, b, c = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
    dx = 2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1)
    dy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y**2
    return dx, dy


LANDSCAPES: dict[str, Landscape] = {
    "ravine": Landscape("ravine", _ravine, _ravine_grad, (-5.5, 5.5), (-2.5, 2.5), (-5.0, 1.5), ((0.0, 0.0),),
                        "ill-conditioned quadratic 0.1 x^2 + 2 y^2 (condition number 20)"),
    "rosenbrock": Landscape("rosenbrock", _rosenbrock, _rosenbrock_grad, (-2.0, 2.0), (-1.0, 3.0), (-1.2, 1.0),
                            ((1.0, 1.0),), "Rosenbrock's banana valley (1 - x)^2 + 100 (y - x^2)^2"),
    "saddle": Landscape("saddle", _saddle, _saddle_grad, (-2.5, 2.5), (-1.8, 1.8), (-2.2, 0.001),
                        ((0.0, 1.0), (0.0, -1.0)), "saddle at (0, 0): x^2/2 + y^4/4 - y^2/2"),
    "beale": Landscape("beale", _beale, _beale_grad, (-4.5, 4.5), (-4.5, 4.5), (1.0, 1.6), ((3.0, 0.5),),
                       "Beale's function, minimum at (3, 0.5)"),
}


def get(name: str) -> Landscape:
    """A landscape by name: ``"ravine"``, ``"rosenbrock"``, ``"saddle"`` or ``"beale"``."""
    if name not in LANDSCAPES:
        raise ValueError(f"unknown landscape {name!r}; known: {', '.join(LANDSCAPES)}")
    return LANDSCAPES[name]


def descend(landscape: Landscape | str, optimizer: str = "sgd", lr: float = 0.1, steps: int = 100,
            start=None, **hyperparameters):
    """Run an optimizer from ``nncourse.optim`` (by name, see ``optim.get``) on a landscape.

    Returns ``path`` (steps + 1, 2), the points visited starting with ``start``, and ``losses``
    (steps + 1,). A path that leaves every sane range (|x| > 1e6 or non-finite) stops early and
    is padded with NaN, so a diverging run shows up as a short path instead of an overflow.
    """
    land = get(landscape) if isinstance(landscape, str) else landscape
    steps = check_positive_int(steps, "steps")
    start = land.start if start is None else start
    point = np.array(start, dtype=np.float64)
    if point.shape != (2,) or not np.all(np.isfinite(point)):
        raise ValueError(f"start must be a finite point (x, y), got {start!r}")
    params = {"xy": point}
    opt = optim.get(optimizer, params, lr=lr, **hyperparameters)
    path = np.full((steps + 1, 2), np.nan)
    path[0] = point
    for t in range(1, steps + 1):
        opt.step({"xy": np.array(land.gradient(point[0], point[1]), dtype=np.float64)})
        if not (np.all(np.isfinite(point)) and np.max(np.abs(point)) < 1e6):
            break
        path[t] = point
    losses = land.value(path[:, 0], path[:, 1])
    return path, losses
