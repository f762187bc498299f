"""What every model loader shares: compute dtypes by name, the offline hint for load errors, and one
loaded copy of a model per process (``shared``)."""

from __future__ import annotations

import json
import os

DTYPES = ("float16", "bfloat16", "float32")


def torch_dtype(name: str):
    """The torch dtype for a config name (``float16``, ``bfloat16``, ``float32``)."""
    import torch

    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; known: {list(DTYPES)}")
    return getattr(torch, name)


def offline_hint() -> str:
    """A suffix for load errors when ``HF_HUB_OFFLINE=1``: only cached or local models can load."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return " (HF_HUB_OFFLINE=1: only cached or local models can be loaded)"
    return ""


_SHARED: dict = {}


def shared(factory, *args, **kwargs):
    """``factory(*args, **kwargs)`` — a model loader — built once per process for equal arguments.

    A job that scores or embeds every method of a category (``one_job_per_category``) then loads each
    model once instead of once per method; the models only compute (no state a call leaves behind),
    so what they give does not depend on what they computed before (a test checks it). Arguments are
    compared by value (JSON, keys sorted)."""
    key = (getattr(factory, "__module__", ""), getattr(factory, "__qualname__", repr(factory)),
           json.dumps([args, kwargs], sort_keys=True, default=repr))
    if key not in _SHARED:
        _SHARED[key] = factory(*args, **kwargs)
    return _SHARED[key]
