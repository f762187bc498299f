"""Rule rec_split: MMRec's per-user split, written as Parquet and as MMRec's .inter + id mappings."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.data.pipeline import split_category
from mmpcbench.stage import start_stage

start_stage(snakemake)
split_category(
    interactions_path=snakemake.input[0],
    split_out=snakemake.output.split,
    inter_out=snakemake.output.inter,
    users_out=snakemake.output.user_map,
    items_out=snakemake.output.item_map,
    report_out=snakemake.output.report,
    order=snakemake.params.order,
    seed=snakemake.params.seed,
)
