"""Resumable units: the pieces of a long job kept when the job is killed (MLLM shards, painted images,
GRPO checkpoints and runs), and reused by its rerun only if they are exactly what it would write now.

A folder of units has a ledger, ``units.json``, rewritten atomically after each unit is finished. For
each unit it records the **stamp** of what determined its content — the settings (a hash, the settings
themselves kept once for the log) and the unit's own inputs (a hash) — and the **sha256** of its file (or
of every file of a folder unit). A rerun keeps a unit only if the ledger lists it, with the same settings
and inputs, and its bytes still hash to the recorded sum; otherwise the unit is removed, redone, and the
log says why: not recorded as finished (killed while writing it), made with other settings (naming the
keys that differ), made from other inputs, or damaged (a checksum mismatch: a disk error, a copy cut
short, bytes overwritten in the middle).

Which settings a unit's stamp holds is the caller's to say (each stage's docstring lists them); a model
given as a local folder enters by :func:`folder_fingerprint`, a hub model by its id and revision.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

from mmpcbench.io import atomic_path, sha256_file

log = logging.getLogger(__name__)
LEDGER = "units.json"
WHOLE_FOLDER_LIMIT = 2 << 30  # a local model folder up to 2 GiB is hashed whole; a larger one by name and size


def digest(value) -> str:
    """A stable hash of a JSON-able value (key order does not matter)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str, ensure_ascii=True).encode()).hexdigest()


def tree_sha256(path: Path) -> str:
    """The sha256 of a file, or of a folder's files (their relative paths and contents, in order)."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    total = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        total.update(f"{file.relative_to(path).as_posix()}\0{sha256_file(file)}\n".encode())
    return total.hexdigest()


def folder_fingerprint(model: str) -> str | None:
    """For a model given as a local folder, what its weights are: the hash of every file (a folder over
    2 GiB: of every file's name and size); None for a hub id (its revision says what it is)."""
    folder = Path(model)
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if sum(p.stat().st_size for p in files) <= WHOLE_FOLDER_LIMIT:
        return tree_sha256(folder)
    return digest([[p.relative_to(folder).as_posix(), p.stat().st_size] for p in files])


class Ledger:
    """The ledger of the units in ``folder``, for work under ``settings`` (a JSON-able dict)."""

    def __init__(self, folder: str | Path, settings: dict):
        self.folder = Path(folder)
        self.settings = json.loads(json.dumps(settings, sort_keys=True, default=str))
        self.key = digest(self.settings)
        self.path = self.folder / LEDGER
        self.units, self.known_settings = self._read()

    def _read(self) -> tuple[dict, dict]:
        if not self.path.exists():
            return {}, {}
        try:
            record = json.loads(self.path.read_text())
            return dict(record["units"]), dict(record["settings"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("%s: unreadable (%s); every unit of %s is redone", self.path, error, self.folder)
            return {}, {}

    def kept(self, name: str, inputs=None) -> bool:
        """Whether the unit ``name`` (a file or folder in the ledger's folder) is finished, made with these
        settings from ``inputs`` (any JSON-able value), and intact. If it exists but is not, it is removed
        and the reason logged."""
        path = self.folder / name
        reason = self._stale(name, inputs, path)
        if reason is None:
            return True
        if path.exists() or path.is_symlink():
            log.warning("%s: %s; redone", path, reason)
            _remove(path)
        self.units.pop(name, None)
        return False

    def _stale(self, name: str, inputs, path: Path) -> str | None:
        if not path.exists():
            return "missing"
        unit = self.units.get(name)
        if unit is None:
            return "not recorded as finished (a run killed while writing it, or one before units were recorded)"
        if unit.get("settings") != self.key:
            return "made with other settings (" + _differences(self.known_settings.get(unit.get("settings")),
                                                                self.settings) + ")"
        if unit.get("inputs") != digest(inputs):
            return "made from other inputs"
        if unit.get("sha256") != tree_sha256(path):
            return "damaged (its checksum differs from the one recorded when it was written)"
        return None

    def discard(self, name: str) -> None:
        """Remove the unit ``name`` (if any) and forget it: it is no longer part of the work."""
        _remove(self.folder / name)
        self.units.pop(name, None)

    def record(self, inputs_by_name: dict) -> None:
        """Record the units just written (name -> the inputs it was made from) as finished; save the ledger."""
        for name, inputs in inputs_by_name.items():
            self.units[name] = {"settings": self.key, "inputs": digest(inputs),
                                "sha256": tree_sha256(self.folder / name)}
        self.save()

    def save(self) -> None:
        used = {unit["settings"] for unit in self.units.values()}
        settings = {key: value for key, value in self.known_settings.items() if key in used}
        settings[self.key] = self.settings
        self.known_settings = settings
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps({"settings": settings, "units": self.units}, sort_keys=True, indent=1) + "\n")


def _differences(before: dict | None, now: dict) -> str:
    if before is None:
        return "settings not recorded"
    keys = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    return "differ in " + ", ".join(keys) if keys else "recorded differently"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
