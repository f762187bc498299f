#!/usr/bin/env bash
# A real SLURM test (`make test-slurm`): bring up a single-node SLURM (ci/slurm-up.sh), run a small
# demo target through `snakemake --profile profiles/slurm-ci` — three rules, the last two a group job
# (as slurm/config.yaml groups a category's jobs), one of them asking for a GPU — and check that
# (1) two SLURM jobs were submitted with sbatch and completed (sacct), (2) the group's two jobs ran in
# one allocation, which was given the GPU (sacct AllocTRES), and the cost ledger joins sacct, and
# (3) the outputs equal those of a local run of the same target.
#
# Needs root and apt (Debian), as CI has. Where it cannot run, it says so loudly and exits with
# $SLURM_NOT_RUN_EXIT (0 by default; tests/test_slurm.py sets 77 and reports the test as skipped) —
# unless REQUIRE_SLURM=1 (what .ci/run sets), when it fails.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# the cluster's private configuration (ci/slurm-up.sh): this test's SLURM clients and daemons read it
export SLURM_CI_DIR=${SLURM_CI_DIR:-/run/mmpcbench-slurm}
export SLURM_CONF=$SLURM_CI_DIR/slurm.conf
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
SNAKEMAKE=("$PYTHON" -m snakemake -s "$REPO/Snakefile")
export HF_HUB_OFFLINE=1

not_run() {
    local banner="################################################################################"
    printf '\n%s\n# SLURM TEST NOT RUN: %s\n# (CI runs it as root on Debian; here it proves nothing.)\n%s\n\n' \
        "$banner" "$1" "$banner" >&2
    if [[ ${REQUIRE_SLURM:-0} == 1 ]]; then exit 1; fi
    exit "${SLURM_NOT_RUN_EXIT:-0}"
}
[[ $(id -u) -eq 0 ]] || not_run "not root (it installs SLURM with apt and starts its daemons)"
command -v apt-get >/dev/null || not_run "no apt-get on this machine"

WORK=$(mktemp -d /tmp/mmpcbench-slurm.XXXXXX)
LOCAL=$WORK/local
CLUSTER=$WORK/cluster
dump_logs() {
    local status=$?
    if ((status != 0)); then
        echo "test-slurm: FAILED (exit $status); SLURM and job logs follow" >&2
        for log in "$SLURM_CI_DIR"/log/*.log; do echo "=== $log" >&2; tail -n 40 "$log" >&2; done
        find "$CLUSTER/.snakemake/slurm_logs" -name '*.log' 2>/dev/null | while read -r log; do
            echo "=== $log" >&2
            tail -n 40 "$log" >&2
        done
    fi
    bash "$REPO/ci/slurm-down.sh" || true
    if ((status == 0)); then rm -rf "$WORK"; else echo "test-slurm: kept $WORK for a look" >&2; fi
    exit "$status"
}
trap dump_logs EXIT

bash "$REPO/ci/slurm-up.sh"
# again: a second bring-up (what a rerun after a killed test meets) must take the first one over
bash "$REPO/ci/slurm-up.sh" >/dev/null
START=$(date +%Y-%m-%dT%H:%M:%S)

# targets come first: --configfile takes every argument after it.
# The inputs of the target are made locally in both folders (the demo's file:// URLs name the folder,
# so a copied folder would see changed parameters and redo the data stages).
# one job per method, as the paper config cuts its work for a cluster (the demo runs one per category)
DEMO=(--configfile "$REPO/demo/config.yaml" --config one_job_per_category=False)
UPSTREAM=(demo_output/data/interim/Video_Games/rec_items.parquet demo_output/data/interim/Video_Games/cq_items.parquet)
# embed_items -> complete_text_borrowed (retrieval) -> score_text (asks for the GPU): three DAG levels
TARGET=demo_output/results/scores/i2t/Video_Games/retrieval.parquet
mkdir -p "$LOCAL" "$CLUSTER"
for folder in "$LOCAL" "$CLUSTER"; do
    "${SNAKEMAKE[@]}" "${UPSTREAM[@]}" --directory "$folder" --cores 2 "${DEMO[@]}" >"$folder.prepare.log" 2>&1 ||
        { tail -n 50 "$folder.prepare.log" >&2; exit 1; }
done

echo "test-slurm: running $TARGET through SLURM"
timeout 900 "${SNAKEMAKE[@]}" "$TARGET" --directory "$CLUSTER" --profile "$REPO/profiles/slurm-ci" "${DEMO[@]}"
echo "test-slurm: running $TARGET locally"
"${SNAKEMAKE[@]}" "$TARGET" --directory "$LOCAL" --cores 2 "${DEMO[@]}"

# (1) two SLURM jobs: embed_items alone, and one group job (the profile's group "cq") that ran
# complete_text_borrowed and score_text one after another in one allocation
ls "$CLUSTER/.snakemake/slurm_logs/rule_embed_items/"*/*.log >/dev/null 2>&1 ||
    { echo "test-slurm: no SLURM log of rule embed_items: it was not submitted" >&2; exit 1; }
find "$CLUSTER/.snakemake/slurm_logs" -path '*group_*' -name '*.log' | grep -q . ||
    { echo "test-slurm: no SLURM log of the group job cq: it was not submitted as a group" >&2; exit 1; }
sleep 2  # slurmdbd may lag a second behind
jobs=$(sacct -X --parsable2 --noheader --starttime "$START" --format=JobID,State,AllocTRES)
echo "$jobs"
completed=$(grep -c '|COMPLETED|' <<<"$jobs" || true)
if ((completed != 2)); then echo "test-slurm: $completed completed SLURM jobs, expected 2 (one a group)" >&2; exit 1; fi
if grep -v '|COMPLETED|' <<<"$jobs" | grep -q .; then echo "test-slurm: a SLURM job did not complete" >&2; exit 1; fi
# (2) the group's allocation ran both jobs (their cost records carry its SLURM job id) and was given the
# GPU; the cost ledger joins sacct on that id
"$PYTHON" - "$CLUSTER/demo_output/logs" "$jobs" <<'PY'
import sys

from mmpcbench.cost import read_costs
from mmpcbench.report.cost import ledger, parse_sacct, read_sacct

logs, jobs = sys.argv[1], sys.argv[2]
records = {r["rule"]: r for r in read_costs(logs)}
group = {records[rule]["slurm_job_id"] for rule in ("complete_text_borrowed", "score_text")}
assert len(group) == 1 and None not in group, f"not one allocation: {group}"
allocation = group.pop()
assert records["embed_items"]["slurm_job_id"] not in (None, allocation), records["embed_items"]
sacct = parse_sacct(jobs)
assert sacct[allocation]["gpus"] == 1, f"the group job's AllocTRES has no GPU: {sacct[allocation]}"
table = ledger(list(records.values()), read_sacct([r["slurm_job_id"] for r in records.values() if r["slurm_job_id"]]))
total = table.row(-1, named=True)
assert total["allocations"] == 2 and total["slurm_elapsed_s"] > 0 and total["slurm_gpu_s"] > 0, total
print(f"test-slurm: allocation {allocation} ran complete_text_borrowed and score_text with "
      f"{sacct[allocation]['alloc_tres']}; ledger: {total['slurm_elapsed_s']:.0f} s in {total['allocations']} allocations")
PY

# (3) the same outputs as the local run: identical tables, floats within 1e-6 (BERTScore's float32
# kernels may round differently in a job bound to one CPU: we saw differences of 3e-8)
"$PYTHON" - "$LOCAL" "$CLUSTER" demo_output/results/embeddings/Video_Games/image.parquet \
    demo_output/results/completions/i2t/Video_Games/retrieval.parquet "$TARGET" <<'PY'
import sys
import polars as pl
from polars.testing import assert_frame_equal

local, cluster, *paths = sys.argv[1:]
for path in paths:
    a, b = pl.read_parquet(f"{local}/{path}"), pl.read_parquet(f"{cluster}/{path}")
    assert_frame_equal(a, b, check_exact=False, rel_tol=0, abs_tol=1e-6)
    floats = [c for c in a.columns if a[c].dtype in (pl.Float32, pl.Float64)]
    worst = max([float((a[c] - b[c]).abs().max() or 0) for c in floats], default=0.0)
    print(f"test-slurm: {path}: equal ({a.height} rows; largest float difference {worst:.1e})")
PY
echo "test-slurm: OK — $completed SLURM jobs completed (a group job of two with the GPU), outputs equal to the local run"
