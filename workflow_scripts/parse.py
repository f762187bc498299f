"""Rule parse: raw jsonl.gz -> interactions.parquet, items.parquet and a report of skipped lines."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.data.parse import parse_category
from mmpcbench.stage import start_stage

start_stage(snakemake)
settings = snakemake.params.settings
parse_category(
    reviews_path=snakemake.input.reviews,
    meta_path=snakemake.input.meta,
    interactions_out=snakemake.output.interactions,
    items_out=snakemake.output.catalogue,
    report_out=snakemake.output.report,
    block_bytes=settings.get("block_mb", 32) << 20,
    max_listed=settings.get("max_listed", 1000),
)
