"""Rule table1: dataset statistics per category (the paper's Table 1), as CSV and Markdown."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.data.stats import dataset_statistics
from mmpcbench.io import provenance, sha256_file, write_json
from mmpcbench.report.tables import write_table
from mmpcbench.stage import start_stage

start_stage(snakemake)
table = dataset_statistics(
    categories=snakemake.params.categories,
    splits=snakemake.input.splits,
    rec_sets=snakemake.input.rec_sets,
    cq=snakemake.input.cq,
    grpo=snakemake.input.grpo,
)
write_table(table, snakemake.output, title="Table 1: dataset statistics", label="tab:datasets", csv_float_precision=None)
write_json(
    snakemake.output.provenance,
    provenance(config=snakemake.config, inputs={path: sha256_file(path) for path in snakemake.input}),
)
