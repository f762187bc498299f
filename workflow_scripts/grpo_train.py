"""Rule grpo_train: LoRA adapters of the base MLLM for one task, trained with TRL's GRPOTrainer."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.cost import start_job
from mmpcbench.grpo.pipeline import train_task
from mmpcbench.logs import limit_threads, setup_logging

setup_logging(snakemake.log[0])
start_job(snakemake.log[0], snakemake.rule, snakemake.wildcards, snakemake.resources, snakemake.threads)
limit_threads(snakemake.threads)
train_task(
    task=snakemake.wildcards.task,
    entry=snakemake.params.entry,
    request=snakemake.params.request,
    grpo=snakemake.params.grpo,
    reward_models=snakemake.params.reward_models,
    pool_paths=snakemake.input.pools,
    data_root=snakemake.params.data_root,
    out_dir=Path(snakemake.output.record).parent,
)
