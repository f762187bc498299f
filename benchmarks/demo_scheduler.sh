#!/usr/bin/env bash
# A fresh demo DAG in <dir> with Snakemake's <scheduler> (ilp | greedy): its wall time and the CPU time of
# the snakemake process itself (its scheduler and bookkeeping, not the jobs), read from /proc.
# usage: benchmarks/demo_scheduler.sh <dir> <scheduler>   (from the repository root, after make install)
set -u
dir=$1; sched=$2
rm -rf "$dir"; mkdir -p "$dir"
cd "$(dirname "$0")/.."
start=$(date +%s.%N)
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python -m snakemake -s Snakefile --directory "$dir" all --cores 2 \
  --scheduler "$sched" --configfile demo/config.yaml > "$dir.log" 2>&1 &
pid=$!
cpu=0
while kill -0 $pid 2>/dev/null; do
  t=$(awk '{print $14+$15}' /proc/$pid/stat 2>/dev/null) && [ -n "$t" ] && cpu=$t
  sleep 2
done
wait $pid; rc=$?
end=$(date +%s.%N)
hz=$(getconf CLK_TCK)
awk -v s="$sched" -v rc=$rc -v a="$start" -v b="$end" -v c="$cpu" -v hz="$hz" -v jobs="$(grep -c 'Finished job' "$dir.log")" \
  'BEGIN { printf "%s rc=%d wall_s=%.1f snakemake_cpu_s=%.1f jobs=%d\n", s, rc, b - a, c / hz, jobs }'
