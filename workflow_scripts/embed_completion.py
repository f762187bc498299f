"""Rule embed_completion: the features of one completion method's output (borrowed rows reuse the truth)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.features.pipeline import embed_completion
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
embed_completion(
    task=snakemake.wildcards.task,
    completion_path=snakemake.input.completion,
    truth_path=snakemake.input.truth,
    spec=snakemake.params.spec,
    results_root=snakemake.params.results_root,
    out_path=snakemake.output[0],
)
