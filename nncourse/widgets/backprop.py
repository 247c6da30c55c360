"""Widgets of notebook 03: the Backprop stepper and the XOR training replay.

* :class:`BackpropStepper` - the computation graph of a 2-2-1 network on one example. *Forward*
  reveals one node's value at a time, *Backward* one node's gradient at a time, with the
  chain-rule formula of the step and its edges highlighted. Every number comes from the scalar
  autograd engine (:mod:`nncourse.autograd`); the tests check them against PyTorch.
* :class:`TrainingReplay` - record a 2-D classifier during training, then scrub through the
  epochs with a slider: decision regions and the loss curve.
"""
from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap

from ..autograd import Value
from ..plotting import CLASS_COLORS, grid
from .base import FigureWidget
from .drawing import GlyphStampedTexts

HIDDEN_ACTIVATIONS = ["sigmoid", "tanh", "relu"]
# P(class 1): class 0 orange, class 1 blue (the course palette), undecided white.
PROBABILITY_CMAP = LinearSegmentedColormap.from_list("probability", ["#f8c48a", "white", "#8cbfe3"])

# Parameters named as in PyTorch: hidden Linear(2, 2) = "0.*", output Linear(2, 1) = "2.*".
DEFAULT_PARAMS = {"w11": 0.5, "w12": -0.4, "w21": 0.3, "w22": 0.8, "b1": 0.1, "b2": -0.2,
                  "v1": 0.9, "v2": -0.6, "c": 0.05}
DEFAULT_INPUTS = {"x1": 1.0, "x2": 0.5, "y": 1.0}

FORWARD_STEPS = ["z1", "h1", "z2", "h2", "z3", "yhat", "L"]
BACKWARD_STEPS = ["L", "yhat", "z3", "h1", "h2", "z1", "z2", "x1", "x2"]
# The parameters whose gradient a backward step reveals (they hang on the node's incoming edges).
PARAM_GRADS_AT = {"z3": ["v1", "v2", "c"], "z1": ["w11", "w12", "b1"], "z2": ["w21", "w22", "b2"]}

_POS = {"x1": (0.0, 1.0), "x2": (0.0, -1.0), "z1": (1.7, 1.0), "z2": (1.7, -1.0), "h1": (3.1, 1.0),
        "h2": (3.1, -1.0), "z3": (4.6, 0.0), "yhat": (5.8, 0.0), "L": (7.0, 0.0), "y": (5.8, -1.5)}
_EDGES = [("x1", "z1", "w11"), ("x2", "z1", "w12"), ("x1", "z2", "w21"), ("x2", "z2", "w22"),
          ("z1", "h1", None), ("z2", "h2", None), ("h1", "z3", "v1"), ("h2", "z3", "v2"),
          ("z3", "yhat", None), ("yhat", "L", None), ("y", "L", None)]
_NODE_NAMES = {"yhat": "ŷ"}
_NODE_AREA = 900  # scatter marker size of a node, points^2
_STEP_EDGES = {  # edges lit during each step: forward uses the edges into the node, backward the edges out
    ("forward", "z1"): [("x1", "z1"), ("x2", "z1")], ("forward", "z2"): [("x1", "z2"), ("x2", "z2")],
    ("forward", "h1"): [("z1", "h1")], ("forward", "h2"): [("z2", "h2")],
    ("forward", "z3"): [("h1", "z3"), ("h2", "z3")], ("forward", "yhat"): [("z3", "yhat")],
    ("forward", "L"): [("yhat", "L"), ("y", "L")],
    ("backward", "L"): [], ("backward", "yhat"): [("yhat", "L")], ("backward", "z3"): [("z3", "yhat")],
    ("backward", "h1"): [("h1", "z3")], ("backward", "h2"): [("h2", "z3")],
    ("backward", "z1"): [("z1", "h1")], ("backward", "z2"): [("z2", "h2")],
    ("backward", "x1"): [("x1", "z1"), ("x1", "z2")], ("backward", "x2"): [("x2", "z1"), ("x2", "z2")],
}


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _p(v: float) -> str:
    """A number inside a formula: negative ones in parentheses, so "0.3·(-0.4)" reads right."""
    return f"({v:.4g})" if v < 0 else f"{v:.4g}"


def _formula_html(text: str) -> str:
    """A step's formula as HTML: escaped, one line per line, in a monospaced font so the numbers align."""
    lines = html.escape(text).split("\n")
    return f'<div style="font-family: monospace; font-size: 13px; line-height: 1.3">{"<br>".join(lines)}</div>'


def two_two_one(inputs: dict, params: dict, activation: str = "sigmoid") -> dict[str, Value]:
    """Build the 2-2-1 network on one example as a graph of Values and run backward.

    z_j = w_j1 x1 + w_j2 x2 + b_j, h_j = f(z_j), z3 = v1 h1 + v2 h2 + c, yhat = sigmoid(z3),
    L = (yhat - y)^2. Returns every named node (inputs, parameters, intermediates, L) with
    ``data`` and ``grad`` filled.
    """
    if activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"activation must be one of {HIDDEN_ACTIVATIONS}, got {activation!r}")
    missing = sorted(set(DEFAULT_PARAMS) - set(params)) + sorted({"x1", "x2", "y"} - set(inputs))
    if missing:
        raise ValueError(f"missing values for {missing}")
    n = {name: Value(inputs[name], label=name) for name in ("x1", "x2", "y")}
    n.update({name: Value(params[name], label=name) for name in DEFAULT_PARAMS})
    for j in ("1", "2"):
        z = n[f"w{j}1"] * n["x1"] + n[f"w{j}2"] * n["x2"] + n[f"b{j}"]
        n[f"z{j}"] = z
        n[f"h{j}"] = getattr(z, activation)()
    n["z3"] = n["v1"] * n["h1"] + n["v2"] * n["h2"] + n["c"]
    n["yhat"] = n["z3"].sigmoid()
    n["L"] = (n["yhat"] - n["y"]) ** 2
    for name, node in n.items():
        node.label = name
    n["L"].backward()
    return n


class BackpropStepper(FigureWidget):
    """A 2-2-1 network on one example: Forward / Backward reveal values, then gradients, step by step.

    Edit the inputs, the target and the weights: every number shown changes with them.
    """

    def __init__(self, activation: str = "sigmoid", *, inputs: dict | None = None, params: dict | None = None):
        super().__init__(figsize=(10.5, 4.0))
        if activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"activation must be one of {HIDDEN_ACTIVATIONS}, got {activation!r}")
        inputs = {**DEFAULT_INPUTS, **(inputs or {})}
        params = {**DEFAULT_PARAMS, **(params or {})}
        box = widgets.Layout(width="125px")
        self.fields = {name: widgets.FloatText(value=value, description=name, step=0.1, layout=box,
                                               style={"description_width": "28px"})
                       for name, value in {**inputs, **params}.items()}
        self.activation = widgets.Dropdown(options=HIDDEN_ACTIVATIONS, value=activation, description="hidden f",
                                           layout=widgets.Layout(width="190px"))
        self.forward_button = widgets.Button(description="Forward ▶", tooltip="compute the next node's value")
        self.backward_button = widgets.Button(description="◀ Backward", tooltip="compute the next node's gradient")
        self.all_button = widgets.Button(description="Show all")
        self.reset_button = widgets.Button(description="Reset")
        # The step's formula, with its numbers, above the picture: the browser sets the text, so a step
        # redraws only the graph (drawing a line of text into the figure costs ~10 ms kernel-side).
        self.formula = widgets.HTML(layout=widgets.Layout(min_height="2.6em"))
        f = self.fields
        self.controls = widgets.VBox([
            widgets.HBox([f["x1"], f["x2"], f["y"], self.activation]),
            widgets.HBox([f[k] for k in ("w11", "w12", "b1", "w21", "w22", "b2")]),
            widgets.HBox([f[k] for k in ("v1", "v2", "c")]),
            widgets.HBox([self.forward_button, self.backward_button, self.all_button, self.reset_button]),
            self.formula,
            self.status,
        ])
        self.forward_button.on_click(lambda _: self.forward_step())
        self.backward_button.on_click(lambda _: self.backward_step())
        self.all_button.on_click(lambda _: self.show_all())
        self.reset_button.on_click(lambda _: self.reset())
        self.observe(self.activation, *self.fields.values())
        self.n_forward = 0   # how many forward steps are revealed
        self.n_backward = 0  # how many backward steps are revealed

        self.ax = self.fig.add_axes((0.01, 0.02, 0.98, 0.96))
        self.ax.set_xlim(-1.3, 7.6)
        self.ax.set_ylim(-2.45, 2.05)
        self.ax.set_axis_off()
        segments = [(_POS[a], _POS[b]) for a, b, _ in _EDGES]
        self.ax.add_collection(LineCollection(segments, colors="0.6", lw=1.3, zorder=1))
        self.highlight = LineCollection([], colors="#ff7f0e", lw=4, zorder=2)
        self.ax.add_collection(self.highlight)
        xy = np.array([_POS[k] for k in _POS])
        self.circles = self.ax.scatter(xy[:, 0], xy[:, 1], s=_NODE_AREA, c=["#fdf1e2" if k in ("x1", "x2", "y") else "#eef4fb" for k in _POS],
                        edgecolors="0.3", zorder=3)
        self.current = self.ax.scatter([], [], s=1100, facecolors="none", edgecolors="#ff7f0e", linewidths=3,
                                       zorder=4)
        self.names = [self.ax.text(x, y, _NODE_NAMES.get(name, name), ha="center", va="center", fontsize=11, zorder=5)
                      for name, (x, y) in _POS.items()]
        self.value_texts = {name: self.ax.text(x, y + 0.33, "", ha="center", va="bottom", fontsize=9, zorder=5)
                            for name, (x, y) in _POS.items()}
        self.grad_texts = {  # inputs: to the left, where the crossing edges leave no room below
            name: self.ax.text(x - 0.3, y, "", ha="right", va="center", fontsize=9, color="#d62728", zorder=5)
            if name in ("x1", "x2") else
            self.ax.text(x, y - 0.33, "", ha="center", va="top", fontsize=9, color="#d62728", zorder=5)
            for name, (x, y) in _POS.items()}
        self.param_texts = {}
        for a, b, pname in _EDGES:  # weights sit at 40 % of their edge, biases under their node
            if pname:
                (xa, ya), (xb, yb) = _POS[a], _POS[b]
                t = 0.3 if pname in ("w12", "w21") else 0.55  # the crossing edges: away from the crossing
                self.param_texts[pname] = self.ax.text(xa + t * (xb - xa), ya + t * (yb - ya) + 0.08, "",
                                                       ha="center", va="bottom", fontsize=8,
                                                       bbox=dict(fc="white", ec="none", alpha=0.8, pad=0.5), zorder=6)
        for pname, node, dy in (("b1", "z1", 0.8), ("b2", "z2", -0.85), ("c", "z3", -0.85)):
            x, y = _POS[node]
            self.param_texts[pname] = self.ax.text(x, y + dy, "", ha="center", va="center", fontsize=8, zorder=6)
        self.ax.text(-1.25, -2.4, "black: values (forward)   red: ∂L/∂(node) (backward)   "
                     "L = (ŷ − y)²,  ŷ = σ(z3),  h = f(z)", fontsize=8, color="0.35")
        # Every label is redrawn on every update, most with new numbers: stamped glyph by glyph.
        self.numbers = GlyphStampedTexts([*self.value_texts.values(), *self.grad_texts.values(),
                                          *self.param_texts.values()])
        self.animate(self.highlight, self.current, self.numbers)
        self.nodes: dict[str, Value] = {}
        self.update()

    # --- state -----------------------------------------------------------------------------
    def inputs(self) -> dict[str, float]:
        return {k: float(self.fields[k].value) for k in DEFAULT_INPUTS}

    def params(self) -> dict[str, float]:
        return {k: float(self.fields[k].value) for k in DEFAULT_PARAMS}

    @property
    def values(self) -> dict[str, float]:
        """Every node's value (inputs, parameters, z1 ... L), computed by the autograd engine."""
        return {k: v.data for k, v in self.nodes.items()}

    @property
    def grads(self) -> dict[str, float]:
        """dL/d(every node), including the parameters."""
        return {k: v.grad for k, v in self.nodes.items()}

    def step_name(self) -> tuple[str, str] | None:
        """The last step taken, e.g. ("backward", "z3"); None before the first."""
        if self.n_backward:
            return "backward", BACKWARD_STEPS[self.n_backward - 1]
        if self.n_forward:
            return "forward", FORWARD_STEPS[self.n_forward - 1]
        return None

    # --- actions ---------------------------------------------------------------------------
    def forward_step(self) -> bool:
        if self.n_forward == len(FORWARD_STEPS):
            self.refresh()
            self.status.value = "The forward pass is complete: press ◀ Backward to send gradients back."
            return False
        self.n_forward += 1
        self.refresh()
        return True

    def backward_step(self) -> bool:
        if self.n_forward < len(FORWARD_STEPS):
            self.refresh()
            self.status.value = ("Backward needs the values of the forward pass first: "
                                 f"{len(FORWARD_STEPS) - self.n_forward} forward step(s) to go.")
            return False
        if self.n_backward == len(BACKWARD_STEPS):
            self.refresh()
            self.status.value = "Done: every gradient is known. Edit a number and watch them all change."
            return False
        self.n_backward += 1
        self.refresh()
        return True

    def show_all(self) -> None:
        self.n_forward, self.n_backward = len(FORWARD_STEPS), len(BACKWARD_STEPS)
        self.refresh()

    def reset(self) -> None:
        self.n_forward = self.n_backward = 0
        self.refresh()

    # --- drawing ---------------------------------------------------------------------------
    def update(self):
        self.nodes = two_two_one(self.inputs(), self.params(), self.activation.value)
        v, g = self.values, self.grads
        known_values = {"x1", "x2", "y"} | set(FORWARD_STEPS[: self.n_forward])
        known_grads = set(BACKWARD_STEPS[: self.n_backward])
        for name in _POS:
            self.value_texts[name].set_text(_fmt(v[name]) if name in known_values else "?")
            self.grad_texts[name].set_text(_fmt(g[name]) if name in known_grads else "")
        grads_known = {p for node in known_grads for p in PARAM_GRADS_AT.get(node, [])}
        for pname, text in self.param_texts.items():
            label = f"{pname} = {_fmt(v[pname])}"
            if pname in grads_known:
                label += f"\n∂L/∂{pname} = {_fmt(g[pname])}"
            text.set_text(label)
            text.set_color("#d62728" if pname in grads_known else "black")
        step = self.step_name()
        if step is None:
            self.highlight.set_segments([])
            self.current.set_offsets(np.empty((0, 2)))
            text = "Press Forward ▶ to compute the first node."
        else:
            self.highlight.set_segments([self._between_nodes(a, b) for a, b in _STEP_EDGES[step]])
            self.current.set_offsets([_POS[step[1]]])
            text = self.explain(*step)
        self.formula.value = _formula_html(text)
        self.status.value = ""  # the line below the formula is for messages only

    def _between_nodes(self, a: str, b: str) -> np.ndarray:
        """The edge a -> b cut back to the rims of the two circles: the highlight is drawn over the
        cached background, so it must not cover the nodes and their names."""
        to_pixels = self.ax.transData
        start, end = to_pixels.transform(_POS[a]), to_pixels.transform(_POS[b])
        direction = (end - start) / np.linalg.norm(end - start)
        radius = 0.5 * np.sqrt(_NODE_AREA) * self.fig.dpi / 72 + 2  # marker size is in points^2
        ends = np.array([start + radius * direction, end - radius * direction])
        return to_pixels.inverted().transform(ends)

    def explain(self, direction: str, node: str) -> str:
        """The formula of one step with the numbers filled in."""
        v, g, f = self.values, self.grads, self.activation.value
        q, r = _fmt, _p  # r: an operand inside a formula
        if direction == "forward":
            if node in ("z1", "z2"):
                j = node[1]
                return (f"{node} = w{j}1·x1 + w{j}2·x2 + b{j} = {q(v[f'w{j}1'])}·{r(v['x1'])} + "
                        f"{r(v[f'w{j}2'])}·{r(v['x2'])} + {r(v[f'b{j}'])} = {q(v[node])}")
            if node in ("h1", "h2"):
                return f"{node} = {f}(z{node[1]}) = {f}({r(v['z' + node[1]])}) = {q(v[node])}"
            if node == "z3":
                return (f"z3 = v1·h1 + v2·h2 + c = {q(v['v1'])}·{r(v['h1'])} + {r(v['v2'])}·{r(v['h2'])} + "
                        f"{r(v['c'])} = {q(v['z3'])}")
            if node == "yhat":
                return f"ŷ = σ(z3) = σ({r(v['z3'])}) = {q(v['yhat'])}"
            return f"L = (ŷ − y)² = ({r(v['yhat'])} − {r(v['y'])})² = {q(v['L'])}"
        if node == "L":
            return "∂L/∂L = 1: the gradient starts at the loss."
        if node == "yhat":
            return f"∂L/∂ŷ = 2(ŷ − y) = 2({r(v['yhat'])} − {r(v['y'])}) = {q(g['yhat'])}"
        if node == "z3":
            local = v["yhat"] * (1 - v["yhat"])
            return (f"∂L/∂z3 = ∂L/∂ŷ · σ'(z3) = {q(g['yhat'])} · ŷ(1 − ŷ) = {q(g['yhat'])} · {r(local)} = "
                    f"{q(g['z3'])}\nthen ∂L/∂v1 = ∂L/∂z3 · h1 = {q(g['v1'])},  ∂L/∂v2 = ∂L/∂z3 · h2 = "
                    f"{q(g['v2'])},  ∂L/∂c = ∂L/∂z3 = {q(g['c'])}")
        if node in ("h1", "h2"):
            j = node[1]
            return f"∂L/∂{node} = ∂L/∂z3 · v{j} = {q(g['z3'])} · {r(v['v' + j])} = {q(g[node])}"
        if node in ("z1", "z2"):
            j = node[1]
            h, z = v["h" + j], v["z" + j]
            local = {"sigmoid": h * (1 - h), "tanh": 1 - h * h, "relu": 1.0 if z > 0 else 0.0}[f]
            rule = {"sigmoid": "h(1 − h)", "tanh": "1 − h²", "relu": "1 if z > 0 else 0"}[f]
            return (f"∂L/∂{node} = ∂L/∂h{j} · f'(z{j}) = {q(g['h' + j])} · [{rule}] = {q(g['h' + j])} · "
                    f"{r(local)} = {q(g[node])}\nthen ∂L/∂w{j}1 = ∂L/∂{node} · x1 = {q(g[f'w{j}1'])},  "
                    f"∂L/∂w{j}2 = ∂L/∂{node} · x2 = {q(g[f'w{j}2'])},  ∂L/∂b{j} = {q(g[f'b{j}'])}")
        i = node[1]
        return (f"∂L/∂{node} = ∂L/∂z1 · w1{i} + ∂L/∂z2 · w2{i} = {q(g['z1'])}·{r(v[f'w1{i}'])} + "
                f"{r(g['z2'])}·{r(v[f'w2{i}'])} = {q(g[node])}\n{node} feeds two nodes: their gradients add up.")


class TrainingReplay(FigureWidget):
    """Scrub through a 2-D classifier's training: decision regions at the chosen epoch (left) and
    the loss curve with that epoch marked (right).

    Call ``record(epoch, predict, loss)`` inside a training loop, where ``predict(points)`` maps
    (N, 2) points to probabilities of class 1; then display the widget.
    """

    def __init__(self, X, y, *, resolution: int = 80, margin: float = 0.5):
        super().__init__(figsize=(9, 3.8))
        self.X, self.y = np.asarray(X, dtype=float), np.asarray(y)
        lo, hi = self.X.min(axis=0) - margin, self.X.max(axis=0) + margin
        self.xlim, self.ylim = (lo[0], hi[0]), (lo[1], hi[1])
        self.xx, _, self.grid_points = grid(self.xlim, self.ylim, resolution)
        self.epochs: list[int] = []
        self.losses: list[float] = []
        self.probabilities: list[np.ndarray] = []
        self.accuracies: list[float] = []
        self._predict_data = None
        self.epoch = widgets.SelectionSlider(options=[0], value=0, description="epoch",
                                             layout=widgets.Layout(width="500px"))
        self.controls = widgets.VBox([self.epoch, self.status])
        self.observe(self.epoch)
        self.ax, self.ax_loss = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.2]})
        self.region = self.ax.imshow(np.zeros_like(self.xx), origin="lower", extent=(*self.xlim, *self.ylim),
                                     cmap=PROBABILITY_CMAP, vmin=0, vmax=1, aspect="auto")
        self.data_points = self.ax.scatter(self.X[:, 0], self.X[:, 1], c=[CLASS_COLORS[int(c)] for c in self.y], s=60,
                                           edgecolors="k", zorder=3)
        self.ax.set(xlim=self.xlim, ylim=self.ylim, xlabel="x1", ylabel="x2")
        (self.loss_line,) = self.ax_loss.plot([], [], color="0.3")
        (self.marker,) = self.ax_loss.plot([], [], "o", color="#d62728")
        self.ax_loss.set(xlabel="epoch", ylabel="loss", yscale="log")
        self.ax_loss.set_title(" ")
        self.ax.set_title(" ")
        self.fig.tight_layout(rect=(0, 0, 0.98, 1))  # room for the last epoch's tick label (e.g. "1000")
        self.animate(self.region, self.data_points, self.marker, self.ax.title)  # points above the animated regions
        self._drawn_epochs = 0

    def record(self, epoch: int, predict, loss: float) -> None:
        """Store the model's class-1 probability on the grid (and on the data) at ``epoch``."""
        probability = np.asarray(predict(self.grid_points), dtype=float).reshape(-1)
        if probability.shape[0] != len(self.grid_points):
            raise ValueError(f"predict must return one probability per point ({len(self.grid_points)}), "
                             f"got shape {np.shape(probability)}")
        on_data = np.asarray(predict(self.X), dtype=float).reshape(-1)
        self.epochs.append(int(epoch))
        self.losses.append(float(loss))
        self.probabilities.append(probability.reshape(self.xx.shape))
        self.accuracies.append(float(np.mean((on_data > 0.5) == (self.y == 1))))

    def update(self):
        if not self.epochs:
            self.status.value = "Nothing recorded yet: call record(epoch, predict, loss) while training."
            return
        if len(self.epochs) != self._drawn_epochs:  # new recordings: refresh the slider and the curve once
            self._drawn_epochs = len(self.epochs)
            with self.quietly():  # changing the options fires the slider: no nested refresh
                self.epoch.options = self.epochs
                self.epoch.value = self.epochs[-1]  # open on the latest network; drag back to replay
            self.loss_line.set_data(self.epochs, self.losses)
            last = max(self.epochs[-1], self.epochs[0] + 1)
            margin = 0.03 * (last - self.epochs[0])  # the marker on the last epoch is drawn whole
            self.ax_loss.set_xlim(self.epochs[0] - margin, last + margin)
            positive = [v for v in self.losses if v > 0] or [1.0]
            self.ax_loss.set_ylim(min(positive) / 2, max(positive) * 2)
            self.invalidate()
        i = self.epochs.index(self.epoch.value)
        self.region.set_data(self.probabilities[i])
        self.marker.set_data([self.epochs[i]], [self.losses[i]])
        self.ax.set_title(f"epoch {self.epochs[i]}: loss {self.losses[i]:.3g}, accuracy {self.accuracies[i]:.0%}")
        self.status.value = (f"Colour: the network's probability of class 1 (blue) against class 0 (orange); "
                             f"{len(self.epochs)} snapshots recorded.")

    def plot_snapshots(self, epochs=None, *, columns: int = 5):
        """Small multiples of the decision regions at a few recorded epochs (a static picture of the
        replay); returns the pyplot figure."""
        import matplotlib.pyplot as plt

        if not self.epochs:
            raise ValueError("nothing recorded yet: call record(epoch, predict, loss) while training")
        if epochs is None:  # evenly spaced through the recording, first and last included
            picks = np.unique(np.linspace(0, len(self.epochs) - 1, columns).round().astype(int))
            epochs = [self.epochs[i] for i in picks]
        missing = [e for e in epochs if e not in self.epochs]
        if missing:
            raise ValueError(f"epochs {missing} were not recorded; recorded: {self.epochs}")
        fig, axes = plt.subplots(1, len(epochs), figsize=(2.4 * len(epochs), 2.6), squeeze=False)
        for ax, epoch in zip(axes[0], epochs):
            i = self.epochs.index(epoch)
            ax.imshow(self.probabilities[i], origin="lower", extent=(*self.xlim, *self.ylim), cmap=PROBABILITY_CMAP,
                      vmin=0, vmax=1, aspect="auto")
            ax.contour(self.xx, _grid_y(self), self.probabilities[i], levels=[0.5], colors="k", linewidths=1)
            ax.scatter(self.X[:, 0], self.X[:, 1], c=[CLASS_COLORS[int(c)] for c in self.y], s=40, edgecolors="k")
            ax.set_title(f"epoch {epoch}\nloss {self.losses[i]:.3f}, acc. {self.accuracies[i]:.0%}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        return fig


def _grid_y(replay):
    """The y coordinates of the replay's grid (the grid is square: resolution x resolution)."""
    return replay.grid_points[:, 1].reshape(replay.xx.shape)

