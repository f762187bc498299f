"""Rule fetch_images: download and verify the cover of every candidate item."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.data.fetch import fetch_settings
from mmpcbench.data.pipeline import fetch_category_images
from mmpcbench.stage import start_stage

start_stage(snakemake)
settings = snakemake.params.settings
fetch_category_images(
    candidates_path=snakemake.input.candidates,
    folder=snakemake.params.folder,
    root=snakemake.params.root,
    manifest_out=snakemake.output.manifest,
    failures_out=snakemake.output.failures,
    fetch=fetch_settings(settings),
)
