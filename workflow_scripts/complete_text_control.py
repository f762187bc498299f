"""Rule complete_text_control: I→T by a control method (ground_truth, shuffled, empty)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.completion.pipeline import complete_text_by_control
from mmpcbench.logs import setup_logging

setup_logging(snakemake.log[0])
complete_text_by_control(
    snakemake.input.rec_items, snakemake.wildcards.control, snakemake.params.seed, snakemake.output[0]
)
