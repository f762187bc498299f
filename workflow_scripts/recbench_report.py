"""Rule recbench_report: Table 6, Tables A.12–A.17, Figure 4 and the missing-rate figure."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.report.recbench import write_recbench
from mmpcbench.stage import start_stage

start_stage(snakemake)
results = [(run["category"], run["variant"], run["path"]) for run in snakemake.params.runs]
write_recbench(
    results=results,
    outputs=dict(snakemake.output.items()),
    rate=snakemake.params.rate,
    methods=snakemake.params.methods,
    kinds=snakemake.params.kinds,
    categories=snakemake.params.categories,
    recommenders=snakemake.params.recommenders,
    tasks=snakemake.params.tasks,
    n_seeds=snakemake.params.n_seeds,
)
