"""A job's log after a failure (issue #20): the traceback, the file it was writing, every attempt."""

import subprocess
import sys

import pytest

from mmpcbench.io import atomic_path
from mmpcbench.logs import attempts_path

SNAKEFILE = """
rule job:
    output: "out/result.txt"
    log: "logs/job.log"
    script: "job.py"
"""
SCRIPT = """
from pathlib import Path
from mmpcbench.io import atomic_path
from mmpcbench.stage import start_stage

start_stage(snakemake)
with atomic_path(snakemake.output[0]) as tmp:
    if not Path("disk-has-room").exists():
        raise OSError(28, "No space left on device")
    tmp.write_text("done\\n")
"""


def _run(workdir, *extra):
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--quiet", *extra], cwd=workdir,
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(workdir)})


def test_a_failed_jobs_log_holds_its_traceback_and_every_attempt(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "job.py").write_text(SCRIPT)
    log = tmp_path / "logs/job.log"

    assert _run(tmp_path).returncode != 0
    first = log.read_text()
    assert "===== attempt 1 of rule job," in first
    assert "rule job writes out/result.txt" in first
    assert "Traceback" in first and "OSError: [Errno 28] No space left on device" in first
    assert "(while writing out/result.txt)" in first  # the path the error itself does not name

    assert _run(tmp_path).returncode != 0  # Snakemake deletes the log before a rerun; the attempts stay
    second = log.read_text()
    assert second.startswith(first)
    assert "===== attempt 2 of rule job," in second and "the earlier attempts above did not finish" in second
    assert second.count("Traceback") == 2

    (tmp_path / "disk-has-room").touch()
    assert _run(tmp_path).returncode == 0
    third = log.read_text()
    assert third.startswith(second) and "===== attempt 3" in third and third.count("Traceback") == 2
    assert not attempts_path(log).exists()  # a success forgets the failed attempts

    assert _run(tmp_path, "--forceall").returncode == 0
    assert log.read_text().count("===== attempt") == 1  # and the next run starts a clean log


def test_an_atomic_write_that_fails_names_its_path(tmp_path):
    target = tmp_path / "scores.parquet"
    with pytest.raises(OSError) as caught:
        with atomic_path(target):
            raise OSError(28, "No space left on device")
    assert f"(while writing {target})" in caught.value.__notes__
    assert not target.exists() and list(tmp_path.iterdir()) == []
