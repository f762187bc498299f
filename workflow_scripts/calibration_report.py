"""Rule calibration_report: each benchmark against the graded corruptions (table, placements, figure)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # the mmpcbench library, also inside --sdm conda envs
from mmpcbench.report.calibration import write_calibration
from mmpcbench.stage import start_stage

start_stage(snakemake)
out = snakemake.output
write_calibration(
    cq_by_method=list(snakemake.input.cq_by_method),
    rec_summary=snakemake.input.rec_summary[0] if snakemake.input.rec_summary else None,
    kinds=dict(snakemake.params.kinds),
    outputs={"table": {"csv": out.table_csv, "md": out.table_md, "tex": out.table_tex}, "placement": out.placement,
             "figure": out.figure},
)
