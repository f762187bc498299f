"""Rule sample_cq: a seeded sample of the rec items."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.data.pipeline import sample_category_items
from mmpcbench.stage import start_stage

start_stage(snakemake)
sample_category_items(
    items_path=snakemake.input.rec_items,
    out_path=snakemake.output[0],
    n=snakemake.params.n,
    seed=snakemake.params.seed,
    exclude_path=snakemake.input.get("exclude"),
)
