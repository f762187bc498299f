"""`make gpu-smoke` (ci/gpu-smoke.sh) on a machine without CUDA: it says so and fails, running nothing."""
import os
import subprocess

from conftest import REPO


def test_gpu_smoke_without_cuda_says_so_and_exits_non_zero(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "GPU_SMOKE_DIR": str(tmp_path / "work")}
    env.pop("GPU_SMOKE_SELF_CHECK", None)
    result = subprocess.run(["bash", str(REPO / "ci/gpu-smoke.sh")], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "no CUDA device here" in result.stderr and "nothing was run" in result.stderr
    assert not (tmp_path / "work").exists()
