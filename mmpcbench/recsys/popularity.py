"""A non-personalised reference ranking: items by their number of train interactions (ties by id).
Every multimodal recommender should beat it; it needs no features and no training."""

from __future__ import annotations

import numpy as np
import torch

from mmpcbench.recsys.data import RecData


def popularity_scorer(data: RecData):
    counts = np.bincount(data.train_items, minlength=data.n_items).astype(np.float64)
    scores = torch.as_tensor(counts - np.arange(data.n_items) * 1e-6, dtype=torch.float64)
    return lambda users: scores.unsqueeze(0).expand(len(users), -1).clone()
