"""What every workflow script does first, in one call (``start_stage(snakemake)``)."""

from __future__ import annotations

import logging

from mmpcbench.cost import start_job
from mmpcbench.families import load_extensions
from mmpcbench.logs import limit_threads, setup_logging


def start_stage(job, threads: bool = False) -> None:
    """For the Snakemake job object ``job`` (a script's ``snakemake``): log to the rule's log file (its
    earlier failed attempts kept, an uncaught error's traceback logged: :mod:`mmpcbench.logs`), say what
    the job writes, start the job's cost record, import the config's ``extensions`` (their family
    members), and with ``threads`` limit torch to the job's threads (``logs.limit_threads``)."""
    wildcards = ", ".join(f"{key}={value}" for key, value in job.wildcards.items())
    name = f"rule {job.rule}" + (f" ({wildcards})" if wildcards else "")
    setup_logging(job.log[0], job=name)
    logging.getLogger("mmpcbench").info("%s writes %s", name, ", ".join(map(str, job.output)))
    start_job(job.log[0], job.rule, job.wildcards, job.resources, job.threads)
    load_extensions(job.config.get("extensions"))
    if threads:
        limit_threads(job.threads)


def each(files) -> list[str]:
    """A job's named input or output as a list: one file (a job per method or variant) or several (a job
    per category, ``one_job_per_category``), in the order of the job's units."""
    return [files] if isinstance(files, str) else list(files)
