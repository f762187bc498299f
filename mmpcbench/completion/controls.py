"""Control completion methods: what any sensitive benchmark must tell apart.

- ``ground_truth``: the item's own modality (identity) — the upper bound of every metric;
- ``shuffled``: another item's modality, by a seeded derangement (no item keeps its own) — a negative
  control: a benchmark that does not punish it cannot tell good completions from bad ones at all;
- ``empty``: an empty text, or a flat grey image of the original's size — the floor.

A control says, for each item, whose modality it receives (:func:`control_sources`);
:mod:`mmpcbench.completion.borrow` writes the completions from that. Each control is a member of the
completion-method family (:class:`Control`, registered in :mod:`mmpcbench.completion.methods`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

CONTROLS = ("ground_truth", "shuffled", "empty")
TRUTH = "ground_truth"  # the control every other completion is compared with (p = 0 of the calibration)


def derangement(n: int, seed: int) -> np.ndarray:
    """A seeded permutation with no fixed point: ``source[i] != i`` for every i (n ≥ 2).

    Items are placed on a random cycle and each takes its successor's modality."""
    if n < 2:
        raise ValueError(f"a shuffled control needs at least 2 items, got {n}")
    cycle = np.random.default_rng(seed).permutation(n)
    source = np.empty(n, dtype=np.int64)
    source[cycle] = np.roll(cycle, -1)
    return source


def control_sources(items: pl.DataFrame, control: str, seed: int) -> pl.Series:
    """The ``parent_asin`` whose modality each item receives (null for ``empty``); ``items`` sorted by
    ``parent_asin`` (the order the seed applies to)."""
    if control not in CONTROLS:
        raise ValueError(f"unknown control {control!r}; known: {list(CONTROLS)}")
    asins = items["parent_asin"]
    if control == "ground_truth":
        return asins.alias("source_asin")
    if control == "shuffled":
        return asins.gather(derangement(items.height, seed)).alias("source_asin")
    return pl.Series("source_asin", [None] * items.height, dtype=pl.String)


class Control:
    """A control as a borrowing completion method (it reads nothing beyond the rec items)."""

    kind = "control"
    inputs: tuple[str, ...] = ()

    def __init__(self, name: str):
        self.name = name  # control_sources refuses a name that is not in CONTROLS

    def sources(self, items: pl.DataFrame, seed: int, inputs: dict[str, str]) -> pl.Series:
        return control_sources(items, self.name, seed)
