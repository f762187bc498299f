"""Rule grpo_report: Tables 7, 8, A.9 and Figure A.5 (GRPO before and after, reward curves)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.report.grpo import write_grpo_report
from mmpcbench.stage import start_stage

start_stage(snakemake)
write_grpo_report(
    pairs_spec=snakemake.params.pairs,
    outputs=dict(snakemake.output.items()),
    bootstrap=snakemake.params.bootstrap,
    records=snakemake.params.records,
    reward_logs=snakemake.params.reward_logs,
    reward=snakemake.params.reward,
)
