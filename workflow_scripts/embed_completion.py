"""Rule embed_completion: the features of one completion method's output, borrowed rows reusing the truth
(or of each method's of a category and task, one_job_per_category: the encoder loaded once)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.features.pipeline import embed_completion
from mmpcbench.stage import each, start_stage

start_stage(snakemake, threads=True)
files = zip(snakemake.params.methods, each(snakemake.input.completions), each(snakemake.output.embeddings),
            strict=True)
for _method, completion, out_path in files:
    embed_completion(
        task=snakemake.wildcards.task,
        completion_path=completion,
        truth_path=snakemake.input.truth,
        spec=snakemake.params.spec,
        results_root=snakemake.params.results_root,
        out_path=out_path,
    )
