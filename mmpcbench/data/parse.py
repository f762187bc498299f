"""Parse the raw Amazon Reviews 2023 files (jsonl.gz) into Parquet, streaming, in bounded memory.

The files are read by the streaming JSON-lines reader of :mod:`mmpcbench.data.jsonl` (bounded memory,
every bad line counted and listed); this module gives the Amazon schemas, the required fields and what
an item row is made of.

Outputs:

- ``interactions.parquet``: ``user_id, parent_asin, rating, timestamp, line`` (``line`` is the 1-based
  line number in the raw file, kept for tie-breaking and traceability);
- ``items.parquet``: ``parent_asin, title, description, main_category, store, image_large,
  image_hi_res`` — text with HTML entities decoded and whitespace collapsed, ``description`` the
  list joined by spaces, the image URLs those of the ``MAIN`` image (null when there is none);
- a report (JSON): lines read, rows written, skipped lines counted by reason, and the first
  ``max_listed`` skipped lines listed with line number, reason and an excerpt.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

import polars as pl
import pyarrow as pa

from mmpcbench.data.jsonl import (  # noqa: F401 (RawFileError: raised from here, for callers)
    ParquetSink, RawFileError, SkipReport, read_jsonl_frames, read_with_arrow, read_with_polars,
)
from mmpcbench.io import atomic_path, write_json

log = logging.getLogger(__name__)

REVIEW_SCHEMA = {
    "user_id": pl.String,
    "parent_asin": pl.String,
    "rating": pl.Float64,
    "timestamp": pl.Int64,
}
REVIEW_REQUIRED = ("user_id", "parent_asin", "rating", "timestamp")

IMAGE_STRUCT = pl.Struct({"thumb": pl.String, "large": pl.String, "variant": pl.String, "hi_res": pl.String})
META_SCHEMA = {
    "parent_asin": pl.String,
    "title": pl.String,
    "description": pl.List(pl.String),
    "main_category": pl.String,
    "store": pl.String,
    "images": pl.List(IMAGE_STRUCT),
}
META_REQUIRED = ("parent_asin",)

INTERACTIONS_ARROW = pa.schema(
    [
        ("user_id", pa.large_string()),
        ("parent_asin", pa.large_string()),
        ("rating", pa.float64()),
        ("timestamp", pa.int64()),
        ("line", pa.int64()),
    ]
)
ITEMS_ARROW = pa.schema(
    [
        ("parent_asin", pa.large_string()),
        ("title", pa.large_string()),
        ("description", pa.large_string()),
        ("main_category", pa.large_string()),
        ("store", pa.large_string()),
        ("image_large", pa.large_string()),
        ("image_hi_res", pa.large_string()),
        ("line", pa.int64()),
    ]
)


def _drop_missing(frame: pl.DataFrame, required: tuple[str, ...], report: SkipReport) -> pl.DataFrame:
    """Drop and list rows whose required fields are missing, null or empty strings."""
    conditions = []
    for name in required:
        missing = pl.col(name).is_null()
        if frame.schema[name] == pl.String:
            missing = missing | (pl.col(name).str.strip_chars() == "")
        conditions.append(missing.alias(name))
    flags = frame.select(conditions)
    any_missing = flags.select(pl.any_horizontal(pl.all())).to_series()
    if not any_missing.any():
        return frame
    bad = frame.filter(any_missing)
    bad_flags = flags.filter(any_missing)
    for row, flag in zip(bad.iter_rows(named=True), bad_flags.iter_rows(named=True)):
        reason = "missing_field:" + ",".join(name for name, is_missing in flag.items() if is_missing)
        report.skip(row["line"], reason, json.dumps({k: v for k, v in row.items() if k != "line"}, default=str))
    return frame.filter(~any_missing)




def clean_column(column: pl.Series) -> pl.Series:
    """Decode HTML entities (``&amp;`` → ``&``) and collapse whitespace over a text column;
    ``html.unescape`` runs only on the values that contain ``&``."""
    column = column.fill_null("")
    has_entity = column.str.contains("&", literal=True)
    if has_entity.any():
        decoded = column.filter(has_entity).map_elements(html.unescape, return_dtype=pl.String)
        column = column.scatter(has_entity.arg_true(), decoded)
    return column.str.replace_all(r"\s+", " ").str.strip_chars()


def _items_from_meta(frame: pl.DataFrame) -> pl.DataFrame:
    main = pl.col("images").list.eval(pl.element().filter(pl.element().struct.field("variant") == "MAIN")).list.first()
    items = frame.select(
        "parent_asin",
        "title",
        pl.col("description").list.join(" ").alias("description"),
        "main_category",
        "store",
        main.struct.field("large").alias("image_large"),
        main.struct.field("hi_res").alias("image_hi_res"),
        "line",
    )
    return items.with_columns(clean_column(items["title"]), clean_column(items["description"]))


def parse_reviews(path: str | Path, out_path: str | Path, block_bytes: int = 32 << 20, max_listed: int = 1000) -> dict:
    """Stream a reviews file into ``interactions.parquet``; return the skip report as a dict."""
    report = SkipReport(file=str(path), max_listed=max_listed)
    with atomic_path(out_path) as tmp:
        sink = ParquetSink(tmp, INTERACTIONS_ARROW)
        try:
            for frame in read_jsonl_frames(path, read_with_polars, REVIEW_SCHEMA, report, block_bytes):
                frame = _drop_missing(frame, REVIEW_REQUIRED, report)
                report.rows += frame.height
                sink.write(frame)
        finally:
            sink.close()
    log.info("%s: %d lines, %d interactions, %d skipped", path, report.lines, report.rows, sum(report.skipped.values()))
    return report.as_dict()


def parse_meta(path: str | Path, out_path: str | Path, block_bytes: int = 32 << 20, max_listed: int = 1000) -> dict:
    """Stream a meta file into ``items.parquet``; a repeated ``parent_asin`` keeps its first record
    (the repeats are counted as ``duplicate_parent_asin``). Return the skip report as a dict."""
    report = SkipReport(file=str(path), max_listed=max_listed)
    seen: set[str] = set()
    with atomic_path(out_path) as tmp:
        sink = ParquetSink(tmp, ITEMS_ARROW)
        try:
            for frame in read_jsonl_frames(path, read_with_arrow, META_SCHEMA, report, block_bytes):
                frame = _drop_missing(frame, META_REQUIRED, report)
                asins = frame["parent_asin"].to_list()
                if len(set(asins)) != len(asins) or not seen.isdisjoint(asins):
                    first = [not (asin in seen or seen.add(asin)) for asin in asins]
                    for row in frame.filter(~pl.Series(first)).iter_rows(named=True):
                        report.skip(row["line"], "duplicate_parent_asin", row["parent_asin"])
                    frame = frame.filter(pl.Series(first))
                else:
                    seen.update(asins)
                items = _items_from_meta(frame)
                report.rows += items.height
                sink.write(items)
        finally:
            sink.close()
    log.info("%s: %d lines, %d items, %d skipped", path, report.lines, report.rows, sum(report.skipped.values()))
    return report.as_dict()


def parse_category(
    reviews_path: str | Path,
    meta_path: str | Path,
    interactions_out: str | Path,
    items_out: str | Path,
    report_out: str | Path,
    block_bytes: int = 32 << 20,
    max_listed: int = 1000,
) -> dict:
    """Parse one category's reviews and meta files; write both Parquet files and one report."""
    report = {
        "reviews": parse_reviews(reviews_path, interactions_out, block_bytes, max_listed),
        "meta": parse_meta(meta_path, items_out, block_bytes, max_listed),
    }
    write_json(report_out, report)
    return report
