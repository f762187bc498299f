"""The real-SLURM test (ci/test-slurm.sh) as a test of the suite: skipped, and counted as skipped in the
summary line, where SLURM cannot be brought up (no root, no apt); a failure when REQUIRE_SLURM=1 (CI)."""

import os
import subprocess
import sys

import pytest

from conftest import REPO

NOT_RUN = 77

pytestmark = pytest.mark.slurm


def test_profile_runs_a_gpu_job_on_a_real_slurm():
    env = {**os.environ, "PYTHON": sys.executable, "SLURM_NOT_RUN_EXIT": str(NOT_RUN)}
    result = subprocess.run(["bash", str(REPO / "ci/test-slurm.sh")], env=env, capture_output=True, text=True)
    if result.returncode == NOT_RUN:
        reason = next((line for line in result.stderr.splitlines() if "NOT RUN" in line), result.stderr[-300:])
        pytest.skip(reason.strip("# "))
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
