"""Rule complete_text_borrowed: I→T by a borrowing method (a control or a baseline of mmpcbench.completion.methods)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.completion.pipeline import complete_by_borrowing
from mmpcbench.logs import setup_logging

setup_logging(snakemake.log[0])
complete_by_borrowing(
    task="i2t",
    method=snakemake.wildcards.borrowed,
    rec_items_path=snakemake.input.rec_items,
    out_path=snakemake.output[0],
    seed=snakemake.params.seed,
    inputs={name: path for name, path in snakemake.input.items() if name != "rec_items"},
)
