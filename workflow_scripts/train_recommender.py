"""Rule train_recommender: every recommender × missing rate × seed on one category × variant."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.recsys.pipeline import train_variant
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
train_variant(
    inter_path=snakemake.input.inter,
    item_map_path=snakemake.input.item_map,
    features_dir=snakemake.input.features,
    rates=snakemake.params.rates,
    recommenders=snakemake.params.recommenders,
    settings=snakemake.params.settings,
    seeds=snakemake.params.seeds,
    out_path=snakemake.output[0],
    device=snakemake.params.device,
    select_on=snakemake.params.select_on,
)
