"""Rule diffuse: paint one model's T→I prompts for one category with the configured SD3 pipeline."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.cost import start_job
from mmpcbench.diffusion.paint import diffuse_completions
from mmpcbench.logs import limit_threads, setup_logging

setup_logging(snakemake.log[0])
start_job(snakemake.log[0], snakemake.rule, snakemake.wildcards, snakemake.resources, snakemake.threads)
limit_threads(snakemake.threads)
diffuse_completions(
    completions_path=snakemake.input.completions,
    settings=snakemake.params.settings,
    out_dir=snakemake.params.folder,
    out_root=snakemake.params.results_root,
    manifest_path=snakemake.output.manifest,
)
