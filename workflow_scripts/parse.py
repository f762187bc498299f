"""Rule parse: raw jsonl.gz -> interactions.parquet, items.parquet and a report of skipped lines."""
from mmpcbench.data.parse import parse_category
from mmpcbench.logs import setup_logging

setup_logging(snakemake.log[0])
settings = snakemake.params.settings
parse_category(
    snakemake.input.reviews,
    snakemake.input.meta,
    snakemake.output.interactions,
    snakemake.output.catalogue,
    snakemake.output.report,
    block_bytes=settings.get("block_mb", 32) << 20,
    max_listed=settings.get("max_listed", 1000),
)
