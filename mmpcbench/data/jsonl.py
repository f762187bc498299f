"""A streaming reader of gzip-compressed JSON-lines files, in bounded memory, that loses no line silently.

The file is decompressed (ISA-L when available, in a child process) in blocks of about ``block_bytes``
that end at a line break, in a background thread; each block is parsed with a fixed schema by a fast
reader (polars, or pyarrow for nested records). A block the reader rejects, or one with a blank line,
is parsed again in runs of :data:`FALLBACK_LINES` lines, and only a rejected run line by line with
:func:`json.loads`, so that every bad line is found, counted and listed (:class:`SkipReport`) with its
line number and reason. Peak memory depends on the block size, never on the file size. A truncated or
corrupt file raises :class:`RawFileError` naming it.

Nothing here knows the Amazon format: :mod:`mmpcbench.data.parse` gives the schemas and the checks.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import queue
import subprocess
import sys
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import polars as pl
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq


try:  # ISA-L's gzip decompressor: about 2x zlib's speed, same format and the same errors
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a dependency; plain gzip is the fallback
    _gzip = gzip

log = logging.getLogger(__name__)


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


def _open_decompressed(path: Path):
    """A binary stream of the decompressed file. A ``.gz`` file is decompressed by ISA-L in a child
    process (``python -m isal.igzip -d -c``) so that decompression runs on its own core, beside the
    parsing; without isal, in-process with :mod:`gzip`."""
    if path.suffix != ".gz":
        return open(path, "rb"), None
    if _gzip is gzip:
        return gzip.open(path, "rb"), None
    process = subprocess.Popen(
        [sys.executable, "-m", "isal.igzip", "-d", "-c", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 20,
    )
    return process.stdout, process


def _truncated(path: Path, detail: str) -> RawFileError:
    return RawFileError(
        f"{path}: the gzip stream is truncated or corrupt ({detail}); the download is incomplete — "
        "delete the file and its manifest and run the download rule again"
    )


def iter_line_blocks(path: str | Path, block_bytes: int = 32 << 20) -> Iterator[tuple[int, bytes, int]]:
    """Yield ``(first_line_number, block, n_lines)`` from a gzip (or plain) JSON-lines file; each
    block ends with a line break. Raises :class:`RawFileError` naming the file if the gzip stream is
    truncated or corrupt."""
    path = Path(path)
    line_no = 1
    rest = b""
    handle, process = _open_decompressed(path)
    completed = False
    try:
        with handle:
            while True:
                chunk = handle.read(block_bytes)
                if not chunk:
                    break
                cut = chunk.rfind(b"\n")
                if cut < 0:
                    rest += chunk
                    continue
                view = memoryview(chunk)
                if rest:
                    block = rest + view[: cut + 1]
                else:
                    block = chunk if cut + 1 == len(chunk) else view[: cut + 1].tobytes()
                rest = view[cut + 1 :].tobytes()
                n_lines = block.count(b"\n")
                yield line_no, block, n_lines
                line_no += n_lines
        completed = True
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise _truncated(path, str(error)) from error
    finally:
        if process is not None:
            if not completed:  # the consumer stopped early, or failed: stop the decompressor
                process.kill()
            stderr = process.stderr.read().decode(errors="replace").strip()
            process.stderr.close()
            process.wait()
    if process is not None and process.returncode != 0:
        raise _truncated(path, stderr.splitlines()[-1] if stderr else f"exit code {process.returncode}")
    if rest:
        yield line_no, rest + b"\n", 1


def read_with_polars(data: bytes, schema: dict) -> pl.DataFrame | None:
    """Parse JSON lines with polars' reader (fastest for flat records); None if it rejects them."""
    try:
        return pl.read_ndjson(io.BytesIO(data), schema=schema)
    except Exception:  # polars raises ComputeError / SchemaError variants; the caller narrows it down
        return None


def read_with_arrow(data: bytes, schema: dict) -> pl.DataFrame | None:
    """Parse JSON lines with pyarrow's reader (fastest for nested records with many unused fields,
    which it skips); None if it rejects them."""
    arrow_schema = _arrow_schema(schema)
    try:
        table = pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(block_size=max(1 << 20, len(data) + 1)),
            parse_options=pa_json.ParseOptions(explicit_schema=arrow_schema, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    return pl.from_arrow(table).cast(schema)


def _arrow_schema(schema: dict) -> pa.Schema:
    def convert(dtype):
        if dtype == pl.String:
            return pa.string()
        if isinstance(dtype, pl.List):
            return pa.list_(convert(dtype.inner))
        if isinstance(dtype, pl.Struct):
            return pa.struct([(f.name, convert(f.dtype)) for f in dtype.fields])
        return pl.Series(dtype=dtype).to_arrow().type

    return pa.schema([(name, convert(dtype)) for name, dtype in schema.items()])


def _with_lines(frame: pl.DataFrame, numbers) -> pl.DataFrame:
    if isinstance(numbers, range):
        return frame.with_columns(pl.int_range(numbers.start, numbers.stop, dtype=pl.Int64).alias("line"))
    return frame.with_columns(pl.Series("line", numbers, dtype=pl.Int64))


def _read_valid(lines: list[bytes], numbers: list[int], reader, schema: dict, report: SkipReport) -> list[pl.DataFrame]:
    """Parse JSON objects; if the reader rejects the batch (a field of the wrong type), bisect it so
    that only the offending lines are skipped (and listed)."""
    if not lines:
        return []
    frame = reader(b"\n".join(lines) + b"\n", schema)
    if frame is not None and frame.height == len(lines):
        return [_with_lines(frame, numbers)]
    if len(lines) == 1:
        report.skip(numbers[0], "bad_field_type", lines[0])
        return []
    half = len(lines) // 2
    return _read_valid(lines[:half], numbers[:half], reader, schema, report) + _read_valid(
        lines[half:], numbers[half:], reader, schema, report
    )


FALLBACK_LINES = 4096


def _parse_block(block: bytes, first_line: int, n_lines: int, reader, schema: dict, report: SkipReport) -> pl.DataFrame:
    """Parse one block. If the reader rejects it (or skips a line, e.g. a blank one), parse it again
    in runs of ``FALLBACK_LINES`` lines, and only a run that is still rejected is read line by line."""
    report.lines += n_lines
    frame = reader(block, schema)
    if frame is not None and frame.height == n_lines:
        return _with_lines(frame, range(first_line, first_line + n_lines))
    lines = block.split(b"\n")[:n_lines]
    frames = []
    for start in range(0, n_lines, FALLBACK_LINES):
        run = lines[start : start + FALLBACK_LINES]
        number = first_line + start
        if all(line.strip() for line in run):
            frame = reader(b"\n".join(run) + b"\n", schema)
            if frame is not None and frame.height == len(run):
                frames.append(_with_lines(frame, range(number, number + len(run))))
                continue
        frames += _parse_lines(run, number, reader, schema, report)
    if not frames:
        return pl.DataFrame(schema={**schema, "line": pl.Int64})
    return pl.concat(frames)


def _parse_lines(lines: list[bytes], first_line: int, reader, schema: dict, report: SkipReport) -> list[pl.DataFrame]:
    """Find the bad lines with ``json.loads`` (blank, malformed, not an object), then parse the rest."""
    good, numbers = [], []
    for offset, raw in enumerate(lines):
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
        good.append(raw)
        numbers.append(number)
    return _read_valid(good, numbers, reader, schema, report)


def _prefetch(iterator: Iterator, depth: int = 2) -> Iterator:
    """Run ``iterator`` in a background thread, ``depth`` items ahead (decompression overlaps parsing;
    both release the GIL). Memory stays bounded: at most ``depth + 1`` blocks exist at once."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def produce():
        try:
            for item in iterator:
                items.put(item)
        except BaseException as error:  # re-raised in the consumer
            items.put(error)
        items.put(done)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    while (item := items.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item
    thread.join()


class ParquetSink:
    """Append polars frames to one Parquet file from a background thread (compression and I/O
    overlap parsing); at most ``depth`` frames wait in the queue."""

    def __init__(self, path: Path, schema: pa.Schema, depth: int = 2):
        self.schema = schema
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.writer = pq.ParquetWriter(path, schema, compression="zstd", compression_level=1)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while (frame := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.writer.write_table(frame.to_arrow().cast(self.schema))
                except BaseException as error:
                    self.error = error

    def write(self, frame: pl.DataFrame) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(frame.select(self.schema.names))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self.writer.close()
        if self.error is not None:
            raise self.error


def read_jsonl_frames(path: str | Path, reader, schema: dict, report: SkipReport,
                      block_bytes: int = 32 << 20) -> Iterator[pl.DataFrame]:
    """Every block of ``path`` parsed by ``reader`` with ``schema`` (bad lines counted in ``report``),
    with a ``line`` column (1-based raw line numbers); the next block is decompressed meanwhile."""
    for first_line, block, n_lines in _prefetch(iter_line_blocks(path, block_bytes)):
        yield _parse_block(block, first_line, n_lines, reader, schema, report)
