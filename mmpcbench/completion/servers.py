"""A model server that a completion job starts inside its own allocation, waits for, and stops.

A registry entry with ``engine: openai`` and ``serve: <server>`` (a member of
:data:`mmpcbench.families.SERVERS`: ``transformers`` or ``vllm``) makes its job start the server on a
free loopback port of the job's node, wait until ``/health`` answers 200, complete through it, and stop
it (SIGTERM to its process group, SIGKILL after ``stop_timeout_s``). The server's output goes to its
own log beside the job's log (``<job log>.server.log``). Each job starts its own server: Snakemake runs
the jobs of a SLURM group (``mllm_{model}_{category}``) as separate processes with no set-up or
tear-down shared between them, so a server started once for the group would have no owner to stop it
when the group's last job ends, fails or is cancelled; a server per job starts in seconds to minutes
(vLLM loads the weights each time, which is the price of a clean lifetime). A job that completes both
tasks (``one_job_per_category``) starts one server for both
(:class:`mmpcbench.completion.mllm.Engines`).

The server is the job's child: it runs in its own process group (so that stopping it stops its worker
processes too), and on Linux it receives SIGTERM when the job's process dies, even by SIGKILL (SLURM
cancelling a job kills its whole cgroup anyway). A server that exits before it is ready, or is not
ready within ``startup_timeout_s``, fails the job with the tail of its log.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from mmpcbench.cost import loading
from mmpcbench.families import SERVERS, resolve

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
LOG_TAIL_LINES = 40


class ServerError(RuntimeError):
    """A model server that did not come up, or exited; the message holds the tail of its log."""


def executable(entry: dict, name: str) -> str:
    """The server's program: the entry's ``serve_executable``, else ``name`` beside this Python (the
    job's environment), else on ``PATH``."""
    if entry.get("serve_executable"):
        return str(entry["serve_executable"])
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def transformers_command(entry: dict, host: str, port: int) -> list[str]:
    """``transformers serve`` pinned to the entry's weights (its ``model`` folder or hub id, at its
    ``revision``), dtype and quantisation (``nf4`` → ``bnb-4bit``), on the job's device."""
    model = entry["model"] + (f"@{entry['revision']}" if entry.get("revision") else "")
    argv = [executable(entry, "transformers"), "serve", model, "--host", host, "--port", str(port),
            "--dtype", entry.get("dtype", "auto"), "--log-level", "info"]
    if entry.get("quantization", "none") == "nf4":
        argv += ["--quantization", "bnb-4bit"]
    return argv + [str(arg) for arg in entry.get("serve_args", [])]


def vllm_command(entry: dict, host: str, port: int) -> list[str]:
    """``vllm serve`` with the entry's weights, served name, dtype, quantisation (``nf4`` →
    bitsandbytes 4-bit), context length (``max_model_len``) and any further ``serve_args``."""
    argv = [executable(entry, "vllm"), "serve", entry["model"], "--host", host, "--port", str(port),
            "--served-model-name", served_name(entry), "--dtype", entry.get("dtype", "auto"), "--seed", "0"]
    if entry.get("revision"):
        argv += ["--revision", entry["revision"]]
    if entry.get("quantization", "none") == "nf4":
        argv += ["--quantization", "bitsandbytes"]
    if entry.get("max_model_len"):
        argv += ["--max-model-len", str(entry["max_model_len"])]
    return argv + [str(arg) for arg in entry.get("serve_args", [])]


def served_name(entry: dict) -> str:
    """The model name a request asks for: ``served_model``, else the entry's ``model``."""
    return entry.get("served_model") or entry["model"]


def free_port(host: str = HOST) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(the log is empty)"


def _die_with_parent() -> None:  # runs in the child before exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def running(entry: dict, log_path: str | Path, name: str | None = None):
    """Start the entry's ``serve`` server, yield its base URL (``http://127.0.0.1:<port>/v1``) once
    ``/health`` answers 200, and stop it on the way out (whatever happened inside)."""
    import httpx

    server = SERVERS[entry["serve"]]
    label = f"the {server.name} server of model entry {name or entry['model']!r}"
    port = free_port()
    argv = resolve(server.command)(entry, HOST, port)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    timeout = float(entry.get("startup_timeout_s", 900))
    log.info("starting %s: %s (log: %s)", label, " ".join(argv), log_path)
    with open(log_path, "wb") as output:
        try:
            process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, preexec_fn=_die_with_parent)
        except OSError as error:
            raise ServerError(f"{label} cannot start ({argv[0]}): {error}") from error
    try:
        root, started = f"http://{HOST}:{port}", time.monotonic()
        with loading("model server"):
            while True:
                if process.poll() is not None:
                    raise ServerError(f"{label} exited with code {process.returncode} before it was ready; "
                                      f"its log ({log_path}) ends:\n{log_tail(log_path)}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(root + server.health, timeout=2).status_code == 200:
                        break
                if time.monotonic() - started > timeout:
                    raise ServerError(f"{label} did not answer {server.health} within {timeout:g} s "
                                      f"(startup_timeout_s); its log ({log_path}) ends:\n{log_tail(log_path)}")
                time.sleep(0.25)
        log.info("%s is ready at %s after %.1f s", label, root, time.monotonic() - started)
        yield root + "/v1"
    finally:
        stop(process, float(entry.get("stop_timeout_s", 30)))
        log.info("%s stopped (exit code %s)", label, process.returncode)


def stop(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM to the server's process group, SIGKILL after ``timeout`` seconds."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
