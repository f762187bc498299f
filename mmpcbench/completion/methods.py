"""The completion-method family: every way the pipeline completes a missing modality, by name.

Two kinds of member share the completion contract of :mod:`mmpcbench.completion.borrow` (I→T: a
completions table; T→I: images and a manifest):

- **models**: the MLLMs of the config's model registry (``models:``), run by
  :func:`mmpcbench.completion.pipeline.complete_with_model` — their T→I prompts are painted by the
  diffusion step;
- **borrowing methods** (the controls and the baselines), registered here in :data:`BORROWING`: each
  says, for every item, whose modality it receives (``sources``), and names the files it reads beyond
  the category's rec items (``inputs``). The rules turn those names into paths (``method_input`` in
  ``rules/common.smk``) and never name a method.

A new baseline is one class (in its own module) that implements :class:`BorrowingMethod`, and one line
in :data:`BORROWING`.

Input names a method may ask for:

- ``query_embeddings``: the embeddings of the modality the item still has (``families.Task.given``);
- ``cq_items``: the category's CQ sample.
"""

from __future__ import annotations

from typing import Protocol

import polars as pl

from mmpcbench.completion.controls import Control
from mmpcbench.completion.retrieval import RetrievalBaseline

METHOD_INPUTS = ("query_embeddings", "cq_items")
KINDS = ("control", "baseline")


class BorrowingMethod(Protocol):
    """A completion method that gives each item another item's modality (or nothing)."""

    name: str
    kind: str  # one of KINDS
    inputs: tuple[str, ...]  # names from METHOD_INPUTS

    def sources(self, items: pl.DataFrame, seed: int, inputs: dict[str, str]) -> pl.Series:
        """For each row of ``items`` (``parent_asin, text, image_path``, sorted by ``parent_asin``), the
        ``parent_asin`` whose modality it receives (null: nothing), as ``source_asin``; ``inputs`` maps
        each name of ``self.inputs`` to its file."""


BORROWING: dict[str, BorrowingMethod] = {
    "ground_truth": Control("ground_truth"),
    "shuffled": Control("shuffled"),
    "empty": Control("empty"),
    "retrieval": RetrievalBaseline(),
}


def borrowing_method(name: str) -> BorrowingMethod:
    """The registered borrowing method ``name``."""
    if name not in BORROWING:
        raise ValueError(f"unknown completion method {name!r}; known: {sorted(BORROWING)}")
    return BORROWING[name]
