"""Widget of notebook 09: *Message passing* - what a node can see after k layers, and what k layers
do to the features.

:class:`MessagePassingWidget` - pick a node and a number of layers.

* Left: the **receptive field**. After k layers a node's output depends on the nodes at most k
  hops away (the edges arriving at it, then theirs, ...); they light up hop by hop, coloured by
  their distance, the rest grey.
* Middle: **information spreading**. k random GCN layers (ReLU, PyG-style Glorot weights scaled
  to keep the magnitude) are applied to random node features; each node is coloured by how much
  its features now differ from the selected node's (:func:`distance_to`; 0 = the same). At k = 0
  they are unrelated; a few layers later whole regions look alike, then the whole graph.
* Right: **over-smoothing**: the Dirichlet energy (``nncourse.gnn.dirichlet_energy``: 0 when
  neighbours cannot be told apart) against depth, with and without residual connections
  (h <- h + ReLU(GCN(h))), the mean over a few random weight draws; a dot marks the current depth.

Everything is computed once when the widget is built; moving a slider only recolours.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection

from ..gnn import GCNConv, add_remaining_self_loops, check_edge_index, degree, dirichlet_energy
from ..graph_data import Graph, karate_club
from .base import FigureWidget


def hop_distances(edge_index, num_nodes: int) -> np.ndarray:
    """(N, N) int: ``D[i, j]`` = fewest edges on a path j -> ... -> i (messages reaching i from j),
    -1 when j never reaches i. Breadth-first, one matrix product per hop."""
    edge_index = check_edge_index(edge_index, num_nodes)
    reach = np.zeros((num_nodes, num_nodes), dtype=bool)
    reach[edge_index[1], edge_index[0]] = True                  # reach[i, j]: an edge j -> i
    dist = np.full((num_nodes, num_nodes), -1)
    np.fill_diagonal(dist, 0)
    frontier = np.eye(num_nodes, dtype=bool)
    for hop in range(1, num_nodes):
        frontier = (reach.astype(np.int64) @ frontier.astype(np.int64) > 0) & (dist < 0)
        if not frontier.any():
            break
        dist[frontier] = hop
        frontier = dist >= 0
    return dist


def propagate_random_layers(graph: Graph, depth: int, *, residual: bool, width: int = 16, seed: int = 0):
    """Features after 0..depth random GCN layers: a list of depth + 1 arrays (N, width)."""
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(graph.num_nodes, width))
    states = [h]
    for k in range(depth):
        conv = GCNConv(width, width, seed=seed * 1000 + k)
        conv.params["lin.weight"] *= np.sqrt(2.0)   # ReLU halves the signal: keep the scale (He's factor)
        z = np.maximum(conv(h, graph.edge_index), 0.0)
        h = h + z if residual else z
        states.append(h)
    return states


def oversmoothing_curves(graph: Graph, depth: int = 12, *, draws: int = 3, width: int = 16, seed: int = 0):
    """{"plain": (depth + 1,), "residual": (depth + 1,)}: mean Dirichlet energy over ``draws`` weight draws."""
    curves = {}
    for name, residual in (("plain", False), ("residual", True)):
        energies = [[dirichlet_energy(h, graph.edge_index) for h in
                     propagate_random_layers(graph, depth, residual=residual, width=width, seed=seed + d)]
                    for d in range(draws)]
        curves[name] = np.mean(energies, axis=0)
    return curves


def distance_to(h: np.ndarray, node: int, edge_index) -> np.ndarray:
    """(N,): how different each node's features are from ``node``'s, after dividing every row by
    sqrt(degree + 1) (GCN propagation converges to rows proportional to it, so over-smoothed
    nodes get distance 0), relative to the mean row norm: about 1.4 for unrelated features."""
    deg = degree(add_remaining_self_loops(edge_index, h.shape[0])[1], h.shape[0])
    u = h / np.sqrt(deg)[:, None]
    scale = max(float(np.mean(np.linalg.norm(u, axis=1))), 1e-12)
    return np.linalg.norm(u - u[node], axis=1) / scale


class MessagePassingWidget(FigureWidget):
    """Sliders: node, layers; a box: residual connections. See the module docstring."""

    # JPEG: encoding is about half of an update's time as PNG (measured: median 28-38 ms per update
    # as JPEG vs 66-72 ms as PNG at the same load); the dots and lines survive quality 90 well.
    image_format = "jpeg"

    HOP_COLORS = np.array([[0.84, 0.15, 0.16, 1], [1.0, 0.50, 0.05, 1], [0.99, 0.80, 0.10, 1],
                           [0.55, 0.78, 0.25, 1], [0.17, 0.63, 0.17, 1], [0.09, 0.75, 0.81, 1],
                           [0.12, 0.47, 0.71, 1], [0.58, 0.40, 0.74, 1], [0.55, 0.34, 0.29, 1]])
    OUTSIDE = np.array([0.85, 0.85, 0.85, 1.0])

    def __init__(self, graph: Graph | None = None, *, node: int = 0, layers: int = 1, max_layers: int = 8,
                 seed: int = 0, positions: np.ndarray | None = None):
        super().__init__(figsize=(12, 4.0))
        self.graph = graph if graph is not None else karate_club()
        n = self.graph.num_nodes
        if positions is None:
            import networkx as nx

            layout = nx.kamada_kawai_layout(self.graph.to_networkx())
            positions = np.array([layout[i] for i in range(n)])
        self.positions = np.asarray(positions, dtype=float)
        self.max_layers = int(max_layers)
        self.node = widgets.IntSlider(value=node, min=0, max=n - 1, description="node")
        self.layers = widgets.IntSlider(value=layers, min=0, max=self.max_layers, description="layers")
        self.residual = widgets.Checkbox(value=False, description="residual connections")
        self.controls = widgets.VBox([widgets.HBox([self.node, self.layers, self.residual]), self.status])
        self.observe(self.node, self.layers, self.residual)

        # computed once: distances, the random-layer states (both variants), the energy curves
        self.distances = hop_distances(self.graph.edge_index, n)
        self.states = {res: np.stack(propagate_random_layers(self.graph, self.max_layers, residual=res, seed=seed))
                       for res in (False, True)}
        self.curves = oversmoothing_curves(self.graph, self.max_layers, seed=seed)

        self.ax_field, self.ax_spread, self.ax_curve = self.fig.subplots(
            1, 3, gridspec_kw={"width_ratios": [1, 1, 0.9]})
        source, target = self.graph.edge_index
        segments = np.stack([self.positions[source], self.positions[target]], axis=1)
        self.edges = LineCollection(segments, colors=[(0.7, 0.7, 0.7, 1)], linewidths=0.8, zorder=1)
        self.ax_field.add_collection(self.edges)
        self.ax_spread.add_collection(LineCollection(segments, colors="0.8", linewidths=0.6, zorder=1))
        self.field = self.ax_field.scatter(*self.positions.T, s=70, c=[self.OUTSIDE], edgecolors="k",
                                           linewidths=0.5, zorder=2)
        self.spread = self.ax_spread.scatter(*self.positions.T, s=70, c=np.zeros(n), cmap="viridis_r", vmin=0, vmax=1.5,
                                             edgecolors="k", linewidths=0.5, zorder=2)
        self.fig.colorbar(self.spread, ax=self.ax_spread, fraction=0.04, pad=0.01).set_label(
            "distance to the node's features", fontsize=8)
        self.selected_field = self.ax_field.scatter([0], [0], s=200, facecolors="none", edgecolors="k",
                                                    linewidths=2, zorder=3)
        self.selected_spread = self.ax_spread.scatter([0], [0], s=200, facecolors="none", edgecolors="r",
                                                      linewidths=2, zorder=3)
        for ax in (self.ax_field, self.ax_spread):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.margins(0.08)
            ax.autoscale_view()
        depths = np.arange(self.max_layers + 1)
        self.ax_curve.plot(depths, self.curves["plain"], "o-", ms=3, label="plain GCN layers")
        self.ax_curve.plot(depths, self.curves["residual"], "s-", ms=3, label="with residuals")
        (self.marker,) = self.ax_curve.plot([], [], "o", ms=11, mfc="none", mec="k", mew=2)
        self.ax_curve.set(xlabel="layers", ylabel="Dirichlet energy", yscale="log",
                          title="over-smoothing (0 = neighbours identical)")
        self.ax_curve.title.set_fontsize(10)
        self.ax_curve.legend(fontsize=8)
        self.ax_field.set_title("receptive field, coloured by hop", fontsize=10)
        self.ax_spread.set_title("after the layers: how alike to the node?", fontsize=10)
        self.fig.tight_layout()
        # titles stay fixed (text is the slowest thing to draw); what changes is said in the status line
        self.animate(self.edges, self.field, self.spread, self.selected_field, self.selected_spread, self.marker)
        self.update()

    def receptive_field(self, node: int, layers: int) -> np.ndarray:
        """(N,) bool: the nodes whose features reach ``node`` within ``layers`` layers."""
        d = self.distances[node]
        return (d >= 0) & (d <= layers)

    def update(self):
        node, layers, residual = self.node.value, self.layers.value, self.residual.value
        d = self.distances[node]
        inside = self.receptive_field(node, layers)
        colors = np.where(inside[:, None], self.HOP_COLORS[np.clip(d, 0, len(self.HOP_COLORS) - 1)], self.OUTSIDE)
        self.field.set_facecolors(colors)
        source, target = self.graph.edge_index
        used = inside[source] & (d[target] >= 0) & (d[target] < layers)   # carries a message towards the node in time
        self.edges.set_colors(np.where(used[:, None], [[0.1, 0.1, 0.1, 1]], [[0.75, 0.75, 0.75, 1]]))
        self.edges.set_linewidths(np.where(used, 1.8, 0.7))
        distance = distance_to(self.states[residual][layers], node, self.graph.edge_index)
        self.spread.set_array(distance)
        for marker in (self.selected_field, self.selected_spread):
            marker.set_offsets(self.positions[node][None])
        curve = self.curves["residual" if residual else "plain"]
        self.marker.set_data([layers], [curve[layers]])
        others = np.arange(len(distance)) != node
        self.status.value = (f"Node {node}, {layers} layer{'s' * (layers != 1)}{' with residuals' if residual else ''}: "
                             f"it sees {inside.sum()} of {len(inside)} nodes. "
                             f"Mean distance of the other nodes' features to its: {distance[others].mean():.2f}; "
                             f"Dirichlet energy {curve[layers]:.3f}.")
