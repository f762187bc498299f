"""The real-SLURM test (ci/test-slurm.sh) as a test of the suite. It installs packages and starts daemons,
so it runs only when asked: REQUIRE_SLURM=1 (CI: a failure where SLURM cannot be brought up) or
MMPCBENCH_TEST_SLURM=1 (``make test-slurm``: skipped, and counted so, where it cannot run — no root, no
apt). A plain ``make test`` skips it and says why. It runs after every other test (conftest), so that
no other test's Snakemake start meets a SLURM client."""

import os
import subprocess
import sys

import pytest

from conftest import REPO

NOT_RUN = 77

pytestmark = pytest.mark.slurm


ASKED = os.environ.get("REQUIRE_SLURM") == "1" or os.environ.get("MMPCBENCH_TEST_SLURM") == "1"


@pytest.mark.skipif(not ASKED, reason="the real-SLURM test installs packages and starts daemons: "
                                      "`make test-slurm` or REQUIRE_SLURM=1 (CI) runs it")
def test_profile_runs_a_gpu_job_on_a_real_slurm():
    env = {**os.environ, "PYTHON": sys.executable, "SLURM_NOT_RUN_EXIT": str(NOT_RUN)}
    result = subprocess.run(["bash", str(REPO / "ci/test-slurm.sh")], env=env, capture_output=True, text=True)
    if result.returncode == NOT_RUN:
        reason = next((line for line in result.stderr.splitlines() if "NOT RUN" in line), result.stderr[-300:])
        pytest.skip(reason.strip("# "))
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
