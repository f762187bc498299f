"""Parse the raw Amazon Reviews 2023 files (jsonl.gz) into Parquet, streaming, in bounded memory.

The file is decompressed in blocks of about ``block_bytes`` that end at a line break; each block is
parsed by polars with a fixed schema (fast path). A block that polars rejects, or that has a blank
line, is parsed line by line with :func:`json.loads` so that every bad line is found, counted and
listed with its line number and reason. Peak memory depends on the block size, never on the file size.

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

import gzip
import html
import io
import json
import logging
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

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


class RawFileError(RuntimeError):
    """A raw file cannot be read to its end (truncated or corrupt gzip)."""


@dataclass
class SkipReport:
    """Counts and a bounded list of skipped lines."""

    file: str
    max_listed: int = 1000
    lines: int = 0
    rows: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    listed: list[dict] = field(default_factory=list)

    def skip(self, line: int, reason: str, text: str | bytes = "") -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if len(self.listed) < self.max_listed:
            if isinstance(text, bytes):
                text = text.decode("utf-8", errors="replace")
            self.listed.append({"line": line, "reason": reason, "excerpt": text[:160]})

    def as_dict(self) -> dict:
        total = sum(self.skipped.values())
        return {
            "file": self.file,
            "lines": self.lines,
            "rows": self.rows,
            "skipped_total": total,
            "skipped": dict(sorted(self.skipped.items())),
            "listed": self.listed,
            "listed_truncated": total > len(self.listed),
        }


def iter_line_blocks(path: str | Path, block_bytes: int = 32 << 20) -> Iterator[tuple[int, bytes]]:
    """Yield ``(first_line_number, block)`` from a gzip (or plain) JSON-lines file; each block ends
    with a line break. Raises :class:`RawFileError` naming the file if the gzip stream is truncated
    or corrupt."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    line_no = 1
    rest = b""
    try:
        with opener(path, "rb") as handle:
            while True:
                chunk = handle.read(block_bytes)
                if not chunk:
                    break
                data = rest + chunk
                cut = data.rfind(b"\n")
                if cut < 0:
                    rest = data
                    continue
                block, rest = data[: cut + 1], data[cut + 1 :]
                yield line_no, block
                line_no += block.count(b"\n")
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise RawFileError(
            f"{path}: the gzip stream is truncated or corrupt ({error}); the download is incomplete — "
            "delete the file and its manifest and run the download rule again"
        ) from error
    if rest:
        yield line_no, rest + b"\n"


def _parse_block(block: bytes, first_line: int, schema: dict, report: SkipReport) -> pl.DataFrame:
    """Parse one block; fast path with polars, line-by-line fallback that finds bad lines."""
    n_lines = block.count(b"\n")
    report.lines += n_lines
    frame = None
    if b"\n\n" not in block and not block.startswith(b"\n"):
        try:
            frame = pl.read_ndjson(io.BytesIO(block), schema=schema)
        except Exception:  # polars raises ComputeError / SchemaError variants; the fallback finds the line
            frame = None
        if frame is not None and frame.height != n_lines:
            frame = None
    if frame is not None:
        return frame.with_columns(pl.int_range(first_line, first_line + n_lines, dtype=pl.Int64).alias("line"))
    records, lines = [], []
    for offset, raw in enumerate(block.split(b"\n")[:n_lines]):
        number = first_line + offset
        if not raw.strip():
            report.skip(number, "blank_line")
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            report.skip(number, "malformed_json", raw)
            continue
        if not isinstance(record, dict):
            report.skip(number, "not_an_object", raw)
            continue
        try:
            row = pl.DataFrame([{k: record.get(k) for k in schema}], schema=schema, strict=False)
        except Exception:
            report.skip(number, "bad_field_type", raw)
            continue
        records.append(row)
        lines.append(number)
    if not records:
        return pl.DataFrame(schema={**schema, "line": pl.Int64})
    return pl.concat(records).with_columns(pl.Series("line", lines, dtype=pl.Int64))


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


_SPACES = re.compile(r"\s+")


def clean_text(text: str | None) -> str:
    """Decode HTML entities (``&amp;`` → ``&``) and collapse whitespace."""
    if not text:
        return ""
    if "&" in text:
        text = html.unescape(text)
    return _SPACES.sub(" ", text).strip()


def _items_from_meta(frame: pl.DataFrame) -> pl.DataFrame:
    main = pl.col("images").list.eval(pl.element().filter(pl.element().struct.field("variant") == "MAIN")).list.first()
    return frame.select(
        "parent_asin",
        pl.col("title").map_elements(clean_text, return_dtype=pl.String, skip_nulls=False).alias("title"),
        pl.col("description")
        .list.join(" ")
        .map_elements(clean_text, return_dtype=pl.String, skip_nulls=False)
        .alias("description"),
        "main_category",
        "store",
        main.struct.field("large").alias("image_large"),
        main.struct.field("hi_res").alias("image_hi_res"),
        "line",
    )


def parse_reviews(path: str | Path, out_path: str | Path, block_bytes: int = 32 << 20, max_listed: int = 1000) -> dict:
    """Stream a reviews file into ``interactions.parquet``; return the skip report as a dict."""
    report = SkipReport(file=str(path), max_listed=max_listed)
    with atomic_path(out_path) as tmp:
        with pq.ParquetWriter(tmp, INTERACTIONS_ARROW, compression="zstd") as writer:
            for first_line, block in iter_line_blocks(path, block_bytes):
                frame = _parse_block(block, first_line, REVIEW_SCHEMA, report)
                frame = _drop_missing(frame, REVIEW_REQUIRED, report)
                report.rows += frame.height
                writer.write_table(frame.select(INTERACTIONS_ARROW.names).to_arrow().cast(INTERACTIONS_ARROW))
    log.info("%s: %d lines, %d interactions, %d skipped", path, report.lines, report.rows, sum(report.skipped.values()))
    return report.as_dict()


def parse_meta(path: str | Path, out_path: str | Path, block_bytes: int = 32 << 20, max_listed: int = 1000) -> dict:
    """Stream a meta file into ``items.parquet``; a repeated ``parent_asin`` keeps its first record
    (the repeats are counted as ``duplicate_parent_asin``). Return the skip report as a dict."""
    report = SkipReport(file=str(path), max_listed=max_listed)
    seen: set[str] = set()
    with atomic_path(out_path) as tmp:
        with pq.ParquetWriter(tmp, ITEMS_ARROW, compression="zstd") as writer:
            for first_line, block in iter_line_blocks(path, block_bytes):
                frame = _parse_block(block, first_line, META_SCHEMA, report)
                frame = _drop_missing(frame, META_REQUIRED, report)
                repeated = frame["parent_asin"].is_duplicated() | frame["parent_asin"].is_in(list(seen))
                if repeated.any():
                    first = ~frame["parent_asin"].is_in(list(seen)) & frame.select(
                        pl.int_range(pl.len()).over("parent_asin") == 0
                    ).to_series()
                    for row in frame.filter(~first).iter_rows(named=True):
                        report.skip(row["line"], "duplicate_parent_asin", row["parent_asin"])
                    frame = frame.filter(first)
                seen.update(frame["parent_asin"].to_list())
                items = _items_from_meta(frame)
                report.rows += items.height
                writer.write_table(items.to_arrow().cast(ITEMS_ARROW))
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
