"""Graphs for notebook 09, as PyG-style arrays: node features ``x`` (N, F), ``edge_index`` (2, E)
with both directions of every undirected edge, labels ``y``.

* :func:`karate_club` - Zachary's karate club (34 members, 78 friendships, the club split in two),
  shipped with networkx: node classification from a handful of labels.
* :func:`planted_partition` - communities with dense edges inside, sparse across, and node
  features that carry the class plus noise (the ``feature_noise`` knob).
* :func:`touching_reds` - a graph-classification family: random trees with three red nodes;
  class 1 when two red nodes are neighbours. Same node counts of each colour in both classes,
  so only the structure tells them apart.
* :func:`batch_graphs` - many small graphs as one big disconnected graph plus a ``batch`` vector
  (how PyG's ``DataLoader`` batches graphs).
* :func:`random_graph` - a large planted-partition graph, as edge arrays only, for the at-scale section.

No downloads here: everything is generated or bundled with networkx.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Graph:
    """One graph: x (N, F) float, edge_index (2, E) int64, y (N,) node labels or a graph label."""

    x: np.ndarray
    edge_index: np.ndarray
    y: np.ndarray | int
    name: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return self.x.shape[0]

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    def to_networkx(self):
        """An undirected ``networkx.Graph`` (for drawing)."""
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(range(self.num_nodes))
        g.add_edges_from(self.edge_index.T.tolist())
        return g

    def __repr__(self) -> str:
        return f"Graph({self.name or 'graph'}: {self.num_nodes} nodes, {self.num_edges} directed edges, x {self.x.shape})"


def undirected(pairs, num_nodes: int | None = None) -> np.ndarray:
    """(2, 2P) edge_index with both directions of each pair in ``pairs`` (P, 2), sorted, no repeats."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    both = np.concatenate([pairs, pairs[:, ::-1]])
    both = np.unique(both[both[:, 0] != both[:, 1]], axis=0)
    return both.T.copy()


def karate_club() -> Graph:
    """Zachary's karate club (1977): 34 members; y = 0 for those who followed the instructor
    Mr. Hi (node 0), 1 for the administrator's side (node 33). x is the identity (34, 34): no
    features, each node its own one-hot (as in Kipf & Welling's demo)."""
    import networkx as nx

    g = nx.karate_club_graph()
    y = np.array([0 if g.nodes[i]["club"] == "Mr. Hi" else 1 for i in range(g.number_of_nodes())])
    return Graph(np.eye(g.number_of_nodes()), undirected(list(g.edges())), y, "karate club")


def planted_partition(num_classes: int = 3, nodes_per_class: int = 40, p_in: float = 0.15, p_out: float = 0.01,
                      *, num_features: int = 8, feature_noise: float = 1.0, seed: int = 0) -> Graph:
    """A stochastic block model: an edge inside a class with probability ``p_in``, across with ``p_out``.

    Features: a class-specific mean (random unit-scale vector per class) plus Gaussian noise of
    standard deviation ``feature_noise``: at 0 the features alone give the class, at large noise
    only the edges do. Nodes are shuffled (the class is not the node number).
    """
    rng = np.random.default_rng(seed)
    n = num_classes * nodes_per_class
    y = rng.permutation(np.repeat(np.arange(num_classes), nodes_per_class))
    same = y[:, None] == y[None, :]
    upper = np.triu(rng.random((n, n)) < np.where(same, p_in, p_out), k=1)
    means = rng.normal(size=(num_classes, num_features))
    x = means[y] + feature_noise * rng.normal(size=(n, num_features))
    return Graph(x, undirected(np.argwhere(upper), n), y, "planted partition", {"feature_noise": feature_noise})


def random_tree(num_nodes: int, rng) -> np.ndarray:
    """(P, 2) pairs of a random tree: node k attaches to a uniformly chosen earlier node."""
    return np.array([[k, rng.integers(0, k)] for k in range(1, num_nodes)], dtype=np.int64).reshape(-1, 2)


def touching_reds(num_graphs: int = 200, *, num_red: int = 3, min_nodes: int = 8, max_nodes: int = 16,
                  seed: int = 0) -> list[Graph]:
    """Random trees with ``num_red`` red nodes (the rest blue); y = 1 when two red nodes share an
    edge, else 0, alternating so the classes are balanced. x (N, 2) is one-hot (red, blue): every
    graph has the same number of red nodes, so only *where* they sit, i.e. the edges, tells the
    classes apart - a question one round of message passing can answer ("am I red, and is a
    neighbour red?")."""
    rng = np.random.default_rng(seed)
    graphs, want = [], 0
    while len(graphs) < num_graphs:
        n = int(rng.integers(min_nodes, max_nodes + 1))
        pairs = random_tree(n, rng)
        red = np.zeros(n, bool)
        red[rng.choice(n, num_red, replace=False)] = True
        label = int(np.any(red[pairs[:, 0]] & red[pairs[:, 1]]))
        if label != want:   # rejection: keep the classes alternating, hence balanced
            continue
        want = 1 - want
        x = np.stack([red, ~red], axis=1).astype(np.float64)
        graphs.append(Graph(x, undirected(pairs, n), label, "reds touch" if label else "reds apart"))
    return [graphs[i] for i in rng.permutation(num_graphs)]


def batch_graphs(graphs: list[Graph]):
    """Stack graphs into one disconnected graph: -> x (sum N, F), edge_index (2, sum E) with each
    graph's node numbers shifted past the previous graphs', batch (sum N,) the graph of each
    node, y (G,) the graph labels."""
    offsets = np.cumsum([0] + [g.num_nodes for g in graphs])[:-1]
    x = np.concatenate([g.x for g in graphs])
    edge_index = np.concatenate([g.edge_index + off for g, off in zip(graphs, offsets)], axis=1)
    batch = np.concatenate([np.full(g.num_nodes, k) for k, g in enumerate(graphs)])
    return x, edge_index, batch, np.array([g.y for g in graphs])


def random_graph(num_nodes: int, num_classes: int = 4, *, average_degree: float = 10.0, homophily: float = 0.8,
                 num_features: int = 32, feature_noise: float = 3.0, seed: int = 0) -> Graph:
    """A large planted-partition graph drawn edge by edge (no N x N matrix): each node sends
    ``average_degree / 2`` edges, a share ``homophily`` of them to its own class. Features are
    the class mean plus noise, so the features alone are a weak guide and the neighbours help."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, num_nodes)
    members = [np.flatnonzero(y == c) for c in range(num_classes)]
    m = int(num_nodes * average_degree / 2)
    source = rng.integers(0, num_nodes, m)
    same = rng.random(m) < homophily
    target = rng.integers(0, num_nodes, m)
    for c in range(num_classes):   # rewire the "same class" edges to a random member of the source's class
        pick = same & (y[source] == c)
        target[pick] = members[c][rng.integers(0, len(members[c]), pick.sum())]
    means = rng.normal(size=(num_classes, num_features))
    x = (means[y] + feature_noise * rng.normal(size=(num_nodes, num_features))).astype(np.float32)
    return Graph(x, undirected(np.stack([source, target], 1), num_nodes), y, f"synthetic ({num_nodes} nodes)")


def split_nodes(num_nodes: int, *, train: float, val: float, seed: int = 0):
    """Random disjoint boolean masks (train, val, test) over the nodes."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(num_nodes)
    n_train, n_val = int(round(train * num_nodes)), int(round(val * num_nodes))
    masks = [np.zeros(num_nodes, bool) for _ in range(3)]
    masks[0][order[:n_train]] = True
    masks[1][order[n_train:n_train + n_val]] = True
    masks[2][order[n_train + n_val:]] = True
    return tuple(masks)


def load_cora(directory=None):
    """Cora (McCallum et al. 2000; Kipf & Welling's benchmark): 2,708 papers, 10,556 directed
    citation edges, 1,433 bag-of-words features, 7 topics, the standard split (140 training,
    500 validation, 1,000 test nodes). Downloaded by PyG's ``Planetoid`` loader into the course's
    cache (``nncourse.data.cache_dir()/planetoid``; PyG publishes no checksums for these files).

    Returns (Graph, (train, val, test) boolean masks); raises ``RuntimeError`` naming the cause
    when the download fails (offline), so a notebook can print its fallback.
    """
    from pathlib import Path

    from .data import cache_dir

    root = Path(directory) if directory is not None else cache_dir() / "planetoid"
    try:
        from torch_geometric.datasets import Planetoid

        data = Planetoid(str(root), "Cora")[0]
    except Exception as err:  # no network, a proxy, a changed URL: say which
        raise RuntimeError(f"Cora could not be loaded into {root}: {type(err).__name__}: {err}") from err
    graph = Graph(data.x.numpy().astype(np.float32), data.edge_index.numpy().astype(np.int64),
                  data.y.numpy(), "Cora")
    masks = tuple(m.numpy().astype(bool) for m in (data.train_mask, data.val_mask, data.test_mask))
    return graph, masks
