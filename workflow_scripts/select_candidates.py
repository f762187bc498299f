"""Rule select_candidates: step 1 of the configured selection (kcore or authors_code)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.data.pipeline import select_candidates
from mmpcbench.logs import setup_logging

setup_logging(snakemake.log[0])
select_candidates(
    snakemake.input.interactions,
    snakemake.input.catalogue,
    snakemake.params.selection,
    snakemake.params.url_field,
    snakemake.output.candidates,
    snakemake.output.interactions,
    snakemake.output.report,
)
