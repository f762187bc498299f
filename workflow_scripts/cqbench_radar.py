"""Rule cqbench_radar: Figure 3, one radar chart per task from the by-method tables."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.report.cqbench import write_radar
from mmpcbench.stage import start_stage

start_stage(snakemake)
write_radar(
    by_method_csv=snakemake.input.i2t,
    task="i2t",
    methods=snakemake.params.methods,
    out_png=snakemake.output.i2t,
)
write_radar(
    by_method_csv=snakemake.input.t2i,
    task="t2i",
    methods=snakemake.params.methods,
    out_png=snakemake.output.t2i,
)
