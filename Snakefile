# MMPCBench: missing-modality product completion benchmark, as a Snakemake workflow.
#   snakemake all --cores 2                              the paper run (config.yaml)
#   snakemake all --cores 2 --configfile demo/config.yaml  the embedded demo (what `make demo` runs)
#   snakemake --profile slurm all                        on a SLURM cluster
import os

from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/demo.smk"
include: "rules/data.smk"
include: "rules/complete.smk"
include: "rules/score.smk"
include: "rules/features.smk"
include: "rules/recommend.smk"
include: "rules/grpo.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
        rules.cost_ledger.output,


include: "rules/targets.smk"
