"""The Message passing widget of notebook 09, driven headless: set a control, check the figure's state."""
import networkx as nx
import numpy as np
import pytest

from nncourse import graph_data as gd
from nncourse.gnn import dirichlet_energy
from nncourse.widgets.gnn import MessagePassingWidget, hop_distances, oversmoothing_curves, propagate_random_layers


@pytest.fixture(scope="module")
def widget():
    g = gd.karate_club()
    layout = nx.circular_layout(g.to_networkx())   # fast, deterministic
    w = MessagePassingWidget(g, positions=np.array([layout[i] for i in range(34)]))
    yield w
    w.close()


def test_hop_distances_match_networkx_and_follow_edge_direction():
    g = gd.karate_club()
    lengths = dict(nx.all_pairs_shortest_path_length(g.to_networkx()))
    d = hop_distances(g.edge_index, 34)
    assert all(d[i, j] == lengths[j][i] for i in range(34) for j in range(34))
    directed = hop_distances(np.array([[0, 1], [1, 2]]), 4)   # 0 -> 1 -> 2; node 3 alone
    assert directed[2, 0] == 2 and directed[0, 2] == -1 and directed[3, 0] == -1 and directed[3, 3] == 0


def test_node_slider_changes_the_picture(widget):
    before = widget.to_png()
    with widget.hold():
        widget.layers.value = 1
        widget.node.value = 0
    colors = widget.field.get_facecolors()
    neighbours = set(gd.karate_club().edge_index[1][gd.karate_club().edge_index[0] == 0]) | {0}
    lit = {i for i in range(34) if not np.allclose(colors[i], widget.OUTSIDE)}
    assert lit == neighbours
    np.testing.assert_allclose(widget.selected_field.get_offsets()[0], widget.positions[0])
    widget.node.value = 33
    assert widget.to_png() != before
    np.testing.assert_allclose(widget.selected_spread.get_offsets()[0], widget.positions[33])
    assert "Node 33, 1 layer" in widget.status.value


def test_layers_grow_the_field_and_move_the_marker(widget):
    sizes = []
    eccentricity = int(widget.distances[widget.node.value].max())   # the farthest node, in hops
    for k in range(eccentricity + 1):
        widget.layers.value = k
        sizes.append(int(widget.receptive_field(widget.node.value, k).sum()))
        assert widget.marker.get_xdata()[0] == k
        assert widget.marker.get_ydata()[0] == pytest.approx(widget.curves["plain"][k])
    assert sizes[0] == 1 and sizes == sorted(sizes) and len(set(sizes)) == len(sizes) and sizes[-1] == 34
    widget.residual.value = True
    assert widget.marker.get_ydata()[0] == pytest.approx(widget.curves["residual"][eccentricity])
    assert widget.spread.get_array()[widget.node.value] == 0      # a node is alike itself
    with widget.hold():
        widget.residual.value, widget.layers.value = False, 0
    assert np.mean(widget.spread.get_array()) > 1                 # random features: unrelated
    widget.layers.value = widget.max_layers
    assert np.mean(widget.spread.get_array()) < 0.4               # deep: every node alike


def test_oversmoothing_curves_fall_and_residuals_slow_the_fall():
    g = gd.karate_club()
    curves = oversmoothing_curves(g, 8, draws=2)
    assert curves["plain"][8] < 0.05 * curves["plain"][0]          # eight layers: neighbours nearly identical
    assert np.all(curves["residual"][1:5] > curves["plain"][1:5])  # residuals keep them apart for longer
    states = propagate_random_layers(g, 2, residual=False)
    assert dirichlet_energy(states[0], g.edge_index) == pytest.approx(curves["plain"][0], rel=0.5)
