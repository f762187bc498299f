"""Rule embed_items: embed the text or the cover of every rec item with the configured encoder."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.completion.pipeline import embed_items
from mmpcbench.cost import start_job
from mmpcbench.logs import limit_threads, setup_logging

setup_logging(snakemake.log[0])
start_job(snakemake.log[0], snakemake.rule, snakemake.wildcards, snakemake.resources, snakemake.threads)
limit_threads(snakemake.threads)
embed_items(
    rec_items_path=snakemake.input.rec_items,
    modality=snakemake.wildcards.modality,
    spec=snakemake.params.spec,
    data_root=snakemake.params.data_root,
    out_path=snakemake.output[0],
)
