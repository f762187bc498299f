"""Rule completion_status_table: parse outcomes of every MLLM answer, per model × category × task."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.completion.summary import parse_status_table
from mmpcbench.report.tables import write_table
from mmpcbench.stage import start_stage

start_stage(snakemake)
table = parse_status_table([(*run, path) for run, path in zip(snakemake.params.runs, snakemake.input)])
write_table(table, snakemake.output, title="Parse outcomes of the MLLM answers", label="tab:parse-status",
            csv_float_precision=None)
