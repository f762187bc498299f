"""Rule train_recommender: every recommender × missing rate × seed on one category × variant."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.logs import limit_threads, setup_logging
from mmpcbench.recsys.pipeline import train_variant

setup_logging(snakemake.log[0])
limit_threads(snakemake.threads)
train_variant(
    snakemake.input.inter,
    snakemake.input.item_map,
    snakemake.input.features,
    snakemake.params.rates,
    snakemake.params.recommenders,
    snakemake.params.settings,
    snakemake.params.seeds,
    snakemake.output[0],
    device=snakemake.params.device,
)
