"""Rule build_tiny_model: a tiny random-weight model for the demo (see mmpcbench.demo.tiny_models), and
for a registry entry with ``teach``, that model taught (see mmpcbench.demo.teaching)."""
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.demo.teaching import TeachSettings, teach
from mmpcbench.demo.tiny_models import TINY_BUILDERS
from mmpcbench.stage import start_stage

start_stage(snakemake, threads=True)
out = Path(snakemake.output[0])
settings = getattr(snakemake.params, "teach", None)
if not settings:
    TINY_BUILDERS[snakemake.params.family](out)
else:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.random-", dir=out.parent) as scratch:
        random = TINY_BUILDERS[snakemake.params.family](Path(scratch) / "random")
        teach(random, out, snakemake.params.family, list(snakemake.params.categories), snakemake.params.prompts,
              snakemake.params.answer_keys, TeachSettings.from_config(settings))
