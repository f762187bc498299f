"""Rule recbench_report: Table 6, Tables A.12–A.17, Figure 4 and the missing-rate figure."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.cost import start_job
from mmpcbench.logs import setup_logging
from mmpcbench.report.recbench import write_recbench

setup_logging(snakemake.log[0])
start_job(snakemake.log[0], snakemake.rule, snakemake.wildcards, snakemake.resources, snakemake.threads)
results = [(category, variant, path) for (category, variant), path in zip(snakemake.params.runs, snakemake.input)]
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
