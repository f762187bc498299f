"""Rules sample_cq and sample_grpo: a seeded sample of the rec items (GRPO excludes the CQ sample)."""
from mmpcbench.data.pipeline import sample_category_items
from mmpcbench.logs import setup_logging

setup_logging(snakemake.log[0])
sample_category_items(
    snakemake.input.rec_items,
    snakemake.output[0],
    n=snakemake.params.n,
    seed=snakemake.params.seed,
    exclude_path=snakemake.input.get("exclude"),
)
