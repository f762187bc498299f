"""Rule score_text: one method's I→T completions of one category against the real texts (or each
method's, one_job_per_category: BERTScore loaded once)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.metrics.pipeline import score_text_file
from mmpcbench.stage import each, start_stage

start_stage(snakemake, threads=True)
files = zip(snakemake.params.methods, each(snakemake.input.completions), each(snakemake.output.scores),
            each(snakemake.output.summary), strict=True)
for method, completions, scores, summary in files:
    score_text_file(
        cq_items_path=snakemake.input.cq_items,
        completions_path=completions,
        out_path=scores,
        summary_path=summary,
        options=dict(snakemake.params.options),
        missing_policy=snakemake.params.missing_policy,
        labels={"category": snakemake.wildcards.category, "method": method},
    )
