"""Logging set-up for a stage run as a separate process (e.g. by a workflow rule).

A job's log holds everything a user needs after a failure, on a cluster where the job's stderr may be
elsewhere:

- **the traceback** of an uncaught error (``sys.excepthook`` logs it, with its notes: an
  :func:`mmpcbench.io.atomic_path` write that fails adds the path it was writing);
- **every failed attempt**. Snakemake deletes a job's log before it runs the job again, so each record
  also goes to a hidden companion file (``.<log name>.attempts``) that Snakemake does not know of; a
  rerun starts its log with the earlier attempts, then a separator line (``===== attempt N ...``). A job
  that ends without an uncaught error removes the companion file: the next run after a success starts
  a clean log.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import time
from pathlib import Path

SEPARATOR = "====="


def attempts_path(log_file: str | Path) -> Path:
    """The companion file that keeps the failed attempts of the job logging to ``log_file``."""
    log_file = Path(log_file)
    return log_file.with_name(f".{log_file.name}.attempts")


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO, job: str | None = None) -> None:
    """Send log records to ``log_file`` (created with its folder; earlier failed attempts first, see the
    module docstring) and to stderr; log an uncaught error's traceback there. ``job`` names the job in
    the separator line."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        log_file = Path(log_file)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        attempts = attempts_path(log_file)
        earlier = attempts.read_text(errors="replace") if attempts.exists() else ""
        number = earlier.count(f"\n{SEPARATOR} attempt ") + earlier.startswith(f"{SEPARATOR} attempt ") + 1
        line = (f"{SEPARATOR} attempt {number}{f' of {job}' if job else ''}, {time.strftime('%Y-%m-%d %H:%M:%S')}, "
                f"pid {os.getpid()}" + (": the earlier attempts above did not finish" if number > 1 else "")
                + f" {SEPARATOR}\n")
        log_file.write_text(earlier + line)
        with open(attempts, "a") as handle:
            handle.write(line)
        handlers += [logging.FileHandler(log_file, mode="a"), logging.FileHandler(attempts, mode="a")]
        _log_uncaught_errors(attempts)
    logging.basicConfig(
        level=level, handlers=handlers, force=True, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _log_uncaught_errors(attempts: Path) -> None:
    """Log an uncaught error with its traceback; at a clean exit, forget the failed attempts."""
    outcome = {"failed": False}
    previous_hook = sys.excepthook

    def hook(kind, error, traceback):
        outcome["failed"] = True
        logging.getLogger("mmpcbench").critical("the job failed", exc_info=(kind, error, traceback))
        if previous_hook is not sys.__excepthook__:  # another hook (e.g. the cost record's) still runs
            previous_hook(kind, error, traceback)

    def forget():
        if not outcome["failed"]:
            logging.shutdown()
            attempts.unlink(missing_ok=True)

    sys.excepthook = hook
    atexit.register(forget)


def limit_threads(threads: int) -> None:
    """Let a job use ``threads`` CPU threads in torch (a scheduler runs several jobs side by side;
    each using every core would oversubscribe the machine and slow all of them down)."""
    threads = max(1, int(threads))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    # torch sizes its thread pool from OMP_NUM_THREADS when it is first imported; import it here only
    # if it already is (a job that never needs torch does not pay its ~3 s import)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
