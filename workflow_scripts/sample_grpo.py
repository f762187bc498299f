"""Rule sample_grpo: the GRPO training pool, outside the rec item set, with its covers fetched."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.data.fetch import fetch_settings
from mmpcbench.data.pipeline import sample_grpo_pool
from mmpcbench.stage import start_stage

start_stage(snakemake)
settings = snakemake.params.settings
sample_grpo_pool(
    catalogue_path=snakemake.input.catalogue,
    rec_items_path=snakemake.input.rec_items,
    text_field=snakemake.params.selection["text_field"],
    url_field=settings["url_field"],
    n=snakemake.params.n,
    seed=snakemake.params.seed,
    folder=snakemake.params.folder,
    root=snakemake.params.root,
    out_path=snakemake.output.pool,
    failures_out=snakemake.output.failures,
    fetch=fetch_settings(settings),
)
