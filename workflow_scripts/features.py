"""Rule features: one variant's MMRec feature files for every missing rate, and its manifest (or each
variant's of a category, one_job_per_category)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.features.pipeline import FeaturePlan, write_features
from mmpcbench.stage import each, start_stage

start_stage(snakemake)
params = snakemake.params
completions = iter(each(snakemake.input.completions))  # the method variants' features, in variant order
for unit, folder in zip(params.variants, list(snakemake.output), strict=True):
    out = Path(folder)
    write_features(
        variant=unit["variant"],
        item_map_path=snakemake.input.item_map,
        text_path=snakemake.input.get("text"),
        image_path=snakemake.input.get("image"),
        completion_path=next(completions) if unit["completion"] else None,
        out_dir=out,
        manifest_path=out / "features.json",
        plan=FeaturePlan(rates=unit["rates"], seed=params.seed, missing_completion=params.missing_completion,
                         image_normalise=params.image_normalise, modalities=params.modalities,
                         imputation_settings=dict(unit["imputation_settings"])),
        inter_path=snakemake.input.inter if unit["inter"] else None,
    )
