"""Rule demo_catalogue: write the embedded demo's raw catalogue (see mmpcbench.demo)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.demo import CatalogueSize, generate_catalogue
from mmpcbench.stage import start_stage

start_stage(snakemake)
demo = snakemake.params.demo
mirror = Path(snakemake.params.mirror)
size = CatalogueSize(
    **{key: demo[key] for key in ("n_items", "n_users", "mean_reviews_per_user") if key in demo}
)
generate_catalogue(
    out_dir=mirror,
    categories=snakemake.params.categories,
    image_base_url=(mirror / "images").resolve().as_uri(),
    seed=demo["seed"],
    size=size,
)
