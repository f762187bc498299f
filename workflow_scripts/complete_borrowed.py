"""Rules complete_text_borrowed / complete_image_borrowed: I→T or T→I by a borrowing method (a control
or a baseline of mmpcbench.completion.methods), or by each of a category's (one_job_per_category)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.completion.methods import borrowing_method
from mmpcbench.completion.pipeline import complete_by_borrowing
from mmpcbench.stage import start_stage

start_stage(snakemake)
params = snakemake.params
methods = params.methods
folders = params.get("folders") or [None] * len(methods)
for method, out_path, folder in zip(methods, list(snakemake.output), folders, strict=True):
    complete_by_borrowing(
        task=params.task,
        method=method,
        rec_items_path=snakemake.input.rec_items,
        out_path=out_path,
        seed=params.seed,
        inputs={name: snakemake.input[name] for name in borrowing_method(method).inputs},
        data_root=params.get("data_root"),
        image_folder=folder,
        results_root=params.get("results_root"),
    )
