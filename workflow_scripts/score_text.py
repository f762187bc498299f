"""Rule score_text: one method's I→T completions of one category against the real texts."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.metrics.pipeline import score_text_file
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
score_text_file(
    cq_items_path=snakemake.input.cq_items,
    completions_path=snakemake.input.completions,
    out_path=snakemake.output.scores,
    summary_path=snakemake.output.summary,
    options=dict(snakemake.params.options),
    missing_policy=snakemake.params.missing_policy,
    labels={"category": snakemake.wildcards.category, "method": snakemake.wildcards.method},
)
