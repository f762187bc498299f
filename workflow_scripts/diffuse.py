"""Rule diffuse: paint the T→I prompts of one model (or, one job per category, of every model) for one
category with the configured SD3 pipeline."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.diffusion.paint import diffuse_completions
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
diffuse_completions(
    units=snakemake.params.units,
    settings=snakemake.params.settings,
    out_root=snakemake.params.results_root,
    manifest_paths=list(snakemake.output.manifests),
)
