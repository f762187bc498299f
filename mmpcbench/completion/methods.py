"""The completion-method family: every way the pipeline completes a missing modality, by name.

Two kinds of member share the completion contract of :mod:`mmpcbench.completion.borrow` (I→T: a
completions table; T→I: images and a manifest):

- **models**: the MLLMs of the config's model registry (``models:``), run by
  :func:`mmpcbench.completion.pipeline.complete_with_model` — their T→I prompts are painted by the
  diffusion step;
- **CPU methods** (the controls and the baselines), registered here in :data:`BORROWING`: each names the
  files it reads beyond the category's rec items (``inputs``) and either says, for every item, whose
  modality it receives (``sources``: the borrowing methods) or makes the completions itself
  (``complete_texts`` / ``complete_images``: the graded corruptions of
  :mod:`mmpcbench.completion.degraded`). The rules turn the input names into paths (``method_input``
  in ``rules/common.smk``) and never name a method. A member whose name carries a number
  (``degraded25``) is made from its name by the class :data:`NUMBERED` gives its prefix.

A new baseline is one class (in its own module) that implements :class:`BorrowingMethod`, and one line
in :data:`BORROWING` (or, for a numbered family, in :data:`NUMBERED`).

Input names a method may ask for:

- ``query_embeddings``: the embeddings of the modality the item still has (``families.Task.given``);
- ``cq_items``: the category's CQ sample.
"""

from __future__ import annotations

from typing import Protocol

import polars as pl

import re

from mmpcbench.completion.controls import Control
from mmpcbench.completion.degraded import Degraded
from mmpcbench.completion.retrieval import RetrievalBaseline

METHOD_INPUTS = ("query_embeddings", "cq_items")
KINDS = ("control", "baseline")


class BorrowingMethod(Protocol):
    """A completion method that gives each item another item's modality (or nothing). A method that
    makes its own completions implements ``complete_texts(items, seed, inputs)`` (the I→T table of
    :mod:`mmpcbench.completion.borrow`) and ``complete_images(items, seed, inputs, image_root, out_dir,
    out_root)`` (the T→I manifest) instead of ``sources``."""

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


# numbered members: prefix -> the class made from the whole name (``degraded25`` -> Degraded("degraded25"))
NUMBERED: dict[str, type] = {
    "degraded": Degraded,
}


def borrowing_method(name: str) -> BorrowingMethod:
    """The CPU completion method ``name``: a member of :data:`BORROWING`, or of a :data:`NUMBERED` family."""
    if name in BORROWING:
        return BORROWING[name]
    match = re.fullmatch(r"([A-Za-z_]+)(\d+)", name)
    if match and match.group(1) in NUMBERED:
        return NUMBERED[match.group(1)](name)
    known = sorted(BORROWING) + [f"{prefix}<P>" for prefix in NUMBERED]
    raise ValueError(f"unknown completion method {name!r}; known: {known}")
