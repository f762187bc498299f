"""Rule complete_image_control: T→I by a control method (ground_truth, shuffled, empty)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.completion.pipeline import complete_images_by_control
from mmpcbench.logs import setup_logging

setup_logging(snakemake.log[0])
complete_images_by_control(
    snakemake.input.rec_items,
    snakemake.wildcards.control,
    snakemake.params.seed,
    snakemake.params.data_root,
    snakemake.params.folder,
    snakemake.params.results_root,
    snakemake.output.manifest,
)
