"""The recommender interface: every model is one file implementing these few methods, trained by one
trainer (``mmpcbench.recsys.trainer``) and scored by one evaluator (``mmpcbench.recsys.evaluate``)."""

from __future__ import annotations

import torch
from torch import nn

from mmpcbench.recsys.data import RecData


def bpr(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """MMRec's ``BPRLoss``: ``-mean(log(1e-10 + sigmoid(pos - neg)))``."""
    return -torch.log(1e-10 + torch.sigmoid(pos - neg)).mean()


def emb_loss(*embeddings: torch.Tensor) -> torch.Tensor:
    """MMRec's ``EmbLoss``: the sum of the (non-squared) Frobenius norms, divided by the rows of the last."""
    return sum(torch.norm(e, p=2) for e in embeddings) / embeddings[-1].shape[0]


def project_rows(project, table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``project(table)[index]``, computing the projection once per distinct row of ``index`` (MMRec
    projects every item in every batch; for the batch's rows the values and gradients are the same)."""
    rows, inverse = torch.unique(index, return_inverse=True)
    return project(table[rows])[inverse]


class Recommender(nn.Module):
    """A recommender over ``data`` with item features ``text`` and ``image`` (float tensors, one row per
    item; either may be None when the modality is absent, as MMRec).

    - ``uses_negatives``: whether a training batch carries one sampled negative per pair;
    - ``pre_epoch(generator)``: per-epoch work (FREEDOM prunes its graph), seeded;
    - ``loss(users, positives, negatives)``: the training loss of one batch;
    - ``scorer()``: a function ``users -> scores (len(users) × n_items)`` for evaluation, computed with
      the full graph, once per evaluation (MMRec recomputes it per user batch).
    """

    uses_negatives = True
    defaults: dict = {}  # MMRec's parameters of the model; config's ``params`` and ``grid`` go over them

    def __init__(self, data: RecData, text: torch.Tensor | None, image: torch.Tensor | None, params: dict):
        super().__init__()
        if text is None and image is None:
            raise ValueError(f"{type(self).__name__} needs at least one modality's features")
        for name, feat in (("text", text), ("image", image)):
            if feat is not None and feat.shape[0] != data.n_items:
                raise ValueError(f"{name} features have {feat.shape[0]} rows for {data.n_items} items")
        self.n_users, self.n_items = data.n_users, data.n_items
        self.params = params

    def pre_epoch(self, generator: torch.Generator) -> None:  # noqa: B027 - optional hook
        pass

    def loss(self, users, positives, negatives=None) -> torch.Tensor:
        raise NotImplementedError

    def scorer(self):
        raise NotImplementedError
