"""Rule build_tiny_model: a tiny random-weight MLLM for the demo (see mmpcbench.demo.tiny_models)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.demo.tiny_models import TINY_BUILDERS
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
TINY_BUILDERS[snakemake.params.family](snakemake.output[0])
