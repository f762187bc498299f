"""Rule features: one variant's MMRec feature files for every missing rate, and its manifest."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.features.pipeline import FeaturePlan, write_features
from mmpcbench.stage import start_stage

start_stage(snakemake)
out = Path(snakemake.output[0])
write_features(
    variant=snakemake.wildcards.variant,
    item_map_path=snakemake.input.item_map,
    text_path=snakemake.input.get("text"),
    image_path=snakemake.input.get("image"),
    completion_path=snakemake.input.get("completion"),
    out_dir=out,
    manifest_path=out / "features.json",
    plan=FeaturePlan(rates=snakemake.params.rates, seed=snakemake.params.seed,
                     missing_completion=snakemake.params.missing_completion,
                     image_normalise=snakemake.params.image_normalise, modalities=snakemake.params.modalities,
                     imputation_settings=dict(snakemake.params.imputation_settings)),
    inter_path=snakemake.input.get("inter"),
)
