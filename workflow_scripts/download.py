"""Rule download: fetch one raw file (reviews or meta) with resume and retries; write its manifest."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.data.fetch import download
from mmpcbench.stage import start_stage

start_stage(snakemake)
settings = snakemake.params.settings
download(
    url=snakemake.params.url,
    destination=snakemake.output.raw,
    manifest=snakemake.output.manifest,
    retries=settings.get("retries", 5),
    backoff=settings.get("backoff_seconds", 2.0),
    timeout=settings.get("timeout_seconds", 120),
)
