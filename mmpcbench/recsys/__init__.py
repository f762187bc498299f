"""Multimodal recommenders of RecBench (VBPR, BM3, FREEDOM as MMRec implements them), one file each,
behind one interface (``base.Recommender``), trained by one trainer and scored by one evaluator; the
family is declared in ``mmpcbench.families.RECOMMENDERS``.

``build(name, data, text, image, params)`` looks a recommender up by its name in config; ``params``
are merged over the model's MMRec defaults (``defaults(name)``, its class's ``defaults``)."""

from __future__ import annotations

import torch

from mmpcbench.families import RECOMMENDERS, resolve
from mmpcbench.recsys.base import Recommender
from mmpcbench.recsys.data import RecData


def recommender_class(name: str) -> type[Recommender]:
    return resolve(RECOMMENDERS[name].implementation)


def defaults(name: str) -> dict:
    return dict(recommender_class(name).defaults)


def build(name: str, data: RecData, text: torch.Tensor | None, image: torch.Tensor | None, params: dict,
          seed: int) -> Recommender:
    """The recommender ``name`` with ``params`` over its defaults, initialised under ``seed``."""
    known = defaults(name)
    unknown = set(params) - set(known)
    if unknown:
        raise KeyError(f"unknown parameter(s) {sorted(unknown)} for {name}; known: {sorted(known)}")
    torch.manual_seed(seed)
    return recommender_class(name)(data, text, image, {**known, **params})
