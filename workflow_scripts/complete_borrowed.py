"""Rules complete_text_borrowed / complete_image_borrowed: I→T or T→I by a borrowing method (a control
or a baseline of mmpcbench.completion.methods)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.completion.pipeline import complete_by_borrowing
from mmpcbench.stage import start_stage

start_stage(snakemake)
params = snakemake.params
complete_by_borrowing(
    task=params.task,
    method=snakemake.wildcards.borrowed,
    rec_items_path=snakemake.input.rec_items,
    out_path=snakemake.output[0],
    seed=params.seed,
    inputs={name: path for name, path in snakemake.input.items() if name != "rec_items"},
    data_root=params.get("data_root"),
    image_folder=params.get("folder"),
    results_root=params.get("results_root"),
)
