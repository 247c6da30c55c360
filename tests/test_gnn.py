"""nncourse.gnn against PyTorch Geometric (float64 autograd) on awkward graphs, plus finite differences."""
import numpy as np
import pytest
import torch
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool
from torch_geometric.nn.conv.gcn_conv import gcn_norm as pyg_gcn_norm
from torch_geometric.utils import add_remaining_self_loops as pyg_add_remaining_self_loops

from nncourse import compare_with_torch, gradcheck
from nncourse.gnn import (
    GATConv, GCNConv, GlobalPool, SAGEConv, add_remaining_self_loops, check_edge_index, degree, gcn_norm,
    normalized_adjacency, segment_softmax, to_dense_adjacency,
)

N = 7


def _graphs():
    """Named (2, E) edge sets on N nodes: each awkward case PyG treats specially."""
    rng = np.random.default_rng(9)
    undirected = np.array([[0, 1, 1, 2, 2, 3, 4, 5], [1, 0, 2, 1, 3, 2, 5, 4]])   # node 6 isolated
    return {
        "undirected, isolated node": undirected,
        "self-loops present": np.concatenate([undirected, [[2, 4, 4], [2, 4, 4]]], axis=1),  # 4 has two
        "directed": np.array([[0, 1, 2, 3, 5, 6], [1, 2, 3, 0, 0, 0]]),
        "repeated edges": np.concatenate([undirected, [[0, 0, 3], [1, 1, 2]]], axis=1),
        "random": rng.integers(0, N, size=(2, 20)),
        "no edges": np.zeros((2, 0), dtype=np.int64),
    }


GRAPHS = _graphs()
LAYERS = {
    "GCNConv": lambda seed: GCNConv(4, 3, seed=seed),
    "SAGEConv": lambda seed: SAGEConv(4, 3, seed=seed),
    "GATConv 1 head": lambda seed: GATConv(4, 3, seed=seed),
    "GATConv 3 heads": lambda seed: GATConv(4, 2, heads=3, seed=seed),
}
WORST = {}  # layer -> max difference over the graphs and seeds (printed by the last test)


def _randomise(layer, seed):
    rng = np.random.default_rng(seed + 100)
    for name, p in layer.params.items():   # non-zero biases, so that a wrong bias path shows
        layer.params[name] = rng.normal(size=p.shape)
    return layer


@pytest.mark.parametrize("graph", list(GRAPHS))
@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("seed", [0, 1])
def test_layer_matches_pyg_autograd_in_float64(name, graph, seed):
    layer = _randomise(LAYERS[name](seed), seed)
    x = np.random.default_rng(seed).normal(size=(N, 4))
    bound = layer.on(GRAPHS[graph])
    errors = compare_with_torch(bound, x, seed=seed, torch_call=bound.torch_call)
    assert set(errors) == {"out", "x", *layer.params}
    WORST[name] = max(WORST.get(name, 0.0), max(errors.values()))
    assert max(errors.values()) < 1e-12, errors


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradcheck(name):
    for graph in ("self-loops present", "repeated edges", "directed"):
        layer = _randomise(LAYERS[name](3), 3)
        errors = gradcheck(layer.on(GRAPHS[graph]), np.random.default_rng(3).normal(size=(N, 4)))
        assert max(errors.values()) < 1e-6


def test_gcn_norm_and_self_loops_match_pyg():
    for graph, edges in GRAPHS.items():
        ours_edges, ours_weight = gcn_norm(edges, N)
        pyg_edges, pyg_weight = pyg_gcn_norm(torch.from_numpy(edges), None, N, add_self_loops=True, dtype=torch.float64)
        key = lambda e, w: sorted(zip(e[0].tolist(), e[1].tolist(), np.round(w, 12).tolist()))
        assert key(ours_edges, ours_weight) == key(pyg_edges.numpy(), pyg_weight.double().numpy()), graph
        theirs = pyg_add_remaining_self_loops(torch.from_numpy(edges), num_nodes=N)[0].numpy()
        assert sorted(map(tuple, add_remaining_self_loops(edges, N).T)) == sorted(map(tuple, theirs.T))
    # node 4 had two self-loops: it keeps exactly one, and an isolated node's only weight is 1
    loops = add_remaining_self_loops(GRAPHS["self-loops present"], N)
    assert np.sum((loops[0] == 4) & (loops[1] == 4)) == 1
    A = normalized_adjacency(GRAPHS["undirected, isolated node"], N)
    assert A[6, 6] == 1 and np.allclose(A, A.T)
    assert np.allclose(A[0, 1], 1 / np.sqrt(2 * 3))   # deg 0 = 1 + 1 loop, deg 1 = 2 + 1 loop


def test_gcn_forward_is_the_dense_formula():
    edges = GRAPHS["repeated edges"]
    layer = _randomise(GCNConv(4, 3), 0)
    x = np.random.default_rng(0).normal(size=(N, 4))
    A = to_dense_adjacency(edges, N)
    A_hat = A * (1 - np.eye(N)) + np.eye(N)
    d = A_hat.sum(1) ** -0.5
    want = (d[:, None] * A_hat * d[None]) @ x @ layer.params["lin.weight"].T + layer.params["bias"]
    np.testing.assert_allclose(layer(x, edges), want, atol=1e-12)


def test_degree_counts_repeats_and_isolated_nodes():
    np.testing.assert_array_equal(degree(GRAPHS["repeated edges"][1], N), [1, 4, 3, 1, 1, 1, 0])


def test_segment_softmax_sums_to_one_per_group_and_survives_large_scores():
    scores = np.array([[1000.0], [1001.0], [-5.0], [3.0]])
    alpha = segment_softmax(scores, np.array([0, 0, 2, 2]), 3)
    assert np.all(np.isfinite(alpha))
    np.testing.assert_allclose([alpha[:2].sum(), alpha[2:].sum()], 1)


def test_permutation_equivariance():
    rng = np.random.default_rng(5)
    x, edges = rng.normal(size=(N, 4)), GRAPHS["random"]
    perm = rng.permutation(N)
    inverse = np.argsort(perm)              # old node k is new node inverse[k]
    for name, make in LAYERS.items():
        layer = _randomise(make(0), 0)
        np.testing.assert_allclose(layer(x[perm], inverse[edges]), layer(x, edges)[perm], atol=1e-12, err_msg=name)


@pytest.mark.parametrize("mode, pyg", [("sum", global_add_pool), ("mean", global_mean_pool), ("max", global_max_pool)])
def test_global_pool_matches_pyg(mode, pyg):
    rng = np.random.default_rng(1)
    x, batch = rng.normal(size=(9, 3)), np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    xt = torch.from_numpy(x).requires_grad_(True)
    pool = GlobalPool(mode)
    out = pool(x, batch)
    want = pyg(xt, torch.from_numpy(batch))
    dout = rng.normal(size=out.shape)
    (want * torch.from_numpy(dout)).sum().backward()
    np.testing.assert_allclose(out, want.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(pool.backward(dout), xt.grad.numpy(), atol=1e-12)


def test_clear_errors():
    with pytest.raises(ValueError, match="shape \\(2, E\\)"):
        check_edge_index(np.zeros((3, 4), dtype=int))
    with pytest.raises(ValueError, match="only 3 nodes"):
        GCNConv(2, 2)(np.zeros((3, 2)), [[0, 1], [1, 5]])
    with pytest.raises(ValueError, match=r"\(num_nodes, 4\)"):
        SAGEConv(4, 2)(np.zeros((3, 2)), [[0], [1]])
    with pytest.raises(RuntimeError, match="before forward"):
        GATConv(2, 2).backward(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="mode must be"):
        GlobalPool("median")


def test_worst_differences_recorded():
    """Runs last in this file: the max |ours - PyG| per layer type over all graphs and seeds."""
    if len(WORST) < len(LAYERS):
        pytest.skip("run with the comparison tests")
    print("\nmax |NumPy - PyG| (outputs, dx and parameter gradients, float64):",
          {name: f"{value:.1e}" for name, value in WORST.items()})
    assert max(WORST.values()) < 1e-12


def test_gcn_model_backward_matches_finite_differences_with_residual_and_pool():
    from nncourse.gnn import GCN
    from nncourse.gradcheck import numeric_gradient

    rng = np.random.default_rng(0)
    x, edges, batch = rng.normal(size=(N, 3)), GRAPHS["repeated edges"], np.array([0, 0, 0, 1, 1, 1, 1])
    for conv, pool, residual, activation in (("gcn", None, True, "relu"), ("sage", "max", False, "relu"),
                                             ("gat", "sum", True, "relu"), ("gcn", "mean", False, "tanh")):
        model = GCN(3, [4, 4], 2, conv=conv, pool=pool, residual=residual, activation=activation, seed=1)
        dout = rng.normal(size=model(x, edges, batch).shape)
        model(x, edges, batch)
        dx = model.backward(dout)
        numeric = numeric_gradient(lambda: float(np.sum(model(x, edges, batch) * dout)), x)
        np.testing.assert_allclose(dx, numeric, atol=1e-6, err_msg=conv)
        model(x, edges, batch)
        model.backward(dout)
        grads = {k: g.copy() for k, g in model.grads.items()}
        name = "conv2.lin.weight" if conv != "sage" else "conv2.lin_l.weight"
        numeric = numeric_gradient(lambda: float(np.sum(model(x, edges, batch) * dout)), model.params[name])
        np.testing.assert_allclose(grads[name], numeric, atol=1e-6, err_msg=conv)


def test_dirichlet_energy_zero_when_over_smoothed_and_matches_dense_laplacian():
    from nncourse.gnn import dirichlet_energy

    edges = GRAPHS["undirected, isolated node"]
    deg = degree(add_remaining_self_loops(edges, N)[1], N)
    assert dirichlet_energy(np.sqrt(deg)[:, None] * np.ones((N, 3)), edges) < 1e-12   # GCN's fixed point
    h = np.random.default_rng(0).normal(size=(N, 3))
    L = np.eye(N) - normalized_adjacency(edges, N)
    assert np.isclose(dirichlet_energy(h, edges), np.trace(h.T @ L @ h) / np.sum(h * h))
    assert 0.3 < dirichlet_energy(h, edges) < 1.7
    A = normalized_adjacency(edges, N)
    assert dirichlet_energy(A @ A @ h, edges) < dirichlet_energy(h, edges)   # propagation smooths
