"""Multimodal recommenders of RecBench (VBPR, BM3, FREEDOM as MMRec implements them), one file each,
behind one interface (``base.Recommender``), trained by one trainer and scored by one evaluator.

``build(name, data, text, image, params)`` looks a recommender up by its name in config; ``params``
are merged over the model's MMRec defaults (``defaults(name)``)."""

from __future__ import annotations

import torch

from mmpcbench.recsys import bm3, freedom, vbpr
from mmpcbench.recsys.base import Recommender
from mmpcbench.recsys.data import RecData

RECOMMENDERS = {"VBPR": (vbpr.VBPR, vbpr.DEFAULTS), "BM3": (bm3.BM3, bm3.DEFAULTS),
                "FREEDOM": (freedom.FREEDOM, freedom.DEFAULTS)}


def defaults(name: str) -> dict:
    if name not in RECOMMENDERS:
        raise KeyError(f"unknown recommender {name!r}; known: {sorted(RECOMMENDERS)}")
    return dict(RECOMMENDERS[name][1])


def build(name: str, data: RecData, text: torch.Tensor | None, image: torch.Tensor | None, params: dict,
          seed: int) -> Recommender:
    """The recommender ``name`` with ``params`` over its defaults, initialised under ``seed``."""
    known = defaults(name)
    unknown = set(params) - set(known)
    if unknown:
        raise KeyError(f"unknown parameter(s) {sorted(unknown)} for {name}; known: {sorted(known)}")
    torch.manual_seed(seed)
    return RECOMMENDERS[name][0](data, text, image, {**known, **params})
