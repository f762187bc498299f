"""Rule score_text: one method's I→T completions of one category against the real texts."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.logs import limit_threads, setup_logging
from mmpcbench.metrics.pipeline import score_text_file

setup_logging(snakemake.log[0])
limit_threads(snakemake.threads)
score_text_file(
    snakemake.input.cq_items,
    snakemake.input.completions,
    snakemake.output.scores,
    snakemake.output.summary,
    dict(snakemake.params.options),
    snakemake.params.missing_policy,
    labels={"category": snakemake.wildcards.category, "method": snakemake.wildcards.method},
)
