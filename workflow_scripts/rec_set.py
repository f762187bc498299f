"""Rule rec_set: step 2 of the selection, after the images: the final recommendation set."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.data.pipeline import build_rec_set
from mmpcbench.logs import setup_logging

setup_logging(snakemake.log[0])
build_rec_set(
    snakemake.params.selection,
    snakemake.input.interactions,
    snakemake.input.selection_interactions,
    snakemake.input.candidates,
    snakemake.input.images,
    snakemake.output.interactions,
    snakemake.output.rec_items,
    snakemake.output.report,
)
