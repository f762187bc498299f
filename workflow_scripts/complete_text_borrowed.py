"""Rule complete_text_borrowed: I→T by a borrowing method (a control, or the retrieval baseline)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.completion.pipeline import complete_by_borrowing
from mmpcbench.logs import setup_logging

setup_logging(snakemake.log[0])
complete_by_borrowing(
    "i2t",
    snakemake.wildcards.borrowed,
    snakemake.input.rec_items,
    snakemake.output[0],
    seed=snakemake.params.seed,
    embeddings_path=snakemake.input.get("embeddings"),
    cq_path=snakemake.input.get("cq_items"),
)
