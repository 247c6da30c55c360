"""nncourse.graph_data: the graphs of notebook 09 are what their docstrings say."""
import networkx as nx
import numpy as np

from nncourse import graph_data as gd


def test_karate_club_is_networkx_graph_both_directions():
    g = gd.karate_club()
    assert g.num_nodes == 34 and g.num_edges == 2 * 78
    assert set(map(tuple, g.edge_index.T)) == {e for a, b in nx.karate_club_graph().edges() for e in ((a, b), (b, a))}
    assert g.y[0] == 0 and g.y[33] == 1 and g.y.sum() == 17   # Mr. Hi's side and the officer's
    assert nx.is_isomorphic(g.to_networkx(), nx.karate_club_graph())


def test_undirected_drops_self_loops_and_repeats():
    ei = gd.undirected([[0, 1], [1, 0], [2, 2], [1, 2]])
    assert sorted(map(tuple, ei.T)) == [(0, 1), (1, 0), (1, 2), (2, 1)]


def test_planted_partition_is_denser_inside_and_noise_knob_works():
    g = gd.planted_partition(3, 40, 0.2, 0.01, feature_noise=0.0, seed=1)
    same = g.y[g.edge_index[0]] == g.y[g.edge_index[1]]
    assert same.mean() > 0.8
    means = np.stack([g.x[g.y == c].mean(0) for c in range(3)])
    np.testing.assert_allclose(g.x, means[g.y])   # no noise: the features are the class means
    noisy = gd.planted_partition(3, 40, 0.2, 0.01, feature_noise=2.0, seed=1)
    assert np.std(noisy.x - means[noisy.y]) > 1.5


def test_touching_reds_labels_balance_and_same_colour_counts():
    graphs = gd.touching_reds(60, seed=3)
    labels = np.array([g.y for g in graphs])
    assert labels.sum() == 30
    for g in graphs:
        red = g.x[:, 0] == 1
        assert red.sum() == 3 and np.allclose(g.x.sum(1), 1)
        assert nx.is_tree(g.to_networkx())
        assert g.y == int(np.any(red[g.edge_index[0]] & red[g.edge_index[1]]))


def test_batch_graphs_shifts_node_numbers():
    graphs = gd.touching_reds(4, seed=0)
    x, ei, batch, y = gd.batch_graphs(graphs)
    assert x.shape[0] == sum(g.num_nodes for g in graphs) == len(batch)
    assert np.all(batch[ei[0]] == batch[ei[1]])           # no edge crosses graphs
    second = graphs[1]
    offset = graphs[0].num_nodes
    np.testing.assert_array_equal(ei[:, batch[ei[0]] == 1] - offset, second.edge_index)
    np.testing.assert_array_equal(y, [g.y for g in graphs])


def test_random_graph_homophily_and_splits():
    g = gd.random_graph(2000, 4, average_degree=10, homophily=0.8, seed=0)
    same = (g.y[g.edge_index[0]] == g.y[g.edge_index[1]]).mean()
    assert 0.75 < same < 0.9 and 8 < g.num_edges / g.num_nodes < 11
    train, val, test = gd.split_nodes(100, train=0.2, val=0.3, seed=0)
    assert train.sum() == 20 and val.sum() == 30 and test.sum() == 50 and not np.any(train & val | val & test)


def test_load_cora_converts_pyg_data_and_names_the_cause_when_offline(monkeypatch, tmp_path):
    import pytest
    import torch
    import torch_geometric.datasets
    from torch_geometric.data import Data

    class FakePlanetoid(list):
        def __init__(self, root, name):
            assert name == "Cora" and root == str(tmp_path)
            mask = torch.tensor([True, False, False])
            super().__init__([Data(x=torch.ones(3, 4), edge_index=torch.tensor([[0, 1], [1, 2]]), y=torch.tensor([0, 1, 0]),
                                   train_mask=mask, val_mask=~mask, test_mask=mask)])

    monkeypatch.setattr(torch_geometric.datasets, "Planetoid", FakePlanetoid)
    graph, (train, val, test) = gd.load_cora(tmp_path)
    assert graph.x.shape == (3, 4) and graph.edge_index.dtype == np.int64 and list(graph.y) == [0, 1, 0]
    assert train.dtype == bool and list(val) == [False, True, True]

    def offline(root, name):
        raise OSError("no network")

    monkeypatch.setattr(torch_geometric.datasets, "Planetoid", offline)
    with pytest.raises(RuntimeError, match="Cora could not be loaded.*no network"):
        gd.load_cora(tmp_path)
