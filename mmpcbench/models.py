"""What every model loader shares: compute dtypes by name, and the offline hint for load errors."""

from __future__ import annotations

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
