"""Exercises of notebook 09 (graph neural networks).

* ``in_degree`` (warm-up): count the edges arriving at each node; the notebook's GCN cells use it.
* ``gcn_normalize`` (substantial): Kipf & Welling's normalisation for *any* edge_index, exactly
  as PyG's GCNConv does it (one self-loop per node, existing ones not doubled; directed and
  repeated edges; isolated nodes). The karate-club model is then trained with it.

Expected answers come from ``nncourse.gnn`` (tested against PyTorch Geometric); the answers a
teacher can show are in ``nncourse.exercises.solutions.gnn``.
"""
from __future__ import annotations

import numpy as np

from .. import gnn
from . import Exercise
from .solutions import gnn as solutions

# --- warm-up: in-degrees ----------------------------------------------------------------------------


def _degree_cases():
    rng = np.random.default_rng(1736)  # Euler's bridges of Königsberg
    return [
        (np.array([[0, 1, 2, 3, 3], [1, 2, 0, 1, 2]]), 5),          # directed; node 4 has no edge at all
        (np.array([[0, 1, 1, 2], [1, 0, 2, 1]]), 3),                # undirected path 0-1-2
        (rng.integers(0, 6, size=(2, 15)), 8),                      # random, repeats; nodes 6, 7 isolated
    ]


in_degree = Exercise(
    "in_degree", solution=solutions.in_degree, reference=lambda ei, n: gnn.degree(ei[1], n),
    cases=_degree_cases, atol=0, rtol=0,
    hints=["Row 0 of edge_index holds the sources, row 1 the targets: an edge arrives at its target.",
           "Count how often each node number appears in edge_index[1]; nodes that never appear get 0, "
           "and the result has one entry per node (num_nodes of them).",
           "np.bincount(edge_index[1], minlength=num_nodes)"],
    mistakes=[(lambda ei, n: np.bincount(ei[0], minlength=n), "you counted the edges *leaving* each node "
                                                              "(row 0 holds the sources)."),
              (lambda ei, n: np.bincount(ei[1], minlength=n) + 1, "you added a self-loop to every node: "
                                                                   "count only the edges in edge_index."),
              (lambda ei, n: np.bincount(ei.ravel(), minlength=n), "you counted both ends of every edge: "
                                                                    "only the edges arriving count.")])


# --- substantial: GCN normalisation for any graph ------------------------------------------------------

def _norm_cases():
    rng = np.random.default_rng(2017)  # Kipf & Welling
    undirected = np.array([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    return [
        (undirected, 5),                                                          # node 4 isolated
        (np.array([[0, 1, 2, 3, 4, 4], [1, 2, 3, 0, 0, 1]]), 5),                 # directed
        (np.concatenate([undirected, [[1, 3, 3], [1, 3, 3]]], axis=1), 4),      # self-loops already there
        (np.concatenate([undirected, [[0, 2], [1, 1]]], axis=1), 4),            # repeated edges
        (rng.integers(0, 7, size=(2, 18)), 8),                                  # all of it at random
    ]


def _canonical(result, num_nodes):
    """(sorted (source, target, weight) rows) or a message saying what the shape of the answer is."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return None, "return two things: (edge_index with the self-loops, weight), a (2, E') array and an (E',) array."
    edges, weight = np.asarray(result[0]), np.asarray(result[1], dtype=float)
    if edges.ndim != 2 or edges.shape[0] != 2:
        return None, f"the edge_index you return must have shape (2, E'), yours has shape {edges.shape}."
    if weight.shape != (edges.shape[1],):
        return None, (f"return one weight per edge: {edges.shape[1]} edges but weight has shape {weight.shape}.")
    rows = np.column_stack([edges[0], edges[1], weight])
    return rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))], None


def _norm_compare(got, want, case):
    _, num_nodes = case
    got_rows, problem = _canonical(got, num_nodes)
    if problem:
        return problem
    want_rows, _ = _canonical(want, num_nodes)
    if np.isnan(got_rows[:, 2]).any() or np.isinf(got_rows[:, 2]).any():
        return "some weights are inf or nan: a node of degree 0 (did every node get its self-loop?)."
    if got_rows.shape == want_rows.shape and np.allclose(got_rows, want_rows, atol=1e-12):
        return None
    for wrong, message in _MISTAKES:
        wrong_rows, _ = _canonical(wrong(*case), num_nodes)
        if wrong_rows.shape == got_rows.shape and np.allclose(got_rows, wrong_rows, atol=1e-12):
            return message
    got_loops = got_rows[got_rows[:, 0] == got_rows[:, 1]]
    if len(got_loops) != num_nodes or set(got_loops[:, 0].astype(int)) != set(range(num_nodes)):
        return (f"there are {num_nodes} nodes, so the result needs exactly {num_nodes} self-loops, one per node; "
                f"yours has {len(got_loops)}.")
    if got_rows.shape != want_rows.shape:
        return f"your edge_index has {got_rows.shape[0]} edges, the answer has {want_rows.shape[0]}."
    if np.array_equal(got_rows[:, :2], want_rows[:, :2]):
        k = int(np.argmax(np.abs(got_rows[:, 2] - want_rows[:, 2])))
        s, t = got_rows[k, :2].astype(int)
        return f"the edges are right but a weight is not: edge {s} -> {t} has weight {got_rows[k, 2]:.6g}, expected {want_rows[k, 2]:.6g}."
    return "your edges differ from the answer's (compare them as a set of (source, target) pairs)."


def _no_loops(edge_index, num_nodes):
    deg = np.bincount(edge_index[1], minlength=num_nodes)
    with np.errstate(divide="ignore"):
        return edge_index, 1 / np.sqrt(deg[edge_index[0]] * deg[edge_index[1]])


def _all_loops(edge_index, num_nodes):
    loops = np.arange(num_nodes)
    edges = np.concatenate([edge_index, np.stack([loops, loops])], axis=1)
    deg = np.bincount(edges[1], minlength=num_nodes)
    return edges, 1 / np.sqrt(deg[edges[0]] * deg[edges[1]])


def _out_degree(edge_index, num_nodes):
    edges, _ = solutions.gcn_normalize(edge_index, num_nodes)
    deg = np.bincount(edges[0], minlength=num_nodes)
    return edges, 1 / np.sqrt(deg[edges[0]] * deg[edges[1]])


def _row_normalised(edge_index, num_nodes):
    edges, _ = solutions.gcn_normalize(edge_index, num_nodes)
    deg = np.bincount(edges[1], minlength=num_nodes)
    return edges, 1 / deg[edges[1]]


def _unique_edges(edge_index, num_nodes):
    return solutions.gcn_normalize(np.unique(edge_index, axis=1), num_nodes)


_MISTAKES = [
    (_all_loops, "you added a self-loop to every node even where one was there already: that node now has two. "
                 "PyG adds only the missing ones (one self-loop per node)."),
    (_no_loops, "no self-loops: then a node ignores its own features (and an isolated node divides by 0)."),
    (_out_degree, "your degrees count the edges leaving a node; GCN divides by the edges arriving (in-degree)."),
    (_row_normalised, "that is the mean, 1/deg(target) (D^-1 A): GCN's weight is symmetric, "
                      "1/sqrt(deg(source) deg(target))."),
    (_unique_edges, "you removed the repeated edges: PyG keeps them (an edge given twice counts twice)."),
]


def _describe_norm(case):
    edge_index, num_nodes = case
    loops = int(np.sum(edge_index[0] == edge_index[1]))
    return f"edge_index {edge_index.shape} on {num_nodes} nodes ({loops} self-loops given)"


gcn_normalize = Exercise(
    "gcn_normalize", solution=solutions.gcn_normalize, reference=lambda ei, n: gnn.gcn_norm(ei, n),
    cases=_norm_cases, compare=_norm_compare, describe=_describe_norm,
    hints=["Two steps: first the edges (every node gets exactly one self-loop), then one weight per edge "
           "from the degrees. The order of the edges you return does not matter.",
           "Self-loops: drop the columns with source == target, then append (i, i) for every node i. "
           "Degrees: count how often each node is a *target* in the new edge_index (your in_degree).",
           "weight[e] = 1 / sqrt(deg[source[e]] * deg[target[e]]), with deg counted after adding the self-loops "
           "(so it is at least 1 and never divides by zero)."],
)
