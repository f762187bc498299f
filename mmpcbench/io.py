"""Small file helpers shared by every stage: atomic writes and provenance records."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A killed or failing writer leaves no file under the final name, so a half-written output can
    never look complete. Works for files and for directories (the block creates what it needs). An
    error raised while writing carries a note naming ``path`` (shown with its traceback).
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        _remove(tmp)
    except Exception as error:
        error.add_note(f"(while writing {final})")
        raise
    try:
        yield tmp
        if final.is_dir() and tmp.is_dir():
            _remove(final)
        os.replace(tmp, final)
    except Exception as error:  # a full disk's "os error 28" names no file: the note does
        error.add_note(f"(while writing {final})")
        raise
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_json(path: str | Path, payload: object) -> None:
    """Write ``payload`` as indented, key-sorted JSON, atomically (byte-stable across reruns)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def write_parquet(frame, path: str | Path) -> None:
    """Write a polars DataFrame to Parquet atomically, without statistics that vary between runs."""
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, compression="zstd", statistics=False)


def sha256_file(path: str | Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def config_hash(config: dict) -> str:
    """A short, stable hash of a configuration (key order does not matter)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def package_versions(names: tuple[str, ...] = ("polars", "numpy", "pillow", "snakemake", "torch")) -> dict:
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def provenance(config: dict | None = None, seed: int | None = None, started: float | None = None, **extra) -> dict:
    """What produced a result: config hash, seed, package versions, wall time, and anything in ``extra``.

    Wall time is recorded so a reader can trace cost, but it is the only field that changes between
    reruns; it lives in provenance files only, never in tables.
    """
    record = {"packages": package_versions(), **extra}
    if config is not None:
        record["config_hash"] = config_hash(config)
    if seed is not None:
        record["seed"] = seed
    if started is not None:
        record["wall_seconds"] = round(time.time() - started, 3)
    return record
