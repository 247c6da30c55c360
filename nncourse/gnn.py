"""Graph neural networks from scratch: message passing on an ``edge_index`` (notebook 09).

A graph is PyTorch Geometric's pair: node features ``x`` (N, F) and ``edge_index`` (2, E), an
integer array whose column ``(j, i)`` is an edge from the *source* j (row 0) to the *target* i
(row 1). Messages flow along the edges, source to target, and each node aggregates what
arrives. Repeated columns are repeated edges (they count twice), a column ``(i, i)`` is a
self-loop, and a node that appears in no column is isolated.

* helpers: :func:`degree`, :func:`remove_self_loops`, :func:`add_self_loops`,
  :func:`add_remaining_self_loops`, :func:`gcn_norm`, :func:`normalized_adjacency`;
* kernels (forward -> (out, cache), backward(dout, cache)): :func:`gcn_forward`,
  :func:`sage_forward`, :func:`gat_forward`, :func:`global_pool_forward` and their backwards;
* layers on the course's layer protocol, parameters named and laid out as PyG's
  ``named_parameters()``: :class:`GCNConv`, :class:`SAGEConv` (mean aggregation),
  :class:`GATConv` (one or several heads, concatenated), each ``forward(x, edge_index)``;
  ``layer.on(edge_index)`` fixes the graph so that ``gradcheck`` and ``compare_with_torch``
  (which call ``forward(x)``) check it like any other layer.

Everything here is checked against ``torch_geometric.nn`` in float64 in ``tests/test_gnn.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .layers import Container, Layer, Linear, _torch_dtype, load_into_torch
from .validation import as_array, check_positive_int

# --- the graph: edge_index helpers ------------------------------------------------------------------


def check_edge_index(edge_index, num_nodes: int | None = None) -> np.ndarray:
    """``edge_index`` as an int64 (2, E) array, with a clear error for anything else."""
    array = np.asarray(edge_index)
    if array.ndim != 2 or array.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, E) (row 0 = source nodes, row 1 = targets), "
                         f"got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.equal(np.mod(array, 1), 0)):
            raise ValueError(f"edge_index must hold integer node numbers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if array.size and array.min() < 0:
        raise ValueError(f"edge_index holds a negative node number ({array.min()})")
    if num_nodes is not None and array.size and array.max() >= num_nodes:
        raise ValueError(f"edge_index refers to node {array.max()}, but there are only {num_nodes} nodes "
                         f"(numbered 0..{num_nodes - 1})")
    return array


def num_nodes_of(edge_index, num_nodes: int | None = None) -> int:
    """``num_nodes`` if given, else one more than the largest node number in ``edge_index``."""
    if num_nodes is not None:
        return int(num_nodes)
    edge_index = np.asarray(edge_index)
    return int(edge_index.max()) + 1 if edge_index.size else 0


def degree(index, num_nodes: int | None = None, weight=None) -> np.ndarray:
    """How often each node appears in ``index`` (E,) (optionally summing ``weight``): pass
    ``edge_index[1]`` for in-degrees, ``edge_index[0]`` for out-degrees. -> (num_nodes,) float."""
    index = np.asarray(index, dtype=np.int64)
    return np.bincount(index, weights=weight, minlength=num_nodes_of(index[None], num_nodes)).astype(np.float64)


def remove_self_loops(edge_index) -> np.ndarray:
    """Drop every column (i, i)."""
    edge_index = check_edge_index(edge_index)
    return edge_index[:, edge_index[0] != edge_index[1]]


def add_self_loops(edge_index, num_nodes: int | None = None) -> np.ndarray:
    """Append one self-loop (i, i) for every node (existing ones are kept: use
    :func:`add_remaining_self_loops` to add only the missing ones)."""
    edge_index = check_edge_index(edge_index, num_nodes)
    loops = np.arange(num_nodes_of(edge_index, num_nodes))
    return np.concatenate([edge_index, np.stack([loops, loops])], axis=1)


def add_remaining_self_loops(edge_index, num_nodes: int | None = None) -> np.ndarray:
    """Exactly one self-loop per node, as PyG's ``add_remaining_self_loops``: the other edges are
    kept as they are (repeats included), existing self-loops are replaced by a single one."""
    return add_self_loops(remove_self_loops(check_edge_index(edge_index, num_nodes)), num_nodes_of(edge_index, num_nodes))


def gcn_norm(edge_index, num_nodes: int | None = None, *, add_self_loops: bool = True):
    """Kipf & Welling's symmetric normalisation, as ``torch_geometric.nn.conv.gcn_conv.gcn_norm``.

    Returns (edge_index with one self-loop per node, weight (E',)) with
    ``weight[e] = 1 / sqrt(deg[source] * deg[target])``, ``deg`` the in-degree counted *with* the
    self-loops (so never 0 and a node's own features take part). A node with no edges keeps
    only its self-loop, of weight 1.
    """
    n = num_nodes_of(edge_index, num_nodes)
    edge_index = add_remaining_self_loops(edge_index, n) if add_self_loops else check_edge_index(edge_index, n)
    source, target = edge_index
    deg = degree(target, n)
    inv_sqrt = np.zeros_like(deg)
    inv_sqrt[deg > 0] = deg[deg > 0] ** -0.5
    return edge_index, inv_sqrt[source] * inv_sqrt[target]


def to_dense_adjacency(edge_index, num_nodes: int | None = None, weight=None) -> np.ndarray:
    """A (N, N) matrix with ``A[target, source]`` = the number (or summed weight) of edges source -> target,
    so that ``A @ x`` sums, for each node, the features of the nodes sending to it."""
    edge_index = check_edge_index(edge_index, num_nodes)
    n = num_nodes_of(edge_index, num_nodes)
    A = np.zeros((n, n))
    np.add.at(A, (edge_index[1], edge_index[0]), 1.0 if weight is None else weight)
    return A


def normalized_adjacency(edge_index, num_nodes: int | None = None) -> np.ndarray:
    """The GCN propagation matrix D^-1/2 (A + I) D^-1/2 as a dense (N, N) array (for pictures and
    small checks; the layers never build it)."""
    n = num_nodes_of(edge_index, num_nodes)
    loops, weight = gcn_norm(edge_index, n)
    return to_dense_adjacency(loops, n, weight)


def propagate(h: np.ndarray, edge_index: np.ndarray, weight: np.ndarray | None, num_nodes: int) -> np.ndarray:
    """out[target] += weight * h[source] over every edge: the sparse product A_w @ h. -> (num_nodes, ...)."""
    source, target = edge_index
    messages = h[source] if weight is None else weight.reshape(-1, *([1] * (h.ndim - 1))) * h[source]
    out = np.zeros((num_nodes, *h.shape[1:]), dtype=np.result_type(h, messages))
    np.add.at(out, target, messages)
    return out


# --- GCN ----------------------------------------------------------------------------------------


@dataclass
class GCNCache:
    x: np.ndarray            # (N, F_in)
    weight: np.ndarray       # (F_out, F_in)
    edge_index: np.ndarray   # (2, E') with the self-loops
    norm: np.ndarray         # (E',)


def gcn_forward(x, edge_index, weight, bias=None):
    """out = D^-1/2 (A + I) D^-1/2 (x W^T) + b, as ``torch_geometric.nn.GCNConv``.

    x (N, F_in), edge_index (2, E), weight (F_out, F_in), bias (F_out,) -> out (N, F_out), cache.
    """
    n = x.shape[0]
    loops, norm = gcn_norm(edge_index, n)
    h = x @ weight.T                                   # (N, F_out): transform first (cheaper when F_out < F_in)
    out = propagate(h, loops, norm.astype(x.dtype), n)  # (N, F_out): each node's weighted sum over its in-neighbours
    if bias is not None:
        out = out + bias
    return out, GCNCache(x, weight, loops, norm.astype(x.dtype))


def gcn_backward(dout, cache: GCNCache):
    """-> (dx (N, F_in), dweight (F_out, F_in), dbias (F_out,)). The propagation is linear, so its
    backward sends dout back along the reversed edges with the same weights: dh = Â^T dout."""
    source, target = cache.edge_index
    reversed_edges = np.stack([target, source])
    dh = propagate(dout, reversed_edges, cache.norm, cache.x.shape[0])   # (N, F_out)
    return dh @ cache.weight, dh.T @ cache.x, dout.sum(axis=0)


# --- GraphSAGE, mean aggregation ------------------------------------------------------------------


@dataclass
class SAGECache:
    x: np.ndarray
    aggregated: np.ndarray   # (N, F_in): mean of the in-neighbours' features
    edge_index: np.ndarray
    inv_deg: np.ndarray      # (N,): 1 / in-degree, 0 for a node nothing sends to
    weight_l: np.ndarray
    weight_r: np.ndarray


def sage_forward(x, edge_index, weight_l, bias_l, weight_r):
    """out_i = W_l mean_{j -> i} x_j + b_l + W_r x_i, as ``torch_geometric.nn.SAGEConv`` (aggr="mean").

    No self-loops are added (the node's own features enter through W_r); a node with no
    in-neighbours aggregates zeros. -> out (N, F_out), cache.
    """
    n = x.shape[0]
    edge_index = check_edge_index(edge_index, n)
    deg = degree(edge_index[1], n)
    inv_deg = np.where(deg > 0, 1.0 / np.maximum(deg, 1), 0.0).astype(x.dtype)
    aggregated = propagate(x, edge_index, None, n) * inv_deg[:, None]   # (N, F_in)
    out = aggregated @ weight_l.T + bias_l + x @ weight_r.T
    return out, SAGECache(x, aggregated, edge_index, inv_deg, weight_l, weight_r)


def sage_backward(dout, cache: SAGECache):
    """-> (dx, dweight_l, dbias_l, dweight_r)."""
    daggregated = dout @ cache.weight_l                        # (N, F_in)
    source, target = cache.edge_index
    # each target's mean sent its gradient, divided by its degree, to every source it averaged
    dx = dout @ cache.weight_r + propagate(daggregated * cache.inv_deg[:, None], np.stack([target, source]),
                                           None, cache.x.shape[0])
    return dx, dout.T @ cache.aggregated, dout.sum(axis=0), dout.T @ cache.x


# --- GAT ----------------------------------------------------------------------------------------


def segment_softmax(scores: np.ndarray, index: np.ndarray, num_segments: int) -> np.ndarray:
    """Softmax of ``scores`` (E, ...) within each group of entries sharing ``index`` (E,): here, over
    the edges arriving at the same node. The group maximum is subtracted first (no overflow)."""
    shape = (num_segments, *scores.shape[1:])
    top = np.full(shape, -np.inf, dtype=scores.dtype)
    np.maximum.at(top, index, scores)
    e = np.exp(scores - top[index])
    total = np.zeros(shape, dtype=scores.dtype)
    np.add.at(total, index, e)
    return e / total[index]


@dataclass
class GATCache:
    x: np.ndarray
    h: np.ndarray            # (N, H, C): transformed features
    edge_index: np.ndarray   # (2, E') with one self-loop per node
    raw: np.ndarray          # (E', H): scores before the LeakyReLU
    alpha: np.ndarray        # (E', H): attention weights (sum to 1 over each target's edges)
    weight: np.ndarray
    att_src: np.ndarray
    att_dst: np.ndarray
    negative_slope: float


def gat_forward(x, edge_index, weight, att_src, att_dst, bias=None, *, negative_slope=0.2):
    """Graph attention (Veličković et al. 2018) as ``torch_geometric.nn.GATConv`` (concat=True):

    h = x W^T split into H heads of C; e_ij = LeakyReLU(a_src·h_j + a_dst·h_i) for every edge
    j -> i (existing self-loops replaced by one per node); alpha_ij = softmax over the edges
    arriving at i; out_i = concat over heads of sum_j alpha_ij h_j, + bias.

    x (N, F_in), weight (H*C, F_in), att_src/att_dst (1, H, C), bias (H*C,) -> out (N, H*C), cache.
    """
    n = x.shape[0]
    heads, channels = att_src.shape[1:]
    loops = add_self_loops(remove_self_loops(check_edge_index(edge_index, n)), n)
    source, target = loops
    h = (x @ weight.T).reshape(n, heads, channels)          # (N, H, C)
    score_src = (h * att_src).sum(-1)                        # (N, H): what j advertises
    score_dst = (h * att_dst).sum(-1)                        # (N, H): what i looks for
    raw = score_src[source] + score_dst[target]              # (E', H)
    scores = np.where(raw > 0, raw, negative_slope * raw)
    alpha = segment_softmax(scores, target, n)               # (E', H)
    out = propagate(alpha[:, :, None] * h[source], np.stack([np.arange(len(source)), target]), None, n)
    out = out.reshape(n, heads * channels)
    if bias is not None:
        out = out + bias
    return out, GATCache(x, h, loops, raw, alpha, weight, att_src, att_dst, negative_slope)


def gat_backward(dout, cache: GATCache):
    """-> (dx, dweight, datt_src, datt_dst, dbias)."""
    n, heads, channels = cache.h.shape
    source, target = cache.edge_index
    d_out = dout.reshape(n, heads, channels)                      # (N, H, C)
    dalpha = (d_out[target] * cache.h[source]).sum(-1)            # (E', H)
    dh = propagate(cache.alpha[:, :, None] * d_out[target], np.stack([np.arange(len(source)), source]), None, n)
    # softmax backward within each target's group: dscore = alpha * (dalpha - sum_group alpha * dalpha)
    group = np.zeros((n, heads), dtype=dout.dtype)
    np.add.at(group, target, cache.alpha * dalpha)
    dscores = cache.alpha * (dalpha - group[target])
    draw = np.where(cache.raw > 0, dscores, cache.negative_slope * dscores)
    dscore_src = np.zeros((n, heads), dtype=dout.dtype)
    dscore_dst = np.zeros((n, heads), dtype=dout.dtype)
    np.add.at(dscore_src, source, draw)
    np.add.at(dscore_dst, target, draw)
    dh = dh + dscore_src[:, :, None] * cache.att_src + dscore_dst[:, :, None] * cache.att_dst
    datt_src = (dscore_src[:, :, None] * cache.h).sum(0, keepdims=True)   # (1, H, C)
    datt_dst = (dscore_dst[:, :, None] * cache.h).sum(0, keepdims=True)
    dh = dh.reshape(n, heads * channels)
    return dh @ cache.weight, dh.T @ cache.x, datt_src, datt_dst, dout.sum(axis=0)


# --- readout: one vector per graph -------------------------------------------------------------------


def global_pool_forward(x, batch, num_graphs: int | None = None, mode: str = "mean"):
    """Pool node features (N, F) into graph features (G, F): ``mode`` "sum", "mean" or "max" over the
    nodes with ``batch[node] == g`` (PyG's ``global_add_pool`` / ``global_mean_pool`` /
    ``global_max_pool``). A graph without nodes gets zeros. -> (out, cache)."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode must be 'sum', 'mean' or 'max', got {mode!r}")
    batch = np.asarray(batch, dtype=np.int64)
    if batch.shape != (x.shape[0],):
        raise ValueError(f"batch must give one graph number per node, shape ({x.shape[0]},), got {batch.shape}")
    g = int(batch.max()) + 1 if num_graphs is None and batch.size else int(num_graphs or 0)
    counts = np.bincount(batch, minlength=g).astype(x.dtype)
    if mode == "max":
        out = np.full((g, x.shape[1]), -np.inf, dtype=x.dtype)
        np.maximum.at(out, batch, x)
        out[counts == 0] = 0
        winner = x == out[batch]                      # (N, F): where the maximum came from
        share = winner / np.maximum(propagate(winner.astype(x.dtype), np.stack([np.arange(len(batch)), batch]),
                                              None, g)[batch], 1)   # ties split the gradient evenly
        return out, {"mode": mode, "batch": batch, "share": share}
    out = propagate(x, np.stack([np.arange(len(batch)), batch]), None, g)
    if mode == "mean":
        out = out / np.maximum(counts, 1)[:, None]
    return out, {"mode": mode, "batch": batch, "counts": counts}


def global_pool_backward(dout, cache) -> np.ndarray:
    """dL/dx (N, F) from dL/dout (G, F)."""
    batch = cache["batch"]
    if cache["mode"] == "sum":
        return dout[batch]
    if cache["mode"] == "mean":
        return dout[batch] / np.maximum(cache["counts"], 1)[batch, None]
    return dout[batch] * cache["share"]


# --- layers --------------------------------------------------------------------------------------


def _glorot(rng, fan_out: int, fan_in: int, shape) -> np.ndarray:
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, shape)


class GraphLayer(Layer):
    """A layer whose forward takes the graph too: ``forward(x, edge_index)``.

    ``on(edge_index)`` returns the same layer with the graph fixed (shared parameters and
    gradients), whose ``forward(x)`` the course's gradcheck and compare_with_torch can call.
    """

    in_channels: int

    def _inputs(self, x, edge_index):
        x = as_array(x, "x", ndim=2)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}: x must have shape (num_nodes, {self.in_channels}), "
                             f"got {x.shape}")
        return x, check_edge_index(edge_index, x.shape[0])

    def _param(self, name, x):
        return self.params[name].astype(x.dtype, copy=False)

    def __call__(self, x, edge_index):
        return self.forward(x, edge_index)

    def on(self, edge_index) -> "OnGraph":
        return OnGraph(self, edge_index)


class OnGraph(Layer):
    """``layer.on(edge_index)``: a graph layer with its graph fixed, ``forward(x)`` only."""

    def __init__(self, layer: GraphLayer, edge_index):
        super().__init__()
        self.layer, self.edge_index = layer, check_edge_index(edge_index)
        self.params, self.grads = layer.params, layer.grads

    def forward(self, x):
        return self.layer.forward(x, self.edge_index)

    def backward(self, dout):
        return self.layer.backward(dout)

    def to_torch(self):
        return self.layer.to_torch()

    def torch_call(self, module, x_tensor):
        """For ``compare_with_torch(bound, x, torch_call=bound.torch_call)``."""
        import torch

        return module(x_tensor, torch.from_numpy(self.edge_index))


class GCNConv(GraphLayer):
    """Kipf & Welling's graph convolution, ``torch_geometric.nn.GCNConv`` from scratch (notebook 09).

    Parameters ``lin.weight`` (out_channels, in_channels), Glorot-uniform, and ``bias``
    (out_channels,), zeros - PyG's names, layouts and initialisation scheme.
    forward(x (N, in_channels), edge_index (2, E)) -> (N, out_channels).
    """

    def __init__(self, in_channels: int, out_channels: int, *, bias: bool = True, seed: int = 0, dtype=np.float64):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        rng = np.random.default_rng(seed)
        self.params["lin.weight"] = _glorot(rng, out_channels, in_channels, (out_channels, in_channels)).astype(dtype)
        if bias:
            self.params["bias"] = np.zeros(out_channels, dtype=dtype)

    def forward(self, x, edge_index):
        x, edge_index = self._inputs(x, edge_index)
        bias = self._param("bias", x) if "bias" in self.params else None
        out, cache = gcn_forward(x, edge_index, self._param("lin.weight", x), bias)
        self._cache = {"kernel": cache, "out_shape": out.shape}
        return out

    def backward(self, dout):
        saved = self._saved()
        dout = self._check_dout(dout, saved["out_shape"]).astype(saved["kernel"].x.dtype, copy=False)
        dx, dweight, dbias = gcn_backward(dout, saved["kernel"])
        self.grads["lin.weight"] = dweight.astype(self.params["lin.weight"].dtype, copy=False)
        if "bias" in self.params:
            self.grads["bias"] = dbias.astype(self.params["bias"].dtype, copy=False)
        return dx

    def to_torch(self):
        from torch_geometric.nn import GCNConv as PyGGCNConv

        module = PyGGCNConv(self.in_channels, self.out_channels, bias="bias" in self.params)
        module = module.to(_torch_dtype(self.params["lin.weight"].dtype))
        return load_into_torch(module, self.params)

    def __repr__(self) -> str:
        return f"GCNConv({self.in_channels}, {self.out_channels})"


class SAGEConv(GraphLayer):
    """GraphSAGE with mean aggregation (Hamilton et al. 2017), ``torch_geometric.nn.SAGEConv``
    from scratch (notebook 09): out_i = lin_l(mean_{j -> i} x_j) + lin_r(x_i).

    Parameters ``lin_l.weight``, ``lin_l.bias``, ``lin_r.weight`` (no bias), initialised as
    ``nn.Linear``. forward(x (N, in_channels), edge_index (2, E)) -> (N, out_channels).
    """

    def __init__(self, in_channels: int, out_channels: int, *, seed: int = 0, dtype=np.float64):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        rng = np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(in_channels)
        self.params["lin_l.weight"] = rng.uniform(-bound, bound, (out_channels, in_channels)).astype(dtype)
        self.params["lin_l.bias"] = rng.uniform(-bound, bound, out_channels).astype(dtype)
        self.params["lin_r.weight"] = rng.uniform(-bound, bound, (out_channels, in_channels)).astype(dtype)

    def forward(self, x, edge_index):
        x, edge_index = self._inputs(x, edge_index)
        out, cache = sage_forward(x, edge_index, self._param("lin_l.weight", x), self._param("lin_l.bias", x),
                                  self._param("lin_r.weight", x))
        self._cache = {"kernel": cache, "out_shape": out.shape}
        return out

    def backward(self, dout):
        saved = self._saved()
        dout = self._check_dout(dout, saved["out_shape"]).astype(saved["kernel"].x.dtype, copy=False)
        dx, dweight_l, dbias_l, dweight_r = sage_backward(dout, saved["kernel"])
        for name, g in (("lin_l.weight", dweight_l), ("lin_l.bias", dbias_l), ("lin_r.weight", dweight_r)):
            self.grads[name] = g.astype(self.params[name].dtype, copy=False)
        return dx

    def to_torch(self):
        from torch_geometric.nn import SAGEConv as PyGSAGEConv

        module = PyGSAGEConv(self.in_channels, self.out_channels, aggr="mean")
        return load_into_torch(module.to(_torch_dtype(self.params["lin_l.weight"].dtype)), self.params)

    def __repr__(self) -> str:
        return f"SAGEConv({self.in_channels}, {self.out_channels}, aggr='mean')"


class GATConv(GraphLayer):
    """Graph attention (Veličković et al. 2018), ``torch_geometric.nn.GATConv`` from scratch
    (notebook 09), heads concatenated, no dropout: the attention of notebook 08 restricted to the
    edges, with an additive score instead of a dot product.

    Parameters ``lin.weight`` (heads*out_channels, in_channels), ``att_src`` and ``att_dst``
    (1, heads, out_channels), ``bias`` (heads*out_channels,) zeros.
    forward(x (N, in_channels), edge_index (2, E)) -> (N, heads*out_channels); the attention
    weights of the last forward are in ``attention`` (E', heads) over ``attention_edges`` (2, E').
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, *, negative_slope: float = 0.2,
                 seed: int = 0, dtype=np.float64):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.heads = check_positive_int(heads, "heads")
        self.negative_slope = float(negative_slope)
        rng = np.random.default_rng(seed)
        width = heads * out_channels
        self.params["att_src"] = _glorot(rng, heads, out_channels, (1, heads, out_channels)).astype(dtype)
        self.params["att_dst"] = _glorot(rng, heads, out_channels, (1, heads, out_channels)).astype(dtype)
        self.params["bias"] = np.zeros(width, dtype=dtype)
        self.params["lin.weight"] = _glorot(rng, width, in_channels, (width, in_channels)).astype(dtype)
        self.attention = self.attention_edges = None

    def forward(self, x, edge_index):
        x, edge_index = self._inputs(x, edge_index)
        out, cache = gat_forward(x, edge_index, self._param("lin.weight", x), self._param("att_src", x),
                                 self._param("att_dst", x), self._param("bias", x), negative_slope=self.negative_slope)
        self._cache = {"kernel": cache, "out_shape": out.shape}
        self.attention, self.attention_edges = cache.alpha, cache.edge_index
        return out

    def backward(self, dout):
        saved = self._saved()
        dout = self._check_dout(dout, saved["out_shape"]).astype(saved["kernel"].x.dtype, copy=False)
        dx, dweight, datt_src, datt_dst, dbias = gat_backward(dout, saved["kernel"])
        for name, g in (("lin.weight", dweight), ("att_src", datt_src), ("att_dst", datt_dst), ("bias", dbias)):
            self.grads[name] = g.astype(self.params[name].dtype, copy=False)
        return dx

    def to_torch(self):
        from torch_geometric.nn import GATConv as PyGGATConv

        module = PyGGATConv(self.in_channels, self.out_channels, heads=self.heads, negative_slope=self.negative_slope)
        return load_into_torch(module.to(_torch_dtype(self.params["lin.weight"].dtype)), self.params)

    def __repr__(self) -> str:
        return f"GATConv({self.in_channels}, {self.out_channels}, heads={self.heads})"


class GlobalPool(Layer):
    """Readout: node features (N, F) -> one vector per graph (G, F), by "sum", "mean" or "max".

    ``forward(x, batch, num_graphs=None)``; ``batch[node]`` is the graph the node belongs to.
    """

    def __init__(self, mode: str = "mean"):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"mode must be 'sum', 'mean' or 'max', got {mode!r}")
        self.mode = mode

    def forward(self, x, batch, num_graphs: int | None = None):
        x = as_array(x, "x", ndim=2)
        out, cache = global_pool_forward(x, batch, num_graphs, self.mode)
        self._cache = {"kernel": cache, "out_shape": out.shape}
        return out

    def __call__(self, x, batch, num_graphs=None):
        return self.forward(x, batch, num_graphs)

    def backward(self, dout):
        saved = self._saved()
        return global_pool_backward(self._check_dout(dout, saved["out_shape"]), saved["kernel"])

    def to_torch(self):
        raise NotImplementedError("pooling has no parameters: use torch_geometric.nn.global_*_pool")

    def __repr__(self) -> str:
        return f"GlobalPool({self.mode!r})"


# --- small models for notebook 09 ------------------------------------------------------------------


class GCN(Container):
    """A stack of graph convolutions with ReLU between them, then a linear read-out.

    GCN(in_channels, hidden (a list of widths), num_classes, conv="gcn"|"sage"|"gat", residual=False,
    pool=None|"sum"|"mean"|"max", activation="relu"|"tanh"). forward(x (N, F), edge_index, batch=None) -> node logits
    (N, num_classes), or graph logits (G, num_classes) with a ``pool``. ``embedding`` holds the
    last hidden layer's node features (N, hidden[-1]) of the latest forward (for pictures).
    ``residual`` adds each hidden layer's input to its output where the widths agree.
    """

    CONVS = {"gcn": GCNConv, "sage": SAGEConv, "gat": GATConv}

    def __init__(self, in_channels: int, hidden, num_classes: int, *, conv: str = "gcn", residual: bool = False,
                 pool: str | None = None, activation: str = "relu", seed: int = 0):
        super().__init__()
        if activation not in ("relu", "tanh"):
            raise ValueError(f"activation must be 'relu' or 'tanh', got {activation!r}")
        self.activation = activation
        if conv not in self.CONVS:
            raise ValueError(f"conv must be one of {sorted(self.CONVS)}, got {conv!r}")
        widths = [in_channels, *([hidden] if isinstance(hidden, int) else hidden)]
        self.residual, self.pool_mode = bool(residual), pool
        self.convs = []
        for k, (a, b) in enumerate(zip(widths, widths[1:])):
            self.convs.append(self.add(f"conv{k + 1}", self.CONVS[conv](a, b, seed=seed + k)))
        self.pool = GlobalPool(pool) if pool else None
        self.head = Linear(widths[-1], num_classes, seed=seed + len(widths))
        self.embedding = None

    def forward(self, x, edge_index, batch=None):
        h = as_array(x, "x", ndim=2)
        masks = []
        for conv in self.convs:
            z = conv.forward(h, edge_index)
            if self.activation == "relu":
                mask = z > 0
                z = z * mask
            else:
                z = np.tanh(z)
                mask = 1 - z * z       # tanh' = 1 - tanh^2: the factor backward multiplies by
            if self.residual and z.shape == h.shape:
                z = z + h
            masks.append((mask, self.residual and z.shape == h.shape))
            h = z
        self.embedding = h
        if self.pool is not None:
            if batch is None:
                batch = np.zeros(h.shape[0], dtype=np.int64)
            h = self.pool.forward(h, batch)
        self._cache = masks
        return self.head.forward(h)

    def __call__(self, x, edge_index, batch=None):
        return self.forward(x, edge_index, batch)

    def backward(self, dout):
        masks = self._saved()
        dh = self.head.backward(dout)
        if self.pool is not None:
            dh = self.pool.backward(dh)
        for conv, (mask, skip) in zip(reversed(self.convs), reversed(masks)):
            dz = dh * mask
            dh = conv.backward(dz) + (dh if skip else 0)
        return dh


def dirichlet_energy(h, edge_index) -> float:
    """How far node features are from over-smoothed: the Rayleigh quotient of GCN's normalised
    Laplacian, trace(H^T (I - Â) H) / ||H||^2 with Â = D^-1/2 (A + I) D^-1/2.

    Between 0 and 2; about 1 for random features, 0 when every node's features are the same
    vector scaled by sqrt(degree + 1) - the state repeated GCN propagation converges to, where
    neighbours can no longer be told apart. h (N, F), edge_index (2, E) -> float.
    """
    h = np.asarray(h, dtype=np.float64)
    total = float(np.sum(h * h))
    if total == 0:
        return 0.0
    loops, weight = gcn_norm(edge_index, h.shape[0])
    return float(total - np.sum(h * propagate(h, loops, weight, h.shape[0]))) / total
