"""Rule score_image: one method's T→I images of one category against the real covers (FID included)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.metrics.pipeline import score_image_file
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
score_image_file(
    cq_items_path=snakemake.input.cq_items,
    manifest_path=snakemake.input.manifest,
    data_root=snakemake.params.data_root,
    results_root=snakemake.params.results_root,
    out_path=snakemake.output.scores,
    summary_path=snakemake.output.summary,
    options=dict(snakemake.params.options),
    missing_policy=snakemake.params.missing_policy,
    labels={"category": snakemake.wildcards.category, "method": snakemake.wildcards.method},
)
