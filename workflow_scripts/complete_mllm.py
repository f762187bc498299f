"""Rule complete_mllm: I→T and/or T→I for every rec item of a category with one MLLM of the registry
(one task per job, or both with one job per category)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.completion.pipeline import complete_with_model
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
complete_with_model(
    units=snakemake.params.units,
    rec_items_path=snakemake.input.rec_items,
    data_root=snakemake.params.data_root,
    out_paths=list(snakemake.output),
    server_log=Path(snakemake.log[0]).with_suffix(".server.log"),  # a served entry's server, beside the job's log
)
