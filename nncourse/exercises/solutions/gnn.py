"""Answers to the exercises of notebook 09 (graph neural networks)."""
import numpy as np


def in_degree(edge_index, num_nodes):
    # an edge (source, target) arrives at its target: count how often each node is a target
    return np.bincount(edge_index[1], minlength=num_nodes)


def gcn_normalize(edge_index, num_nodes):
    source, target = edge_index
    keep = source != target                                   # drop the self-loops already there ...
    loops = np.arange(num_nodes)                              # ... and give every node exactly one
    source = np.concatenate([source[keep], loops])
    target = np.concatenate([target[keep], loops])
    deg = np.bincount(target, minlength=num_nodes)            # in-degrees, self-loop included: >= 1
    weight = 1 / np.sqrt(deg[source] * deg[target])
    return np.stack([source, target]), weight
