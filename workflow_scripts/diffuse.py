"""Rule diffuse: paint one model's T→I prompts for one category with the configured SD3 pipeline."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.diffusion.paint import diffuse_completions
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
diffuse_completions(
    completions_path=snakemake.input.completions,
    settings=snakemake.params.settings,
    out_dir=snakemake.params.folder,
    out_root=snakemake.params.results_root,
    manifest_path=snakemake.output.manifest,
)
