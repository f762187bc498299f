"""Control completion methods: what any sensitive benchmark must tell apart.

- ``ground_truth``: the item's own modality (identity) — the upper bound of every metric;
- ``shuffled``: another item's modality, by a seeded derangement (no item keeps its own) — a negative
  control: a benchmark that does not punish it cannot tell good completions from bad ones at all;
- ``empty``: an empty text, or a flat grey image of the original's size — the floor.

Both directions write the same contract as every completion method: I→T a table with one row per
item (``parent_asin, raw, text, parse_status, n_input_tokens, n_output_tokens, seconds`` plus
``source_asin``, the item whose modality was used); T→I one image per item in a folder and a manifest
(``parent_asin, image_path, source_asin, status``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

from mmpcbench.io import atomic_path

CONTROLS = ("ground_truth", "shuffled", "empty")
GREY = (128, 128, 128)

TEXT_SCHEMA = {
    "parent_asin": pl.String, "raw": pl.String, "text": pl.String, "parse_status": pl.String,
    "n_input_tokens": pl.Int64, "n_output_tokens": pl.Int64, "seconds": pl.Float64, "source_asin": pl.String,
}
IMAGE_SCHEMA = {"parent_asin": pl.String, "image_path": pl.String, "source_asin": pl.String, "status": pl.String}


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
    """The ``parent_asin`` whose modality each item receives (null for ``empty``)."""
    if control not in CONTROLS:
        raise ValueError(f"unknown control {control!r}; known: {list(CONTROLS)}")
    asins = items["parent_asin"]
    if control == "ground_truth":
        return asins.alias("source_asin")
    if control == "shuffled":
        return asins.gather(derangement(items.height, seed)).alias("source_asin")
    return pl.Series("source_asin", [None] * items.height, dtype=pl.String)


def control_texts(items: pl.DataFrame, control: str, seed: int) -> pl.DataFrame:
    """I→T by a control: ``items`` has ``parent_asin`` and ``text`` (the configured text field)."""
    items = items.sort("parent_asin")
    sources = control_sources(items, control, seed)
    if control == "empty":
        texts = pl.Series("text", [""] * items.height, dtype=pl.String)
    else:
        lookup = dict(zip(items["parent_asin"], items["text"]))
        texts = pl.Series("text", [lookup[s] for s in sources], dtype=pl.String)
    return pl.DataFrame(
        {
            "parent_asin": items["parent_asin"], "raw": texts, "text": texts,
            "parse_status": [control] * items.height, "n_input_tokens": [None] * items.height,
            "n_output_tokens": [None] * items.height, "seconds": [0.0] * items.height, "source_asin": sources,
        },
        schema=TEXT_SCHEMA,
    )


def control_images(
    items: pl.DataFrame, control: str, seed: int, image_root: str | Path, out_dir: str | Path, out_root: str | Path
) -> pl.DataFrame:
    """T→I by a control: write one image per item into ``out_dir`` and return the manifest.

    ``items`` has ``parent_asin`` and ``image_path`` (relative to ``image_root``); the manifest's paths
    are relative to ``out_root``. Original bytes are copied as they are (no re-encoding); the grey
    image of ``empty`` has the size of the item's original image."""
    items = items.sort("parent_asin")
    sources = control_sources(items, control, seed)
    paths = dict(zip(items["parent_asin"], items["image_path"]))
    out, image_root, out_root = Path(out_dir), Path(image_root), Path(out_root)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for asin, source in zip(items["parent_asin"], sources):
        original = image_root / paths[asin]
        if source is None:
            with Image.open(original) as image:
                size = image.size
            target = out / f"{asin}.png"
            with atomic_path(target) as tmp:
                Image.new("RGB", size, GREY).save(tmp, format="PNG")
        else:
            source_path = image_root / paths[source]
            target = out / f"{asin}{source_path.suffix}"
            with atomic_path(target) as tmp:
                shutil.copyfile(source_path, tmp)
        rows.append({"parent_asin": asin, "image_path": str(target.relative_to(out_root)), "source_asin": source,
                     "status": control})
    return pl.DataFrame(rows, schema=IMAGE_SCHEMA)
