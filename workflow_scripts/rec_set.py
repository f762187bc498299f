"""Rule rec_set: step 2 of the selection, after the images: the final recommendation set."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.data.pipeline import build_rec_set
from mmpcbench.stage import start_stage

start_stage(snakemake)
build_rec_set(
    selection=snakemake.params.selection,
    interactions_path=snakemake.input.interactions,
    selection_interactions_path=snakemake.input.selection_interactions,
    candidates_path=snakemake.input.candidates,
    images_path=snakemake.input.images,
    interactions_out=snakemake.output.interactions,
    items_out=snakemake.output.rec_items,
    report_out=snakemake.output.report,
)
