"""Rule train_recommender: every recommender × missing rate × seed on one category × variant (or on each
variant of a category, one_job_per_category: torch imported once)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.recsys.pipeline import RecPlan, train_variant
from mmpcbench.stage import each, start_stage

start_stage(snakemake, threads=True)
params = snakemake.params
for unit, features, result in zip(params.variants, each(snakemake.input.features), list(snakemake.output), strict=True):
    train_variant(
        inter_path=snakemake.input.inter,
        item_map_path=snakemake.input.item_map,
        features_dir=features,
        out_path=result,
        plan=RecPlan(rates=unit["rates"], recommenders=dict(params.recommenders), settings=dict(params.settings),
                     seeds=params.seeds, device=params.device, select_on=params.select_on),
    )
