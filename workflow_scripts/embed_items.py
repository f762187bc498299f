"""Rule embed_items: embed the text or the cover of every rec item with the configured encoder."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.completion.pipeline import embed_items
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
embed_items(
    rec_items_path=snakemake.input.rec_items,
    modality=snakemake.wildcards.modality,
    spec=snakemake.params.spec,
    data_root=snakemake.params.data_root,
    out_path=snakemake.output[0],
)
