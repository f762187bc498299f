"""Rule select_candidates: step 1 of the configured selection (kcore or authors_code)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.data.pipeline import select_candidates
from mmpcbench.stage import start_stage

start_stage(snakemake)
select_candidates(
    interactions_path=snakemake.input.interactions,
    items_path=snakemake.input.catalogue,
    selection=snakemake.params.selection,
    url_field=snakemake.params.url_field,
    candidates_out=snakemake.output.candidates,
    interactions_out=snakemake.output.interactions,
    report_out=snakemake.output.report,
)
