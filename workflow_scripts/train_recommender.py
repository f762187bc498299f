"""Rule train_recommender: every recommender × missing rate × seed on one category × variant."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.recsys.pipeline import RecPlan, train_variant
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
train_variant(
    inter_path=snakemake.input.inter,
    item_map_path=snakemake.input.item_map,
    features_dir=snakemake.input.features,
    out_path=snakemake.output[0],
    plan=RecPlan(rates=snakemake.params.rates, recommenders=dict(snakemake.params.recommenders),
                 settings=dict(snakemake.params.settings), seeds=snakemake.params.seeds,
                 device=snakemake.params.device, select_on=snakemake.params.select_on),
)
