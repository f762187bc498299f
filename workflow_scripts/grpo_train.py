"""Rule grpo_train: LoRA adapters of the base MLLM for one task at one learning rate, trained with TRL's GRPOTrainer."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.grpo.pipeline import train_task
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
train_task(
    task=snakemake.wildcards.task,
    entry=snakemake.params.entry,
    request=snakemake.params.request,
    grpo=snakemake.params.grpo,
    reward_models=snakemake.params.reward_models,
    pool_paths=snakemake.input.pools,
    data_root=snakemake.params.data_root,
    out_dir=Path(snakemake.output.record).parent.parent,
    learning_rate=snakemake.params.learning_rate,
)
