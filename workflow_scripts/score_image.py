"""Rule score_image: one method's T→I images of one category against the real covers, FID included (or
each method's, one_job_per_category: every model loaded once)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.metrics.pipeline import score_image_file
from mmpcbench.stage import each, start_stage

start_stage(snakemake, threads=True)
files = zip(snakemake.params.methods, each(snakemake.input.manifests), each(snakemake.output.scores),
            each(snakemake.output.summary), strict=True)
for method, manifest, scores, summary in files:
    score_image_file(
        cq_items_path=snakemake.input.cq_items,
        manifest_path=manifest,
        data_root=snakemake.params.data_root,
        results_root=snakemake.params.results_root,
        out_path=scores,
        summary_path=summary,
        options=dict(snakemake.params.options),
        missing_policy=snakemake.params.missing_policy,
        labels={"category": snakemake.wildcards.category, "method": method},
    )
