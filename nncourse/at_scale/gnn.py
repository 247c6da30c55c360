"""Graph neural networks at scale with PyTorch Geometric (notebook 09).

* :func:`node_classifier` - a stack of PyG convolutions (``GCNConv``, ``SAGEConv`` or ``GATConv``,
  or plain ``Linear`` layers as the baseline that ignores the edges) with ReLU and dropout, for
  node classification: ``model(x, edge_index) -> logits``.
* :func:`train_full_batch` - the whole graph in every step (Kipf & Welling's setting): train on
  the training nodes, pick the epoch by validation accuracy, report test accuracy once.
* :class:`NeighborSampler` - mini-batches for graphs too big for full-batch training
  (GraphSAGE's idea): for a batch of seed nodes, keep at most ``fanout[l]`` random in-neighbours
  per node and layer. PyG's ``NeighborLoader`` does this in compiled code, but it needs
  ``pyg-lib`` or ``torch_sparse``, which have no PyPI wheels; this one is a few NumPy lines.
* :func:`train_sampled` - mini-batch training with the sampler.

Everything runs on the GPU when there is one (``nncourse.get_device()``).
"""
from __future__ import annotations

import copy
import time

import numpy as np


def _torch():
    import torch

    return torch


class NeighborSampler:
    """Sample the computation graph of a batch of seed nodes, layer by layer.

    ``edge_index`` (2, E) with messages source -> target; ``fanouts`` e.g. [10, 5]: at most 10
    in-neighbours of each seed, then at most 5 of each of those. ``sample(seeds, rng)`` returns
    (nodes, edge_index_local): ``nodes`` (n,) global ids with the seeds first, and the sampled
    edges renumbered into positions of ``nodes`` - a small graph on which a GNN with
    ``len(fanouts)`` layers computes the seeds' outputs (rows 0..len(seeds)-1).
    """

    def __init__(self, edge_index, num_nodes: int, fanouts):
        edge_index = np.asarray(edge_index, dtype=np.int64)
        order = np.argsort(edge_index[1], kind="stable")              # group the edges by target (CSR)
        self.sources = edge_index[0, order]
        self.starts = np.concatenate([[0], np.cumsum(np.bincount(edge_index[1], minlength=num_nodes))])
        self.num_nodes, self.fanouts = num_nodes, [int(f) for f in fanouts]

    def sample(self, seeds, rng):
        seeds = np.asarray(seeds, dtype=np.int64)
        nodes, frontier = list(seeds), seeds
        position = {int(n): i for i, n in enumerate(seeds)}
        src, dst = [], []
        for fanout in self.fanouts:
            new = []
            for node in frontier:
                start, stop = self.starts[node], self.starts[node + 1]
                neighbours = self.sources[start:stop]
                if len(neighbours) > fanout:                            # keep a random few
                    neighbours = neighbours[rng.choice(len(neighbours), fanout, replace=False)]
                for nb in neighbours.tolist():
                    if nb not in position:
                        position[nb] = len(nodes)
                        nodes.append(nb)
                        new.append(nb)
                    src.append(position[nb])
                    dst.append(position[int(node)])
            frontier = np.array(new, dtype=np.int64)
        # each node is expanded once (when first reached), so no sampled edge repeats
        return np.array(nodes, dtype=np.int64), np.array([src, dst], dtype=np.int64).reshape(2, -1)


def node_classifier(in_channels: int, hidden: int, num_classes: int, *, conv: str = "gcn", layers: int = 2,
                    heads: int = 4, dropout: float = 0.5, seed: int = 0):
    """A :class:`NodeClassifier` (built here so that torch is imported only when it is needed)."""
    torch = _torch()
    from torch_geometric.nn import GATConv, GCNConv, SAGEConv

    torch.manual_seed(seed)

    class NodeClassifier(torch.nn.Module):
        """PyG convolutions with ReLU and dropout between them; the last layer gives the logits."""

        def __init__(self):
            super().__init__()
            widths = [in_channels] + [hidden] * (layers - 1) + [num_classes]
            self.convs = torch.nn.ModuleList()
            for k, (a, b) in enumerate(zip(widths, widths[1:])):
                last = k == layers - 1
                if conv == "gcn":
                    self.convs.append(GCNConv(a, b))
                elif conv == "sage":
                    self.convs.append(SAGEConv(a, b))
                elif conv == "mlp":   # the baseline that ignores the edges
                    self.convs.append(torch.nn.Linear(a, b))
                elif conv == "gat":   # hidden layers: heads concatenated (hidden = heads * channels)
                    self.convs.append(GATConv(a, b, heads=1) if last else GATConv(a, b // heads, heads=heads))
                else:
                    raise ValueError(f"conv must be 'gcn', 'sage', 'gat' or 'mlp', got {conv!r}")
            self.dropout = dropout

        def forward(self, x, edge_index):
            for k, layer in enumerate(self.convs):
                x = torch.nn.functional.dropout(x, self.dropout, self.training)
                x = layer(x) if isinstance(layer, torch.nn.Linear) else layer(x, edge_index)
                if k < len(self.convs) - 1:
                    x = torch.relu(x)
            return x

    return NodeClassifier()


def _accuracy(logits, y, mask) -> float:
    return float((logits[mask].argmax(-1) == y[mask]).float().mean())


def _record_epoch(model, x, edge_index, y, masks, loss, history, epoch, best_state):
    """After an epoch: the loss and full-batch train/validation accuracy into ``history``; returns the
    weights of the best validation epoch so far (a copy of the current ones if this epoch is it)."""
    torch = _torch()
    train, val = masks
    model.eval()
    with torch.no_grad():
        logits = model(x, edge_index)
    history["loss"].append(loss.item())
    history["train_acc"].append(_accuracy(logits, y, train))
    history["val_acc"].append(_accuracy(logits, y, val))
    if history["val_acc"][-1] > max(history["val_acc"][:-1], default=-1.0):
        history["best_epoch"] = epoch
        return copy.deepcopy(model.state_dict())
    return best_state


def _time_and_test_best(model, best_state, x, edge_index, y, test, history, start, device):
    """The training time, then the best validation epoch's weights restored and tested once."""
    torch = _torch()
    if device.type == "cuda":
        torch.cuda.synchronize()
    history["seconds"] = time.perf_counter() - start
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        history["test_acc"] = _accuracy(model(x, edge_index), y, test)


def train_full_batch(model, graph, masks, *, epochs: int = 100, lr: float = 0.01, weight_decay: float = 5e-4,
                     device=None, progress: bool = True):
    """Full-batch training of ``model`` on ``graph`` (an ``nncourse.graph_data.Graph``);
    ``masks`` = (train, val, test) boolean arrays over the nodes.

    Returns a dict: per-epoch ``loss``, ``train_acc``, ``val_acc``; ``best_epoch`` (highest
    validation accuracy), ``test_acc`` of the model at that epoch (measured once), ``seconds``.
    """
    torch = _torch()
    from tqdm.auto import tqdm

    device = device or torch.device("cpu")
    x = torch.as_tensor(graph.x, dtype=torch.float32, device=device)
    edge_index = torch.as_tensor(graph.edge_index, device=device)
    y = torch.as_tensor(graph.y, device=device)
    train, val, test = (torch.as_tensor(m, device=device) for m in masks)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    history = {"loss": [], "train_acc": [], "val_acc": []}
    best_state = None
    start = time.perf_counter()
    for epoch in tqdm(range(epochs), desc="full batch", disable=not progress, leave=False):
        model.train()
        optimizer.zero_grad()
        logits = model(x, edge_index)
        loss = torch.nn.functional.cross_entropy(logits[train], y[train])
        loss.backward()
        optimizer.step()
        best_state = _record_epoch(model, x, edge_index, y, (train, val), loss, history, epoch, best_state)
    _time_and_test_best(model, best_state, x, edge_index, y, test, history, start, device)
    return history


def train_sampled(model, graph, masks, *, fanouts=(10, 5), batch_size: int = 512, epochs: int = 3, lr: float = 0.01,
                  weight_decay: float = 5e-4, device=None, seed: int = 0, progress: bool = True):
    """Mini-batch training with :class:`NeighborSampler`; evaluation full-batch at the end of each
    epoch (inference needs no gradients, so the whole graph fits). Same return as
    :func:`train_full_batch`, plus ``batches`` and ``mean_sampled_nodes`` (nodes per batch)."""
    torch = _torch()
    from tqdm.auto import tqdm

    device = device or torch.device("cpu")
    rng = np.random.default_rng(seed)
    sampler = NeighborSampler(graph.edge_index, graph.num_nodes, fanouts)
    x_all = torch.as_tensor(graph.x, dtype=torch.float32)
    y_all = torch.as_tensor(graph.y)
    train_nodes = np.flatnonzero(masks[0])
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    x, edge_index, y = x_all.to(device), torch.as_tensor(graph.edge_index, device=device), y_all.to(device)
    train, val, test = (torch.as_tensor(m, device=device) for m in masks)
    history = {"loss": [], "train_acc": [], "val_acc": [], "batches": 0, "sampled_nodes": []}
    best_state = None
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(train_nodes)
        batches = range(0, len(order), batch_size)
        model.train()
        for b in tqdm(batches, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False):
            seeds = order[b:b + batch_size]
            nodes, local_edges = sampler.sample(seeds, rng)
            nodes_t = torch.as_tensor(nodes)
            optimizer.zero_grad()
            logits = model(x_all[nodes_t].to(device), torch.as_tensor(local_edges, device=device))
            loss = torch.nn.functional.cross_entropy(logits[:len(seeds)], y_all[nodes_t[:len(seeds)]].to(device))
            loss.backward()
            optimizer.step()
            history["batches"] += 1
            history["sampled_nodes"].append(len(nodes))
        best_state = _record_epoch(model, x, edge_index, y, (train, val), loss, history, epoch, best_state)
    _time_and_test_best(model, best_state, x, edge_index, y, test, history, start, device)
    history["mean_sampled_nodes"] = float(np.mean(history["sampled_nodes"]))
    return history
