"""Fetch files over ``https://``, ``http://`` or ``file://``: raw data downloads with resume and a
manifest, and product cover images, concurrently, verified to decode.

Errors are sorted into *permanent* (HTTP 4xx other than 408/429, a missing local file): not retried;
and *transient* (timeouts, connection errors, HTTP 5xx/408/429, bytes that do not decode as an image):
retried with exponential backoff (``backoff * 2**attempt`` seconds).
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from mmpcbench.io import atomic_path, sha256_file, write_json
from mmpcbench.units import Ledger

log = logging.getLogger(__name__)

USER_AGENT = "mmpcbench/0.1 (+research pipeline)"


class FetchError(RuntimeError):
    """A fetch failed; ``permanent`` says whether a retry could help."""

    def __init__(self, url: str, reason: str, permanent: bool):
        super().__init__(f"{url}: {reason}")
        self.url, self.reason, self.permanent = url, reason, permanent


def as_url(location: str) -> str:
    """A URL for ``location``: URLs pass through, a local path becomes an absolute ``file://`` URL."""
    if urllib.parse.urlparse(location).scheme in ("http", "https", "file"):
        return location
    return Path(location).resolve().as_uri()


def local_path(url: str) -> Path | None:
    """The local path of a ``file://`` URL (None for network URLs)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file":
        return None
    return Path(urllib.request.url2pathname(parsed.path))


def _open(url: str, timeout: float, start: int = 0):
    """Open ``url`` for reading from byte ``start``; return (stream, resumed, total or None)."""
    path = local_path(url)
    if path is not None:
        if not path.is_file():
            raise FetchError(url, "not found (404)", permanent=True)
        handle = open(path, "rb")
        handle.seek(start)
        return handle, start > 0, path.stat().st_size
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        permanent = 400 <= error.code < 500 and error.code not in (408, 429)
        if error.code == 416 and start:  # asked past the end: the partial file is already complete
            return io.BytesIO(b""), True, start
        raise FetchError(url, f"HTTP {error.code} {error.reason}", permanent) from error
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
        raise FetchError(url, f"connection failed: {getattr(error, 'reason', error)}", permanent=False) from error
    resumed = response.status == 206
    length = response.headers.get("Content-Length")
    total = (int(length) + (start if resumed else 0)) if length is not None else None
    return response, resumed, total


def download(
    url: str,
    destination: str | Path,
    manifest: str | Path,
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    block: int = 1 << 20,
) -> dict:
    """Download ``url`` to ``destination``, resuming a partial ``destination.part`` with an HTTP Range
    request, retrying transient errors; then write a manifest (URL, bytes, sha256, time) as JSON.

    The file appears under its final name only when complete (and, when the server sent a
    Content-Length, of that length).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    attempt = 0
    while True:
        start = partial.stat().st_size if partial.exists() else 0
        try:
            stream, resumed, total = _open(url, timeout, start)
            with stream, open(partial, "ab" if resumed else "wb") as out:
                shutil.copyfileobj(stream, out, block)
            size = partial.stat().st_size
            if total is not None and size != total:
                raise FetchError(url, f"incomplete body: {size} of {total} bytes", permanent=False)
            break
        except (FetchError, TimeoutError, ConnectionError, OSError) as error:
            permanent = getattr(error, "permanent", False)
            attempt += 1
            if permanent or attempt > retries:
                raise FetchError(url, f"gave up after {attempt} attempt(s): {error}", permanent) from error
            wait = backoff * 2 ** (attempt - 1)
            log.warning("%s: %s; retry %d/%d in %.1fs (resuming at byte %d)", url, error, attempt, retries, wait,
                        partial.stat().st_size if partial.exists() else 0)
            time.sleep(wait)
    record = {
        "url": url,
        "file": destination.name,
        "bytes": partial.stat().st_size,
        "sha256": sha256_file(partial),
        "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "attempts": attempt + 1,
    }
    os.replace(partial, destination)
    write_json(manifest, record)
    return record


# --- images ---------------------------------------------------------------------------------------


def _without_addresses(error: Exception) -> str:
    """An error message without the memory addresses Python puts in object reprs (PIL's "cannot identify
    image file <_io.BytesIO object at 0x7f…>"): the same on every run."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", str(error))


def _decode(data: bytes) -> str:
    """Return the image format (``JPEG``, ``PNG``, …) if ``data`` decodes fully, else raise."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.format or "unknown"


def fetch_image(url: str, destination_stem: Path, retries: int = 3, backoff: float = 1.0, timeout: float = 20.0) -> dict:
    """Fetch one image, check that it decodes, and store it as ``stem.jpg`` or ``stem.png``
    (JPEG and PNG bytes are kept as they are; other formats are converted to PNG, losslessly).
    An image already stored and decodable is reused and reported as ``cached``."""
    for suffix in (".jpg", ".png"):
        existing = destination_stem.with_suffix(suffix)
        if existing.exists():
            try:
                _decode(existing.read_bytes())
                return {"ok": True, "status": "cached", "reason": "", "image_path": str(existing), "attempts": 0}
            except (UnidentifiedImageError, OSError, SyntaxError):
                existing.unlink()
    reason = ""
    for attempt in range(1, retries + 2):
        try:
            stream, _, _ = _open(url, timeout)
            with stream:
                data = stream.read()
            try:
                image_format = _decode(data)
            except (UnidentifiedImageError, OSError, SyntaxError) as error:
                head = data[:40].decode("ascii", errors="replace").strip()
                raise FetchError(url, f"not a decodable image ({len(data)} bytes, starts {head!r}): "
                                      f"{_without_addresses(error)}", False)
            if image_format == "JPEG":
                path = destination_stem.with_suffix(".jpg")
                with atomic_path(path) as tmp:
                    tmp.write_bytes(data)
            else:
                path = destination_stem.with_suffix(".png")
                with Image.open(io.BytesIO(data)) as image, atomic_path(path) as tmp:
                    image.convert("RGB").save(tmp, format="PNG")
            return {"ok": True, "status": "downloaded", "reason": "", "image_path": str(path), "attempts": attempt}
        except FetchError as error:
            reason = error.reason
            if error.permanent or attempt > retries:
                break
            time.sleep(backoff * 2 ** (attempt - 1))
        except (TimeoutError, ConnectionError, OSError) as error:
            reason = f"connection failed: {error}"
            if attempt > retries:
                break
            time.sleep(backoff * 2 ** (attempt - 1))
    return {"ok": False, "status": "failed", "reason": reason, "image_path": None, "attempts": attempt}


def fetch_settings(images: dict) -> dict:
    """The fetch arguments of :func:`fetch_images` from the config's ``images`` section (the one place
    that reads it)."""
    return {"workers": images["workers"], "retries": images["retries"], "backoff": images["backoff_seconds"],
            "timeout": images["timeout_seconds"]}


RECORD_EVERY = 256  # covers fetched between two saves of the folder's ledger


def fetch_images(
    items: pl.DataFrame,
    out_dir: str | Path,
    workers: int,
    retries: int,
    backoff: float,
    timeout: float,
) -> pl.DataFrame:
    """Fetch the cover of every item (``parent_asin``, ``image_url``) into ``out_dir``; return one row
    per item: ``parent_asin, image_url, ok, status, reason, image_path, attempts``, in input order.

    A cover already stored is reused (``cached``) only if the folder's ledger (:mod:`mmpcbench.units`)
    records it as fetched from the same URL and its checksum still matches; any other is removed and
    fetched again, the log saying why. The ledger is saved every :data:`RECORD_EVERY` downloads, so a
    killed job keeps what it fetched."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = items.select("parent_asin", "image_url").rows()
    ledger = Ledger(out, {"unit": "cover", "stored_as": "JPEG bytes as served, other formats as PNG"})
    for asin, url in rows:
        for suffix in (".jpg", ".png"):
            ledger.kept(f"{asin}{suffix}", url)  # a stale, damaged or unrecorded cover is removed here

    def one(row):
        asin, url = row
        return {"parent_asin": asin, "image_url": url, **fetch_image(url, out / asin, retries, backoff, timeout)}

    results, fetched = [], {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for result in tqdm(pool.map(one, rows), total=len(rows), desc="images", unit="img", mininterval=5):
            results.append(result)
            if result["status"] == "downloaded":
                fetched[Path(result["image_path"]).name] = result["image_url"]
            if len(fetched) >= RECORD_EVERY:
                ledger.record(fetched)
                fetched = {}
    ledger.record(fetched)
    frame = pl.DataFrame(
        results,
        schema={
            "parent_asin": pl.String, "image_url": pl.String, "ok": pl.Boolean, "status": pl.String,
            "reason": pl.String, "image_path": pl.String, "attempts": pl.Int64,
        },
    )
    failed = frame.filter(~pl.col("ok"))
    log.info("images: %d ok (%d cached), %d failed", frame.height - failed.height,
             frame.filter(pl.col("status") == "cached").height, failed.height)
    for row in failed.iter_rows(named=True):
        log.warning("image of %s dropped: %s", row["parent_asin"], row["reason"])
    return frame


def relative_image_paths(frame: pl.DataFrame, root: str | Path) -> pl.DataFrame:
    """Store image paths relative to ``root`` so manifests do not depend on the checkout location."""
    root = Path(root).resolve()
    return frame.with_columns(
        pl.col("image_path").map_elements(
            lambda p: os.path.relpath(Path(p).resolve(), root), return_dtype=pl.String, skip_nulls=True
        )
    )
