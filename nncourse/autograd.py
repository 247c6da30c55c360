"""A tiny scalar autograd engine in the spirit of micrograd (taught in notebook 03).

Each :class:`Value` holds one number (``data``), the gradient of the final output with
respect to it (``grad``), the values it was computed from (``parents``, in a fixed order)
and a ``_backward`` closure that pushes its gradient to those parents. Every operation
computes its output and defines its backward step right beside it, so forward and backward of
one op sit on one screen.

``backward()`` orders the graph topologically (every node after the nodes it depends on) and
runs the closures from the output back to the inputs. Gradients *accumulate* (``+=``): a value
used twice receives the sum of both contributions - the multivariable chain rule.

The layer-wise NumPy version (``nncourse.Linear``, activation layers, ``Sequential``) does the
same thing a whole matrix at a time; this one exists so that you can see every node.
"""
from __future__ import annotations

import math
import numbers


def _check_number(x, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number (int or float), got {type(x).__name__}: {x!r}")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{what} must be finite, got {x}")
    return x


class Value:
    """One scalar in a computation graph.

    ``Value(2.0, label="x")`` makes a leaf; arithmetic with Values (or plain numbers) makes new
    nodes: ``+ - * /``, ``** number``, ``exp()``, ``log()``, ``tanh()``, ``relu()``,
    ``sigmoid()``. Call ``backward()`` on the final node to fill every ``grad``.
    """

    __slots__ = ("data", "grad", "parents", "op", "label", "_backward")

    def __init__(self, data, parents: tuple["Value", ...] = (), op: str = "", label: str = ""):
        self.data = _check_number(data, "Value data")
        self.grad = 0.0
        self.parents = tuple(parents)  # a tuple, not a set: the order of the graph is reproducible
        self.op = op
        self.label = label
        self._backward = lambda: None

    # --- primitive operations: forward and backward side by side ---------------------------
    def __add__(self, other) -> "Value":
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():  # d(a + b)/da = 1, d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other) -> "Value":
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():  # d(a b)/da = b, d(a b)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent) -> "Value":
        if isinstance(exponent, Value):
            raise TypeError("only powers by a plain number are supported (x ** 2, x ** -1), not by a Value; "
                            "write (y * x.log()).exp() for x ** y")
        k = _check_number(exponent, "exponent")
        if self.data == 0 and k < 0:
            raise ZeroDivisionError(f"0 ** {k:g} is undefined (division by zero)")
        try:
            result = self.data**k
        except OverflowError:
            raise ValueError(f"{self.data:g} ** {k:g} overflows") from None
        if isinstance(result, complex):
            raise ValueError(f"{self.data:g} ** {k:g} is not a real number (negative base, fractional power)")
        out = Value(result, (self,), f"**{k:g}")

        def _backward():  # d(x^k)/dx = k x^(k-1)
            if self.data == 0 and k < 1:  # infinite slope (e.g. sqrt at 0), as PyTorch reports
                self.grad += math.copysign(math.inf, k * out.grad) if k and out.grad else 0.0
            else:
                self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> "Value":
        try:
            out = Value(math.exp(self.data), (self,), "exp")
        except OverflowError:
            raise ValueError(f"exp({self.data:g}) overflows a float") from None

        def _backward():  # d(e^x)/dx = e^x, the output itself
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> "Value":
        if self.data <= 0:
            raise ValueError(f"log needs a positive input, got {self.data:g}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():  # d(log x)/dx = 1/x
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> "Value":
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():  # d(tanh x)/dx = 1 - tanh(x)^2
            self.grad += (1.0 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self) -> "Value":
        out = Value(0.5 * (1.0 + math.tanh(0.5 * self.data)), (self,), "sigmoid")  # never overflows

        def _backward():  # d(sigma x)/dx = sigma(x) (1 - sigma(x))
            self.grad += out.data * (1.0 - out.data) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> "Value":
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():  # 1 where x > 0, else 0 (0 at x = 0, as in PyTorch)
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad

        out._backward = _backward
        return out

    # --- derived operations: built from the primitives, so no new gradient formulas --------
    def __neg__(self) -> "Value":
        return self * -1.0

    def __sub__(self, other) -> "Value":
        return self + (-_as_value(other))

    def __truediv__(self, other) -> "Value":
        return self * _as_value(other) ** -1

    def __radd__(self, other) -> "Value":
        return _as_value(other) + self

    def __rsub__(self, other) -> "Value":
        return _as_value(other) - self

    def __rmul__(self, other) -> "Value":
        return _as_value(other) * self

    def __rtruediv__(self, other) -> "Value":
        return _as_value(other) / self

    # --- backpropagation ------------------------------------------------------------------
    def topological_order(self) -> list["Value"]:
        """Every node this value depends on (itself last), each after all of its parents."""
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]  # iterative DFS: deep graphs do not hit the recursion limit
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            for parent in reversed(node.parents):  # reversed: parents are visited in their given order
                if id(parent) not in visited:
                    stack.append((parent, False))
        return order

    def backward(self) -> None:
        """Fill ``grad`` of every node in the graph with d(self)/d(node).

        Like PyTorch, leaves (inputs and weights) accumulate across calls - zero them between
        steps - while the intermediate nodes start from 0 on every call.
        """
        order = self.topological_order()
        for node in order:
            if node.parents:
                node.grad = 0.0
        self.grad += 1.0  # d(self)/d(self)
        for node in reversed(order):
            node._backward()

    def zero_grad(self) -> None:
        """Set ``grad`` to 0 on every node of the graph ending here."""
        for node in self.topological_order():
            node.grad = 0.0

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"


def _as_value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


# --- seeing the graph --------------------------------------------------------------------------

def _names(order: list[Value]) -> dict[int, str]:
    """A label for every node: its own, or ``#i`` by position in the topological order."""
    return {id(node): node.label or f"#{i}" for i, node in enumerate(order)}


def listing(root: Value) -> str:
    """The graph ending at ``root`` as a table, one node per line in topological order:
    name, operation and inputs, value, gradient."""
    order = root.topological_order()
    names = _names(order)
    rows = [("node", "computed as", "data", "grad")]
    for node in order:
        if node.parents:
            args = [names[id(p)] for p in node.parents]
            formula = f"{node.op}({args[0]})" if len(args) == 1 else f" {node.op} ".join(args)
        else:
            formula = "input"
        rows.append((names[id(node)], formula, f"{node.data:.6g}", f"{node.grad:.6g}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def layout(root: Value) -> dict[int, tuple[float, float]]:
    """(x, y) position of every node: x = longest path from an input, y spread within a column."""
    order = root.topological_order()
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(p)] for p in node.parents), default=-1)
    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(depth[id(node)], []).append(node)
    positions = {}
    for x, nodes in columns.items():
        for j, node in enumerate(nodes):
            positions[id(node)] = (float(x), (len(nodes) - 1) / 2.0 - j)
    return positions


def draw(root: Value, ax=None, *, show_grad: bool = True):
    """Draw the computation graph ending at ``root`` with matplotlib and return the axes.

    Each node is a box with its name, operation, value and (in red) gradient; arrows go from
    inputs to outputs. No graphviz needed.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        order = root.topological_order()
        width = max(4.0, 1.7 * (1 + max(x for x, _ in layout(root).values())))
        _, ax = plt.subplots(figsize=(width, max(2.5, 0.9 * len(order) ** 0.5 + 1.5)))
    order = root.topological_order()
    names = _names(order)
    pos = layout(root)
    boxes = {}
    for node in order:
        x, y = pos[id(node)]
        op = f" [{node.op}]" if node.op else ""
        text = f"{names[id(node)]}{op}\n{node.data:.4g}"
        if show_grad:
            text += f"\ngrad {node.grad:.4g}"
        boxes[id(node)] = ax.text(x, y, text, ha="center", va="center", fontsize=8, bbox=dict(
            boxstyle="round,pad=0.35", fc="#eef4fb" if node.parents else "#fdf1e2", ec="0.4"))
    for node in order:
        for parent in node.parents:  # from the right edge of the input's box to the left edge of the output's
            ax.annotate("", xy=(0, 0.5), xycoords=boxes[id(node)], xytext=(1, 0.5),
                        textcoords=boxes[id(parent)],
                        arrowprops=dict(arrowstyle="-|>", color="0.5", lw=1, shrinkA=4, shrinkB=4))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.set_axis_off()
    return ax
