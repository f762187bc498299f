"""Graded corruption controls: the ground truth made worse by a known amount, to calibrate the benchmarks.

``degraded{P}`` (P a whole percentage, 1–99, named in ``completion.controls``: ``degraded25``) corrupts a
share p = P/100 of each item's own modality:

- **I→T**: each whitespace token of the item's text is replaced, with probability p, by a token drawn
  uniformly from the tokens of the *other* rec items' texts of the category (the corrupted text is the
  tokens joined by single spaces);
- **T→I**: round(64·p) of the 64 cells of an 8 × 8 grid over the item's cover are replaced by the same
  cells of another item's cover (resized to the item's size, bilinear) — the donor is the item's source
  under the ``shuffled`` control, so the scale runs from ``ground_truth`` (p = 0) to ``shuffled`` (p = 1).

Every draw is seeded per item (:func:`mmpcbench.seeds.derive_seed` of the completion seed and the item)
and does not depend on p: a token is corrupted at p when its uniform draw is below p, and always by the
same replacement; the cells replaced at p are the first round(64·p) of one per-item permutation. So the
corruption is **nested** — what is corrupted at p is corrupted, identically, at every larger p — and a
metric's curve over p is monotone by construction in its inputs. The methods cost no GPU and run, like
every control, through CQBench and RecBench (their completions are encoded, never borrowed).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

from mmpcbench.completion.borrow import IMAGE_SCHEMA, TEXT_SCHEMA
from mmpcbench.completion.controls import control_sources
from mmpcbench.io import atomic_path
from mmpcbench.seeds import derive_seed

PREFIX = "degraded"
GRID = 8
NAME = re.compile(rf"^{PREFIX}(\d+)$")


def severity_of(name: str) -> float | None:
    """p of a method named ``degraded{P}`` (``degraded25`` → 0.25); None for any other name."""
    match = NAME.match(name)
    return int(match.group(1)) / 100 if match else None


def degraded_texts(texts: list[str], p: float, seed: int, asins: list[str]) -> list[str]:
    """Each text with every whitespace token replaced, with probability ``p``, by a token of another
    item's text (see the module docstring); ``asins`` seed each item's draws."""
    tokens = [text.split() for text in texts]
    sizes = np.array([len(t) for t in tokens], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    pool = [token for item in tokens for token in item]
    out = []
    for i, item in enumerate(tokens):
        if not item:
            out.append("")
            continue
        others = len(pool) - sizes[i]
        if others <= 0:
            raise ValueError(f"{PREFIX}: item {asins[i]!r} has tokens but no other item has any to draw from")
        rng = np.random.default_rng(derive_seed(seed, PREFIX, "text", asins[i]))
        draws, picks = rng.random(len(item)), rng.integers(0, others, len(item))
        picks = np.where(picks < starts[i], picks, picks + sizes[i])  # skip the item's own tokens
        out.append(" ".join(pool[pick] if draw < p else token for token, draw, pick in zip(item, draws, picks)))
    return out


def cells(height: int, width: int) -> list[tuple[slice, slice]]:
    """The 64 cells of an 8 × 8 grid over a height × width image, row by row (edges rounded)."""
    rows = [round(k * height / GRID) for k in range(GRID + 1)]
    cols = [round(k * width / GRID) for k in range(GRID + 1)]
    return [(slice(rows[r], rows[r + 1]), slice(cols[c], cols[c + 1])) for r in range(GRID) for c in range(GRID)]


def degraded_image(own: Image.Image, donor: Image.Image, p: float, seed: int, asin: str) -> Image.Image:
    """``own`` (RGB) with round(64·``p``) of its grid cells replaced by ``donor``'s (resized to it)."""
    own = np.asarray(own.convert("RGB")).copy()
    height, width = own.shape[:2]
    other = np.asarray(donor.convert("RGB").resize((width, height), Image.Resampling.BILINEAR))
    order = np.random.default_rng(derive_seed(seed, PREFIX, "image", asin)).permutation(GRID * GRID)
    grid = cells(height, width)
    for cell in order[: round(GRID * GRID * p)]:
        rows, cols = grid[cell]
        own[rows, cols] = other[rows, cols]
    return Image.fromarray(own)


class Degraded:
    """``degraded{P}`` as a completion method of the borrowing family (it reads nothing beyond the rec
    items, and its completions are its own, so ``source_asin`` is null)."""

    kind = "control"
    inputs: tuple[str, ...] = ()

    def __init__(self, name: str):
        severity = severity_of(name)
        if severity is None or not 0 < severity < 1:
            raise ValueError(f"{name!r}: a graded corruption is named {PREFIX}P with P a percentage from 1 to 99")
        self.name, self.severity = name, severity

    def complete_texts(self, items: pl.DataFrame, seed: int, inputs: dict[str, str]) -> pl.DataFrame:
        texts = degraded_texts(items["text"].fill_null("").to_list(), self.severity, seed, items["parent_asin"].to_list())
        n = items.height
        return pl.DataFrame(
            {"parent_asin": items["parent_asin"], "raw": texts, "text": texts, "parse_status": [self.name] * n,
             "n_input_tokens": [None] * n, "n_output_tokens": [None] * n, "source_asin": [None] * n},
            schema=TEXT_SCHEMA,
        )

    def complete_images(self, items: pl.DataFrame, seed: int, inputs: dict[str, str], image_root, out_dir,
                        out_root) -> pl.DataFrame:
        donors = control_sources(items, "shuffled", seed)
        paths = dict(zip(items["parent_asin"], items["image_path"]))
        out, image_root, out_root = Path(out_dir), Path(image_root), Path(out_root)
        out.mkdir(parents=True, exist_ok=True)
        rows = []
        for asin, donor in zip(items["parent_asin"], donors):
            with Image.open(image_root / paths[asin]) as own, Image.open(image_root / paths[donor]) as other:
                image = degraded_image(own, other, self.severity, seed, asin)
            target = out / f"{asin}.png"
            with atomic_path(target) as tmp:
                image.save(tmp, format="PNG")
            rows.append({"parent_asin": asin, "image_path": str(target.relative_to(out_root)), "source_asin": None,
                         "status": self.name})
        return pl.DataFrame(rows, schema=IMAGE_SCHEMA)
