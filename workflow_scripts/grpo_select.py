"""Rule grpo_select: of one task's GRPO runs (one job per learning rate), keep the best on the held-out tenth."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.grpo.train import choose_grpo_run
from mmpcbench.stage import start_stage

start_stage(snakemake)
choose_grpo_run(Path(snakemake.output.record).parent, snakemake.params.learning_rates)
