"""Rule build_tiny_model: a tiny random-weight MLLM for the demo (see mmpcbench.demo.tiny_models)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.cost import start_job
from mmpcbench.demo.tiny_models import TINY_BUILDERS
from mmpcbench.logs import limit_threads, setup_logging

setup_logging(snakemake.log[0])
start_job(snakemake.log[0], snakemake.rule, snakemake.wildcards, snakemake.resources, snakemake.threads)
limit_threads(snakemake.threads)
TINY_BUILDERS[snakemake.params.family](snakemake.output[0])
