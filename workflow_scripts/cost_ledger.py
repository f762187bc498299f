"""Rule cost_ledger: what every job of the run cost, per stage × model × category (joined with sacct
where the jobs ran under SLURM)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.cost import read_costs
from mmpcbench.report.cost import read_sacct, write_ledger
from mmpcbench.stage import start_stage

start_stage(snakemake)
records = [r for r in read_costs(snakemake.params.logs_dir) if r["rule"] != snakemake.rule]
write_ledger(records, snakemake.output, sacct=read_sacct([r["slurm_job_id"] for r in records if r.get("slurm_job_id")]))
