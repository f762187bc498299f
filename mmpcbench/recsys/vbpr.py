"""VBPR as MMRec implements it (``src/models/vbpr.py``), quirks included.

Users get a ``2d`` vector (128 for d = 64); an item is ``[i_embedding ; Linear(text ⊕ image)]`` (text
first, the projection has a bias; xavier init as MMRec). Score = the 128-d dot product. Loss =
``BPRLoss + reg_weight · EmbLoss(u, pos, neg)`` with the projected feature part inside ``pos``/``neg``.
Unlike the VBPR paper (and Cornac): no item or visual bias, text and image, Adam. Only the batch's
distinct items are projected per step (MMRec projects all items every batch; the gradients are the same).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmpcbench.recsys.base import Recommender, bpr, emb_loss, project_rows

DEFAULTS = {"embedding_size": 64, "reg_weight": 1e-3, "dropout": 0.0}


class VBPR(Recommender):
    defaults = DEFAULTS
    def __init__(self, data, text, image, params):
        super().__init__(data, text, image, params)
        d = params["embedding_size"]
        self.reg_weight = params["reg_weight"]
        self.dropout = params.get("dropout", 0.0)
        self.u_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_users, 2 * d)))
        self.i_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(self.n_items, d)))
        feats = [f for f in (text, image) if f is not None]
        self.register_buffer("raw", torch.cat(feats, dim=1).float())
        self.item_linear = nn.Linear(self.raw.shape[1], d)
        nn.init.xavier_normal_(self.item_linear.weight)
        nn.init.zeros_(self.item_linear.bias)

    def items(self, index=None):
        if index is None:
            features = self.item_linear(self.raw)
            ids = self.i_embedding
        else:
            features = project_rows(self.item_linear, self.raw, index)
            ids = self.i_embedding[index]
        return F.dropout(torch.cat([ids, features], dim=1), self.dropout, self.training)

    def loss(self, users, positives, negatives=None):
        u = F.dropout(self.u_embedding[users], self.dropout, self.training)
        pos, neg = self.items(torch.cat([positives, negatives])).split(len(positives))
        return bpr((u * pos).sum(1), (u * neg).sum(1)) + self.reg_weight * emb_loss(u, pos, neg)

    def scorer(self):
        items = self.items()
        return lambda users: self.u_embedding[users] @ items.T
