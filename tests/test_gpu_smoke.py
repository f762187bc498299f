"""`make gpu-smoke` (ci/gpu-smoke.sh) on a machine without CUDA: it says so and fails, running nothing."""
import os
import subprocess
import sys

from conftest import REPO


def test_gpu_smoke_without_cuda_says_so_and_exits_non_zero(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "GPU_SMOKE_DIR": str(tmp_path / "work")}
    env.pop("GPU_SMOKE_SELF_CHECK", None)
    result = subprocess.run(["bash", str(REPO / "ci/gpu-smoke.sh")], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "no CUDA device here" in result.stderr and "nothing was run" in result.stderr
    assert not (tmp_path / "work").exists()


def test_gpu_smoke_configs_pass_the_config_check_and_plan_the_smoke_targets(tmp_path):
    """Both runs' configs (the demo's, common.yaml, cuda.yaml) pass the config check and plan every
    target of ci/gpu-smoke.sh: the smoke broke once on a demo change it was never planned against."""
    script = (REPO / "ci/gpu-smoke.sh").read_text()
    category = script.split("\nC=", 1)[1].split("\n", 1)[0]
    targets = [line.split('"')[1].replace("$C", category) for line in script.split("TARGETS=(", 1)[1].split(")\n", 1)[0].splitlines() if '"' in line]
    assert targets and all("$" not in t for t in targets)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    configs = [REPO / "demo/config.yaml", REPO / "ci/gpu-smoke/common.yaml", REPO / "ci/gpu-smoke/cuda.yaml"]
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *targets, "-n", "--quiet", "rules",
         "--directory", str(tmp_path), "--cores", "1", "--configfile", *map(str, configs)],
        capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for rule in ("grpo_train", "diffuse", "train_recommender", "score_image"):
        assert rule in result.stdout, result.stdout


def test_gpu_units_without_cuda_says_so_and_exits_two():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, str(REPO / "ci/gpu_units.py")], capture_output=True, text=True, env=env)
    assert result.returncode == 2 and "no CUDA device here" in result.stderr
