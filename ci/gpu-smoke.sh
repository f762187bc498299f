#!/usr/bin/env bash
# `make gpu-smoke`: the demo's model stages on CUDA, checked against the same stages on the CPU
# (ci/gpu_smoke_compare.py says what is compared and within which tolerance). Needs a CUDA device; on
# a machine without one it says so and exits 2. Not part of CI (CI has no GPU).
# The two runs go side by side, each on half the cores: the device's time is the longer run, not the sum.
#   GPU_SMOKE_CORES       cores for each Snakemake run (default: half of them, at least 1)
#   GPU_SMOKE_SELF_CHECK=1  no CUDA: both runs on the CPU (checks this script and the comparison)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
CORES=${GPU_SMOKE_CORES:-$(( $(nproc) > 1 ? $(nproc) / 2 : 1 ))}

SECOND=(cuda "$REPO/ci/gpu-smoke/cuda.yaml")
if [[ ${GPU_SMOKE_SELF_CHECK:-0} == 1 ]]; then
    echo "gpu-smoke: self-check: both runs on the CPU (this proves the script, not the GPU)"
    SECOND=(cpu-again)
    export CUDA_VISIBLE_DEVICES=""
elif ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu-smoke: no CUDA device here (torch.cuda.is_available() is False): nothing was run." >&2
    echo "gpu-smoke: run it on a machine with an NVIDIA GPU (see docs/cluster.md)." >&2
    exit 2
else
    "$PYTHON" -c 'import torch; print("gpu-smoke: torch", torch.__version__, "CUDA", torch.version.cuda, "on", torch.cuda.get_device_name())'
fi

WORK=${GPU_SMOKE_DIR:-$(mktemp -d /tmp/mmpcbench-gpu-smoke.XXXXXX)}
mkdir -p "$WORK"
C=Toys_and_Games
TARGETS=(
    "cq_$C"                                            # every completion (MLLMs, GRPO adapters), painting, score
    "demo_output/results/rec/$C/original.json"         # RecBench: ground truth, a control, an MLLM
    "demo_output/results/rec/$C/i2t-shuffled.json"
    "demo_output/results/rec/$C/t2i-tiny-gemma-3.json"
)
run() {  # run NAME [config files]: the targets in $WORK/NAME
    local name=$1; shift
    local started=$SECONDS
    "$PYTHON" -m snakemake -s "$REPO/Snakefile" "${TARGETS[@]}" --directory "$WORK/$name" --cores "$CORES" \
        --scheduler greedy --configfile "$REPO/demo/config.yaml" "$REPO/ci/gpu-smoke/common.yaml" "$@" \
        >"$WORK/$name.log" 2>&1 || { tail -n 60 "$WORK/$name.log" >&2; echo "gpu-smoke: the $name run failed ($WORK/$name.log)" >&2; exit 1; }
    echo "gpu-smoke: $name run: $((SECONDS - started)) s"
}
(CUDA_VISIBLE_DEVICES="" run cpu) & cpu_run=$!
(run "${SECOND[@]}") & second_run=$!
for _ in 1 2; do  # the first failure stops the other run: it would only spend the device's time
    wait -n "$cpu_run" "$second_run" || { pkill -f -- "--directory $WORK/" || true; wait; exit 1; }
done
"$PYTHON" "$REPO/ci/gpu_smoke_compare.py" "$WORK/cpu/demo_output" "$WORK/${SECOND[0]}/demo_output" "$C"
