"""Completions borrowed from other items: write each item's completion from a *source* item.

Methods that do not generate but borrow — the controls and the retrieval baseline — say, for each
item, whose modality it receives (a ``source_asin``; null means nothing: an empty text, a grey image).
These functions write the completion contract shared by every method:

- I→T: one row per item: ``parent_asin, raw, text, parse_status, n_input_tokens, n_output_tokens,
  source_asin``;
- T→I: one image per item in a folder and a manifest ``parent_asin, image_path, source_asin, status``
  (paths relative to the results root). Source images are copied byte for byte; the grey image of an
  item with no source has the size of the item's original image.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
from PIL import Image

from mmpcbench.io import atomic_path

GREY = (128, 128, 128)
TEXT_SCHEMA = {
    "parent_asin": pl.String, "raw": pl.String, "text": pl.String, "parse_status": pl.String,
    "n_input_tokens": pl.Int64, "n_output_tokens": pl.Int64, "source_asin": pl.String,
}
IMAGE_SCHEMA = {"parent_asin": pl.String, "image_path": pl.String, "source_asin": pl.String, "status": pl.String}


def borrowed_texts(items: pl.DataFrame, sources: pl.Series, status: str) -> pl.DataFrame:
    """I→T: item i gets the ``text`` of ``sources[i]`` (``items``: ``parent_asin, text``)."""
    lookup = dict(zip(items["parent_asin"], items["text"]))
    texts = pl.Series("text", ["" if s is None else lookup[s] for s in sources], dtype=pl.String)
    n = items.height
    return pl.DataFrame(
        {
            "parent_asin": items["parent_asin"], "raw": texts, "text": texts, "parse_status": [status] * n,
            "n_input_tokens": [None] * n, "n_output_tokens": [None] * n,
            "source_asin": sources,
        },
        schema=TEXT_SCHEMA,
    )


def borrowed_images(
    items: pl.DataFrame, sources: pl.Series, status: str, image_root: str | Path, out_dir: str | Path,
    out_root: str | Path,
) -> pl.DataFrame:
    """T→I: item i gets the image of ``sources[i]`` (``items``: ``parent_asin, image_path`` relative to
    ``image_root``), written into ``out_dir``; return the manifest."""
    paths = dict(zip(items["parent_asin"], items["image_path"]))
    out, image_root, out_root = Path(out_dir), Path(image_root), Path(out_root)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for asin, source in zip(items["parent_asin"], sources):
        if source is None:
            with Image.open(image_root / paths[asin]) as image:
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
                     "status": status})
    return pl.DataFrame(rows, schema=IMAGE_SCHEMA)
