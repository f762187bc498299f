"""What one job cost, measured in the job's own process; the cost ledger reads the records.

A workflow script calls :func:`start_job` first; the library marks its model loads with
:func:`loading` and its units of work with :func:`count`. Both are no-ops outside a job (tests, notebooks).
The record (``<log>.cost.json`` beside the job's log) splits the job's wall time into

- ``startup_s``: from the process's start (``psutil``) to the stage's start: the interpreter, Snakemake's
  script preamble and the script's top-level imports;
- ``load_s``: inside :func:`loading` blocks: reading a model's weights and the imports it needs first
  (torch, transformers, diffusers, open_clip are imported lazily, where a model is loaded);
- ``work_s``: the rest.

It also holds the items (and, for MLLMs, generated tokens) the job counted, the GPUs it asked SLURM for,
the device it ran on and, inside a SLURM allocation, the SLURM job id (the ledger joins ``sacct`` on it).
Wall times change from run to run: they live in these records and in the ledger, never in another table.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import defaultdict
from pathlib import Path

from mmpcbench.io import write_json

_ACTIVE: "JobCost | None" = None


class JobCost:
    """The running account of one job (see the module docstring)."""

    def __init__(self, rule: str, wildcards: dict, gpus: float = 0, threads: int = 1):
        import psutil

        self.rule, self.wildcards, self.gpus, self.threads = rule, dict(wildcards), gpus, threads
        self.started = time.time()
        self.process_started = psutil.Process().create_time()
        self.loads: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self._depth = 0

    def record(self, finished: float) -> dict:
        wall = finished - self.started
        startup = max(0.0, self.started - self.process_started)
        load = sum(self.loads.values())
        return {
            "rule": self.rule,
            "wildcards": self.wildcards,
            "wall_s": round(startup + wall, 3),
            "startup_s": round(startup, 3),
            "load_s": round(load, 3),
            "work_s": round(max(0.0, wall - load), 3),
            "loads": {name: round(seconds, 3) for name, seconds in self.loads.items()},
            "counts": dict(self.counts),
            "gpus": self.gpus,
            "threads": self.threads,
            "device": _device(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        }


def _device() -> str:
    import sys

    torch = sys.modules.get("torch")  # a job that never imported torch ran on the CPU
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.get_device_name()
    return "cpu"


def cost_path(log_path) -> Path:
    """Where the cost record of the job logging to ``log_path`` is written."""
    log_path = Path(log_path)
    return log_path.with_name(log_path.name + ".cost.json")


def start_job(log_path, rule: str, wildcards, resources=None, threads: int = 1) -> JobCost:
    """Start accounting for this process's job (a workflow script calls it first, after logging is set
    up); the record is written when the process exits, with ``"failed": true`` after an uncaught error.
    ``wildcards`` and ``resources`` are mappings (Snakemake's objects have ``items``/``get``)."""
    import atexit
    import sys

    global _ACTIVE
    wildcards = dict(wildcards.items()) if hasattr(wildcards, "items") else dict(wildcards or {})
    gpus = (resources.get("gpu", 0) if resources is not None else 0) or 0
    _ACTIVE = meter = JobCost(rule, wildcards, gpus, threads)
    outcome = {"failed": False}
    previous_hook = sys.excepthook

    def hook(*exc_info):
        outcome["failed"] = True
        previous_hook(*exc_info)

    def write():
        record = meter.record(time.time())
        record["failed"] = outcome["failed"]
        write_json(cost_path(log_path), record)

    sys.excepthook = hook
    atexit.register(write)
    return meter


@contextlib.contextmanager
def loading(name: str):
    """Mark a model load (its lazy imports included); nested loads count once, under the outer name."""
    meter = _ACTIVE
    if meter is None:
        yield
        return
    meter._depth += 1
    started = time.perf_counter()
    try:
        yield
    finally:
        meter._depth -= 1
        if meter._depth == 0:
            meter.loads[name] += time.perf_counter() - started


def count(**counts: int) -> None:
    """Add units of work (``items=``, ``tokens=``, ``images=``, ``runs=``) to the running job's record."""
    if _ACTIVE is not None:
        for key, value in counts.items():
            _ACTIVE.counts[key] += int(value)


def read_costs(logs_dir) -> list[dict]:
    """Every cost record under ``logs_dir`` (a record that cannot be read is skipped with a warning)."""
    records = []
    for path in sorted(Path(logs_dir).rglob("*.cost.json")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            logging.getLogger(__name__).warning("skipping unreadable cost record %s: %s", path, error)
    return records
