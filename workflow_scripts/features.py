"""Rule features: one variant's MMRec feature files for every missing rate, and its manifest."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.features.pipeline import write_features
from mmpcbench.logs import setup_logging

setup_logging(snakemake.log[0])
out = Path(snakemake.output[0])
write_features(
    snakemake.wildcards.variant,
    snakemake.input.item_map,
    snakemake.input.text,
    snakemake.input.image,
    snakemake.input.get("completion"),
    snakemake.params.rates,
    snakemake.params.seed,
    snakemake.params.missing_completion,
    out,
    out / "features.json",
)
