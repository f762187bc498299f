"""FREEDOM (Zhou & Shen, MM 2023) as MMRec implements it (``src/models/freedom.py``), quirks included.

- A **frozen** item–item graph from the raw features, built once: per modality the top-``knn_k``
  cosine kNN graph (self included, weights 1/k), mixed ``mm_image_weight · image + (1 − w) · text``
  (0.1 / 0.9). Built in row blocks (``graph.knn_graph``), and never cached to disk behind the user's back:
  MMRec caches it under a name keyed only by k and the weight, so changed features silently reuse an old
  graph. ``item_graph_hash`` is a hash of the graph, recorded with every result.
- Every epoch the user–item graph is **pruned**: ``int(E·(1 − dropout))`` train edges are kept, drawn
  without replacement with weights ``1/sqrt(d_u d_i)``, re-normalised and symmetrised. Evaluation uses
  the full normalised graph.
- ``h = mm_adj^{n_mm_layers} · item_ids``; LightGCN (``n_ui_layers``, layer mean) over ``[users; item
  ids]``; item = LightGCN item + h. Score = ``u · item``.
- Loss = BPR(u, i⁺, i⁻) (−mean logsigmoid) + ``reg_weight · [BPR(u, T(t)⁺, T(t)⁻) + BPR(u, V(v)⁺, V(v)⁻)]``
  with ``T``, ``V`` linear projections (default init) of trainable raw features: ``reg_weight`` weights
  the modality BPR losses; there is no L2 penalty. ``lambda_coeff`` of MMRec's yaml is read and unused
  there; it is not a parameter here. With ``reg_weight = 0`` (MMRec's first grid value) the modality
  losses are not computed at all: MMRec adds them times 0, which changes neither the loss nor any
  parameter (their gradients are 0, and Adam's update of a parameter that has only had zero gradients
  is exactly 0), so the results are the same and the epoch skips all work on the feature tables.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmpcbench.recsys.base import Recommender, project_rows
from mmpcbench.recsys.graph import bipartite_adj, edge_weights, knn_graph, propagate, unique_edges

DEFAULTS = {"embedding_size": 64, "feat_embed_dim": 64, "knn_k": 10, "mm_image_weight": 0.1,
            "n_mm_layers": 1, "n_ui_layers": 2, "dropout": 0.8, "reg_weight": 0.0, "knn_block_size": 1024}


def bpr_logsigmoid(u: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    return -F.logsigmoid((u * pos).sum(1) - (u * neg).sum(1)).mean()


class FREEDOM(Recommender):
    defaults = DEFAULTS
    def __init__(self, data, text, image, params):
        super().__init__(data, text, image, params)
        d, feat_dim = params["embedding_size"], params["feat_embed_dim"]
        self.n_mm_layers, self.n_ui_layers = params["n_mm_layers"], params["n_ui_layers"]
        self.dropout, self.reg_weight = params["dropout"], params["reg_weight"]
        users, items = unique_edges(data.train_users, data.train_items, self.n_items)
        self.register_buffer("edges", torch.stack([users, items]))
        self.register_buffer("edge_values", edge_weights(users, items, self.n_users, self.n_items))
        self.register_buffer("adj", bipartite_adj(users, items, self.edge_values, self.n_users, self.n_items))
        self.masked_adj = self.adj
        self.user_embedding = nn.Embedding(self.n_users, d)
        self.item_id_embedding = nn.Embedding(self.n_items, d)
        nn.init.xavier_uniform_(self.user_embedding.weight)
        nn.init.xavier_uniform_(self.item_id_embedding.weight)
        self.modalities = nn.ModuleDict()
        self.projections = nn.ModuleDict()
        graphs = {}
        k, block = params["knn_k"], params.get("knn_block_size", 1024)
        for name, feat in (("image", image), ("text", text)):
            if feat is not None:
                self.modalities[name] = nn.Embedding.from_pretrained(feat.float().clone(), freeze=False)
                self.projections[name] = nn.Linear(feat.shape[1], feat_dim)
                graphs[name], _ = knn_graph(feat.float(), k, block)  # zero rows: counted by the pipeline
        w = params["mm_image_weight"]
        if len(graphs) == 2:
            mm = (w * graphs["image"] + (1.0 - w) * graphs["text"]).coalesce()
        else:
            mm = next(iter(graphs.values()))
        self.register_buffer("mm_adj", mm)

    def item_graph_hash(self) -> str:
        mm = self.mm_adj.coalesce()
        digest = hashlib.sha256(mm.indices().cpu().numpy().tobytes())
        digest.update(mm.values().cpu().numpy().astype(np.float32).tobytes())
        return digest.hexdigest()[:16]

    def pre_epoch(self, generator):
        if self.dropout <= 0:
            self.masked_adj = self.adj
            return
        n_keep = int(self.edge_values.numel() * (1.0 - self.dropout))
        keep = torch.multinomial(self.edge_values, n_keep, replacement=False, generator=generator)
        users, items = self.edges[0, keep], self.edges[1, keep]
        values = edge_weights(users, items, self.n_users, self.n_items)
        self.masked_adj = bipartite_adj(users, items, values, self.n_users, self.n_items)

    def forward(self, adj):
        h = self.item_id_embedding.weight
        for _ in range(self.n_mm_layers):
            h = torch.sparse.mm(self.mm_adj, h)
        ego = torch.cat([self.user_embedding.weight, self.item_id_embedding.weight])
        users, items = torch.split(propagate(adj, ego, self.n_ui_layers), [self.n_users, self.n_items])
        return users, items + h

    def loss(self, users, positives, negatives=None):
        u_all, i_all = self.forward(self.masked_adj)
        u = u_all[users]
        loss = bpr_logsigmoid(u, i_all[positives], i_all[negatives])
        if self.reg_weight == 0:  # MMRec adds 0 × the modality losses: the same loss, no gradient, no update
            return loss
        modal = 0.0
        for name, embedding in self.modalities.items():
            both = project_rows(self.projections[name], embedding.weight, torch.cat([positives, negatives]))
            modal = modal + bpr_logsigmoid(u, *both.split(len(positives)))
        return loss + self.reg_weight * modal

    def scorer(self):
        u_all, i_all = self.forward(self.adj)
        return lambda users: u_all[users] @ i_all.T
