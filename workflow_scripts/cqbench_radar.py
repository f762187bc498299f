"""Rule cqbench_radar: Figure 3, one radar chart per task from the per method × category tables."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.report.cqbench import write_radar
from mmpcbench.stage import start_stage

start_stage(snakemake)
for task in ("i2t", "t2i"):
    write_radar(full_csv=snakemake.input[task], task=task, models=snakemake.params.models,
                out_png=snakemake.output[task], others=snakemake.params.others, out_csv=snakemake.output[f"{task}_data"])
