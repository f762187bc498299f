"""Graphs of the graph-based recommenders, as MMRec builds them (without SciPy's removed private API).

- ``norm_adj``: the user–item bipartite adjacency ``[[0, R], [Rᵀ, 0]]`` of the train interactions,
  symmetrically normalised ``D^-1/2 A D^-1/2`` with degree + 1e-7 (BM3, FREEDOM);
- ``knn_graph``: FREEDOM's item–item graph: cosine similarity of the raw features, top-k per row (the item
  itself included), binary, normalised by ``D^-1/2 A D^-1/2`` over row sums (every weight 1/k).
  Computed in **blocks of rows**, so memory is ``block × n_items``, never ``n_items²`` (MMRec builds the
  dense matrix: 16 GB for 63k items). A zero feature row (the ``zeros`` baseline) has similarity 0 to
  every item instead of MMRec's NaN (its neighbours are then the first k items by id, ties broken by
  index): counted in ``zero_rows``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def sparse(indices: torch.Tensor, values: torch.Tensor, size) -> torch.Tensor:
    return torch.sparse_coo_tensor(indices, values, size, check_invariants=True).coalesce()


def unique_edges(users, items, n_items: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct (user, item) train edges, sorted (a repeated interaction counts once)."""
    keys = np.unique(np.asarray(users, dtype=np.int64) * n_items + np.asarray(items, dtype=np.int64))
    return torch.as_tensor(keys // n_items), torch.as_tensor(keys % n_items)


def bipartite_adj(users: torch.Tensor, items: torch.Tensor, values: torch.Tensor, n_users: int,
                  n_items: int) -> torch.Tensor:
    """The symmetric (n_users + n_items)² adjacency ``[[0, R], [Rᵀ, 0]]`` with ``values`` on the edges."""
    rows = torch.cat([users, items + n_users])
    cols = torch.cat([items + n_users, users])
    size = (n_users + n_items, n_users + n_items)
    return sparse(torch.stack([rows, cols]), torch.cat([values, values]), size)


def norm_adj(train_users, train_items, n_users: int, n_items: int) -> torch.Tensor:
    """``D^-1/2 A D^-1/2`` of the (n_users + n_items)² bipartite train graph (duplicates count once)."""
    users, items = unique_edges(train_users, train_items, n_items)
    return bipartite_adj(users, items, edge_weights(users, items, n_users, n_items), n_users, n_items)


def knn_neighbours(features: torch.Tensor, k: int, block_size: int = 4096) -> tuple[torch.Tensor, int]:
    """(top-k neighbour indices per item by cosine similarity, number of zero rows), in row blocks."""
    features = features.detach().float()
    zero_rows = int((features.norm(dim=1) == 0).sum())
    unit = F.normalize(features, dim=1)
    k = min(k, len(unit))
    out = []
    for start in range(0, len(unit), block_size):
        sim = unit[start : start + block_size] @ unit.T
        out.append(torch.topk(sim, k, dim=1).indices)
    return torch.cat(out), zero_rows


def knn_graph(features: torch.Tensor, k: int, block_size: int = 4096) -> tuple[torch.Tensor, int]:
    """(FREEDOM's normalised kNN item graph, zero rows) — see the module docstring."""
    neighbours, zero_rows = knn_neighbours(features, k, block_size)
    n = len(neighbours)
    rows = torch.arange(n).unsqueeze(1).expand(-1, neighbours.shape[1]).flatten()
    cols = neighbours.flatten()
    degree = torch.bincount(rows, minlength=n).float() + 1e-7
    inv = degree.pow(-0.5)
    return sparse(torch.stack([rows, cols]), inv[rows] * inv[cols], (n, n)), zero_rows


def edge_weights(users: torch.Tensor, items: torch.Tensor, n_users: int, n_items: int) -> torch.Tensor:
    """``1/sqrt(d_u d_i)`` of each user–item edge (degree + 1e-7): the weights of the normalised
    bipartite graph, and FREEDOM's pruning weights."""
    d_u = torch.bincount(users, minlength=n_users).float() + 1e-7
    d_i = torch.bincount(items, minlength=n_items).float() + 1e-7
    return d_u[users].pow(-0.5) * d_i[items].pow(-0.5)


def propagate(adj: torch.Tensor, ego: torch.Tensor, n_layers: int) -> torch.Tensor:
    """LightGCN: the mean of ``ego, A·ego, …, A^L·ego``."""
    layers = [ego]
    for _ in range(n_layers):
        ego = torch.sparse.mm(adj, ego)
        layers.append(ego)
    return torch.stack(layers, dim=1).mean(dim=1)
