"""BM3 (Zhou et al., WWW 2023) as MMRec implements it (``src/models/bm3.py``), quirks included.

LightGCN (``n_layers``, mean over layers 0..L) over ``[users; item ids]`` on the normalised train graph,
items ``+ item_id_embedding``. The raw features are **trainable** (``from_pretrained(freeze=False)``),
projected by ``Linear(F, d)``; one ``predictor = Linear(d, d)`` is shared by users, items, text and
image. No negatives: targets are dropped-out detached copies, and

``L = (1−cos(P(u), i~)) + (1−cos(P(i), u~)) + reg_weight·EmbLoss(U_all, I_all)``
``  + cl_weight·[(1−cos(P(t), i~)) + (1−cos(P(t), t~)) + (1−cos(P(v), i~)) + (1−cos(P(v), v~))]``

(batch means; EmbLoss over the **full** output matrices, divided by n_items). Score = ``P(u)·P(i)ᵀ``.
``feat_embed_dim`` of MMRec's yaml is ignored there (the code uses ``embedding_size``); so here.
Only the batch's feature rows are projected per step (MMRec projects all; the gradients are the same).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmpcbench.recsys.base import Recommender, emb_loss, project_rows
from mmpcbench.recsys.graph import norm_adj, propagate

DEFAULTS = {"embedding_size": 64, "n_layers": 1, "dropout": 0.5, "reg_weight": 0.1, "cl_weight": 2.0}


class BM3(Recommender):
    defaults = DEFAULTS
    uses_negatives = False

    def __init__(self, data, text, image, params):
        super().__init__(data, text, image, params)
        d = params["embedding_size"]
        self.n_layers, self.dropout = params["n_layers"], params["dropout"]
        self.reg_weight, self.cl_weight = params["reg_weight"], params["cl_weight"]
        self.register_buffer("adj", norm_adj(data.train_users, data.train_items, self.n_users, self.n_items))
        self.user_embedding = nn.Embedding(self.n_users, d)
        self.item_id_embedding = nn.Embedding(self.n_items, d)
        nn.init.xavier_uniform_(self.user_embedding.weight)
        nn.init.xavier_uniform_(self.item_id_embedding.weight)
        self.predictor = nn.Linear(d, d)
        nn.init.xavier_normal_(self.predictor.weight)
        self.modalities = nn.ModuleDict()
        self.projections = nn.ModuleDict()
        for name, feat in (("image", image), ("text", text)):
            if feat is not None:
                self.modalities[name] = nn.Embedding.from_pretrained(feat.float().clone(), freeze=False)
                self.projections[name] = nn.Linear(feat.shape[1], d)
                nn.init.xavier_normal_(self.projections[name].weight)

    def forward(self):
        ego = torch.cat([self.user_embedding.weight, self.item_id_embedding.weight])
        users, items = torch.split(propagate(self.adj, ego, self.n_layers), [self.n_users, self.n_items])
        return users, items + self.item_id_embedding.weight

    def loss(self, users, positives, negatives=None):
        u_all, i_all = self.forward()
        with torch.no_grad():
            u_target = F.dropout(u_all[users].detach(), self.dropout)
            i_target = F.dropout(i_all[positives].detach(), self.dropout)
        u_online, i_online = self.predictor(u_all[users]), self.predictor(i_all[positives])
        loss = (1 - F.cosine_similarity(u_online, i_target, dim=-1).mean()) + (
            1 - F.cosine_similarity(i_online, u_target, dim=-1).mean()
        )
        modal = 0.0
        for name, embedding in self.modalities.items():
            feat = project_rows(self.projections[name], embedding.weight, positives)
            with torch.no_grad():
                feat_target = F.dropout(feat.detach(), self.dropout)
            feat_online = self.predictor(feat)
            modal = modal + (1 - F.cosine_similarity(feat_online, i_target, dim=-1).mean()) + (
                1 - F.cosine_similarity(feat_online, feat_target, dim=-1).mean()
            )
        return loss + self.reg_weight * emb_loss(u_all, i_all) + self.cl_weight * modal

    def scorer(self):
        u_all, i_all = self.forward()
        users_p, items_p = self.predictor(u_all), self.predictor(i_all)
        return lambda users: users_p[users] @ items_p.T
