"""Logging set-up for a stage run as a separate process (e.g. by a workflow rule)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> None:
    """Send log records to ``log_file`` (created with its folder) and to stderr."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(
        level=level, handlers=handlers, force=True, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def limit_threads(threads: int) -> None:
    """Let a job use ``threads`` CPU threads in torch (a scheduler runs several jobs side by side;
    each using every core would oversubscribe the machine and slow all of them down)."""
    import os

    import sys

    threads = max(1, int(threads))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    # torch sizes its thread pool from OMP_NUM_THREADS when it is first imported; import it here only
    # if it already is (a job that never needs torch does not pay its ~3 s import)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
