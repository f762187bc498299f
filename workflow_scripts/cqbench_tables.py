"""Rule cqbench_tables: Tables 2-5, A.10 and A.11 from every score file."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.report.cqbench import write_cq_tables
from mmpcbench.families import tables_of
from mmpcbench.stage import start_stage

start_stage(snakemake)
outputs = {"summary": snakemake.output.summary}
for name in tables_of("cqbench"):
    outputs[name] = {form: snakemake.output[f"{name}_{form}"] for form in ("csv", "md", "tex")}
write_cq_tables(
    runs=[dict(run) for run in snakemake.params.runs],
    outputs=outputs,
    bootstrap=dict(snakemake.params.bootstrap),
    methods=snakemake.params.methods,
)
