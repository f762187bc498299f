"""The completion stages as file-to-file functions: what each workflow rule calls."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from mmpcbench.completion.controls import control_images, control_texts
from mmpcbench.io import write_parquet

log = logging.getLogger(__name__)


def complete_text_by_control(items_path, control: str, seed: int, out_path) -> pl.DataFrame:
    """I→T for every rec item of a category by a control method."""
    items = pl.read_parquet(items_path, columns=["parent_asin", "text"])
    frame = control_texts(items, control, seed)
    write_parquet(frame, out_path)
    log.info("%s: %d texts", control, frame.height)
    return frame


def complete_images_by_control(items_path, control: str, seed: int, data_root, out_dir, results_root,
                               manifest_path) -> pl.DataFrame:
    """T→I for every rec item of a category by a control method: images and their manifest."""
    items = pl.read_parquet(items_path, columns=["parent_asin", "image_path"])
    manifest = control_images(items, control, seed, data_root, out_dir, results_root)
    write_parquet(manifest, manifest_path)
    log.info("%s: %d images in %s", control, manifest.height, Path(out_dir))
    return manifest
