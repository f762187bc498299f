"""Rule embed_completion: the features of one completion method's output (borrowed rows reuse the truth)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.cost import start_job
from mmpcbench.features.pipeline import embed_completion
from mmpcbench.logs import limit_threads, setup_logging

setup_logging(snakemake.log[0])
start_job(snakemake.log[0], snakemake.rule, snakemake.wildcards, snakemake.resources, snakemake.threads)
limit_threads(snakemake.threads)
embed_completion(
    task=snakemake.wildcards.task,
    completion_path=snakemake.input.completion,
    truth_path=snakemake.input.truth,
    spec=snakemake.params.spec,
    results_root=snakemake.params.results_root,
    out_path=snakemake.output[0],
)
